"""What an htmx request asks for."""

from __future__ import annotations

from flask import request


def wants_fragment() -> bool:
    """An htmx request (not a history restore, which needs the whole page) gets a fragment
    instead of a whole page."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true"
    )
