"""Cleaning what a user typed before it is validated and stored."""

from __future__ import annotations

from typing import Any


def clean_text(value: Any) -> Any:
    """Trim text and drop NUL characters (PostgreSQL refuses them: that would be a 500);
    anything but a string (``None``, a number) is left as it is. A WTForms filter."""
    return value.replace("\x00", "").strip() if isinstance(value, str) else value
