"""The timeline widget: a record's chronology from every enabled addon, grouped by day.

The entries come from the ``timeline_entries`` hook, so a card shows what *all* addons know
about the record (calls from sales, visits from the service journal, ...) without the card's
addon knowing them; each addon returns only what the user may see, and the facade merges
them newest first. Here they are grouped by the user's local day (a call at 23:30 UTC is
"tomorrow" in Kyiv) and given an icon by kind.

``when`` may be naive (read as UTC, how the core stores time) or timezone-aware. An entry's
``url`` is shown as a link only if it is a path on this site or an http(s) address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import render_template
from flask_babel import format_date, format_time, to_user_timezone
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from core.hooktypes import TimelineEntry
from core.web import kernel

DEFAULT_ICON = "dot"
# The last part of a kind (``crm_base.created`` → ``created``) picks the icon, unless the
# exact kind was registered with :func:`register_icon`.
SUFFIX_ICONS = {
    "created": "plus-circle",
    "changed": "pencil-square",
    "updated": "pencil-square",
    "deleted": "trash",
    "attachment": "paperclip",
    "file": "paperclip",
    "note": "sticky",
    "comment": "chat-left-text",
    "call": "telephone",
    "email": "envelope",
    "sms": "chat-dots",
    "meeting": "people",
    "visit": "geo-alt",
    "task": "check2-square",
    "deal": "briefcase",
    "invoice": "receipt",
    "payment": "cash-coin",
    "document": "file-earmark-text",
}
_ICONS: dict[str, str] = {}


def register_icon(kind: str, icon: str) -> None:
    """Show entries of ``kind`` (``sales.contact``) with a bootstrap-icons ``icon``."""
    _ICONS[kind] = icon


def icon_for(kind: str) -> str:
    return _ICONS.get(kind) or SUFFIX_ICONS.get(kind.rsplit(".", 1)[-1], DEFAULT_ICON)


def aware(when: datetime) -> datetime:
    """Naive datetimes are UTC (SQLite hands them back without the zone)."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def safe_url(url: str) -> str:
    """A link target that cannot run script (``javascript:``) or leave as ``//host``."""
    if url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    if url.startswith(("https://", "http://")):
        return url
    return ""


@dataclass(frozen=True)
class Item:
    """One entry ready to show."""

    entry: TimelineEntry
    icon: str
    time: str
    url: str

    @property
    def body_lines(self) -> list[str]:
        return self.entry.body.splitlines()


@dataclass(frozen=True)
class Day:
    """The entries of one local day, newest first."""

    day: date
    label: str
    items: list[Item]


def _day_label(day: date, today: date) -> str:
    if day == today:
        return _("Today")
    if day == today - timedelta(days=1):
        return _("Yesterday")
    return format_date(day, "long")


def group_by_day(entries: Iterable[TimelineEntry]) -> list[Day]:
    """Entries grouped by the user's local day, newest day first, newest entry first."""
    local = sorted(
        ((to_user_timezone(aware(e.when)), e) for e in entries), key=lambda p: p[0], reverse=True
    )
    today = to_user_timezone(datetime.now(UTC)).date()
    days: list[Day] = []
    for when, entry in local:
        if not days or days[-1].day != when.date():
            days.append(Day(when.date(), _day_label(when.date(), today), []))
        item = Item(entry, icon_for(entry.kind), format_time(when, "short"), safe_url(entry.url))
        days[-1].items.append(item)
    return days


def timeline(subject: str, subject_id: int, user: Any = None) -> list[Day]:
    """The chronology of one record as every enabled addon tells it, for ``user``."""
    who = current_user if user is None else user
    return group_by_day(kernel().hooks.timeline_entries(subject, subject_id, who))


def render_timeline(subject: str, subject_id: int, user: Any = None) -> Markup:
    """The widget's HTML (``core/ui/timeline.html``), for a card or an htmx partial."""
    days = timeline(subject, subject_id, user)
    return Markup(render_template("core/ui/timeline.html", days=days))  # noqa: S704 - autoescaped
