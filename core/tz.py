"""Time zones: the user's zone as a ``zoneinfo`` zone, and UTC normalisation.

Flask-Babel hands out pytz zones, which must not be attached with ``datetime.combine`` or
``replace(tzinfo=…)`` (pytz then uses the zone's first historic offset, LMT: Kyiv would be
+2:02). Code that builds local times (day boundaries, "today", a typed time) uses
:func:`user_timezone` instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import get_timezone


def user_timezone() -> tzinfo:
    """The signed-in user's time zone (UTC outside a request or for an unknown name)."""
    try:
        zone = get_timezone()
        name = getattr(zone, "zone", None) or getattr(zone, "key", None)
        return ZoneInfo(name) if name else UTC
    except (AttributeError, RuntimeError, ZoneInfoNotFoundError, ValueError):
        return UTC


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is UTC already (what SQLite gives back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
