"""The planner blueprint and what its pages share: rights, the user's "today", reading a
day from the query string. The pages live in ``reminders.py``, ``calendar_view.py``
and ``ical.py``."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint
from flask_babel import to_user_timezone

bp = Blueprint(
    "planner",
    __name__,
    url_prefix="/planner",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

REMINDERS_READ = "planner.reminders.read"
CALENDAR_READ = "planner.calendar.read"
CALENDAR_OTHERS = "planner.calendar.others"
# Days before 1900 or after 2999 are typos; they would also overflow date arithmetic.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def local_today() -> date:
    """Today in the user's time zone: a reminder "for today" is the user's today."""
    return to_user_timezone(datetime.now(UTC)).date()


def parse_day(raw: str | None) -> date | None:
    """``YYYY-MM-DD`` from a form or query string; ``None`` when missing or unreadable."""
    try:
        day = date.fromisoformat((raw or "").strip())
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
