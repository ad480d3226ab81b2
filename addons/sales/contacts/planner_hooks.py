"""The planner's view of contacts: the user's due contacts as reminders, contacts as
calendar events, and what the planner saves back (a snooze, "done", a drag)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from addons.crm_base.models import Counterparty
from addons.sales.contacts.common import (
    DEFAULT_DURATION,
    KIND,
    MAX_DURATION,
    READ,
    TITLED,
    UPDATE,
    YEARS,
    card_path,
    clock,
    id_from_key,
    key_of,
    local_moment,
    local_today,
    sane_year,
    titles,
)
from addons.sales.models import CONTACT, Contact
from addons.sales.views import scoped
from core.db import utcnow
from core.hooktypes import CalendarEvent, Reminder
from core.security import has_permission
from core.tz import as_utc, user_timezone
from core.ui.formview import MAX_ID, commit_unless_changed
from core.web import db_session


def reminders(user: Any, day: date) -> list[Reminder]:
    """The user's own planned contacts due by the end of ``day`` (overdue ones included),
    soonest first: one query on (responsible, status, planned_at) with the names joined."""
    if not has_permission(READ, user):
        return []
    tz = user_timezone()
    last = min(day, date(YEARS[1], 12, 31))  # a far day (?day=9999-12-31) must not overflow
    rows = db_session().execute(
        select(*TITLED, Counterparty.name)
        .join(Counterparty, Counterparty.id == Contact.counterparty_id)
        .where(
            Contact.responsible_id == user.id,
            Contact.status == "planned",
            Contact.planned_at < local_moment(last + timedelta(days=1), time.min, tz),
        )
        .order_by(Contact.planned_at, Contact.id)
    )
    label, title, at = _("Planned contacts"), titles(), clock()
    return [
        Reminder(
            KIND,
            title(kind, subject),
            local.date(),
            url=card_path(cid),
            key=key_of(cid),
            can_snooze=True,
            can_mark_done=True,
            kind_label=label,
            detail=f"{name} · {at(local)}",
        )
        for cid, kind, subject, planned_at, name in rows
        for local in (as_utc(planned_at).astimezone(tz),)  # once per row: its day and time
    ]


def _actionable(user: Any, key: str) -> Contact | bool | None:
    """The contact behind ``key`` for a planner action: ``None`` when the key is not ours
    or the contact is gone or out of the user's scope (404, no probing), ``False``
    without the update right. The callers refuse contacts that are no longer planned."""
    contact_id = id_from_key(key)
    if contact_id is None:
        return None
    if not has_permission(UPDATE, user):
        return False
    stmt = scoped(select(Contact).where(Contact.id == contact_id), Contact, CONTACT, user)
    return db_session().scalars(stmt).first()  # type: ignore[no-any-return]


def _move_to_day(record: Contact, day: date, tz: tzinfo) -> bool:
    """Move a contact to ``day``, keeping its local time of day (a snooze, a drop on a day
    in the calendar); ``False`` for a day no one plans for."""
    if not sane_year(day.year):
        return False
    local_time = as_utc(record.planned_at).astimezone(tz).time()
    record.planned_at = local_moment(day, local_time, tz)
    return commit_unless_changed(db_session())


def reminder_action(user: Any, key: str, action: str, until: date | None) -> bool | None:
    """Snooze a planned contact to the day ``until`` (same time of day), or mark it done.
    Saved like any update (audited); ``False`` when someone changed it meanwhile."""
    record = _actionable(user, key)
    if not isinstance(record, Contact):
        return record
    if action == "done":
        if record.status == "done":
            return True  # a second click changes nothing
        if record.status != "planned":
            return False
        record.status, record.done_at = "done", utcnow()
        return commit_unless_changed(db_session())
    if action != "snooze":
        return None
    if record.status != "planned" or not isinstance(until, date):
        return False
    tz = user_timezone()
    day = until.date() if isinstance(until, datetime) else until
    if day < local_today(tz):
        return False
    return _move_to_day(record, day, tz)


def calendar_events(
    user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]
) -> list[CalendarEvent]:
    """Planned and done contacts of ``owner_ids`` overlapping ``[start, end)`` that
    ``user`` reaches; the planned ones are draggable for those who may edit them."""
    owners = [int(i) for i in owner_ids if isinstance(i, int) and 0 < i <= MAX_ID]
    if not owners or not has_permission(READ, user):
        return []
    start, end = as_utc(start), as_utc(end)
    stmt = (
        select(
            *TITLED,
            Contact.duration_minutes,
            Contact.status,
            Contact.responsible_id,
            Counterparty.name,
        )
        .join(Counterparty, Counterparty.id == Contact.counterparty_id)
        .where(
            Contact.responsible_id.in_(owners),
            Contact.status.in_(("planned", "done")),
            Contact.planned_at >= start - timedelta(minutes=MAX_DURATION),
            Contact.planned_at < end,
        )
        .order_by(Contact.planned_at, Contact.id)
    )
    may_edit = has_permission(UPDATE, user)
    label, title = _("Contacts"), titles()
    events = []
    for cid, kind, subject, planned_at, minutes, status, owner, name in db_session().execute(
        scoped(stmt, Contact, CONTACT, user)
    ):
        begins = as_utc(planned_at)
        finishes = begins + timedelta(minutes=max(1, minutes or DEFAULT_DURATION))
        if finishes <= start:
            continue
        events.append(
            CalendarEvent(
                key_of(cid),
                f"{title(kind, subject)} — {name}",
                begins,
                finishes,
                kind=KIND,
                url=card_path(cid),
                editable=status == "planned" and may_edit,
                kind_label=label,
                owner_id=owner,
            )
        )
    return events


def move_calendar_event(
    user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
) -> bool | None:
    """Save a planned contact dragged in the calendar: its new time and, from ``end``,
    its duration. Dropped on a day (``all_day``), it keeps its time of day."""
    record = _actionable(user, event_id)
    if not isinstance(record, Contact):
        return record
    if record.status != "planned" or not isinstance(start, date):
        return False
    if all_day or not isinstance(start, datetime):
        day = start.date() if isinstance(start, datetime) else start
        return _move_to_day(record, day, user_timezone())
    if not sane_year(start.year):
        return False
    record.planned_at = as_utc(start)
    if isinstance(end, datetime):
        minutes = round((as_utc(end) - as_utc(start)).total_seconds() / 60)
        if 0 < minutes <= MAX_DURATION:
            record.duration_minutes = minutes
    return commit_unless_changed(db_session())
