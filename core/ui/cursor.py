"""Keyset cursors as JSON: the sort-key values a "next page" link carries.

The list view and the kanban's lazy columns both sign such cursors (itsdangerous); this
module only turns the values into JSON and back, dates and decimals included.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_DECODERS: dict[str, Callable[[str], Any]] = {
    "dt": datetime.fromisoformat,
    "d": date.fromisoformat,
    "n": Decimal,
}


def encode_key(value: Any) -> Any:
    """A sort-key value as JSON."""
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def decode_key(raw: Any) -> Any:
    """The value :func:`encode_key` encoded; ``ValueError`` for anything else."""
    if isinstance(raw, dict) and len(raw) == 1:
        ((kind, text),) = raw.items()
        if kind not in _DECODERS:
            raise ValueError("not a cursor value")
        return _DECODERS[kind](text)
    if raw is None or isinstance(raw, bool | int | float | str):
        return raw
    raise ValueError("not a cursor value")
