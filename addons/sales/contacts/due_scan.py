"""The "planned contact due" notifications: a scan each minute while the notifications
addon is on. The ``notified`` flag and the event key (contact and time) make it fire once
per contact and time; moving a contact re-arms it (see ``common``)."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.sales.contacts.common import MAX_DURATION, TITLED, card_path, contact_title
from addons.sales.models import Contact
from addons.sales.shared import int_setting
from core.db import utcnow
from core.tz import as_utc

DUE_EVENT = "sales.contact_due"
JOB = "sales.contacts_due"
REMIND_SETTING = "sales.contact_remind_minutes"
DEFAULT_REMIND_MINUTES = 15
DUE_GRACE = timedelta(minutes=5)  # a contact that fell due between two scans is still told


def remind_minutes(session: Session) -> int:
    """The ``sales.contact_remind_minutes`` setting (1 … 1440; 15 when unset or bad)."""
    return int_setting(session, REMIND_SETTING, DEFAULT_REMIND_MINUTES, 1, MAX_DURATION)


def _notice_zone(session: Session) -> tzinfo:
    """The zone the notifications addon tells times in (its setting, else its default)."""
    from addons.notifications.channels import read_settings
    from addons.notifications.scans import DEFAULT_TIMEZONE

    try:
        return ZoneInfo(read_settings(session)["notifications.timezone"] or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def scan_due_contacts(
    session: Session, now: datetime | None = None, hooks: Any = None, language: str = "uk"
) -> int:
    """Raise ``sales.contact_due`` for planned contacts starting within the next N minutes,
    for their responsible, in the caller's transaction; returns how many were new.

    One range scan on (status, planned_at); the event key holds the contact and its time,
    and ``notified`` is set, so a contact is told once (again only after it is moved)."""
    from flask_babel import force_locale

    from addons.notifications.events import EventSpec, raise_events

    now = as_utc(now or utcnow())
    horizon = now + timedelta(minutes=remind_minutes(session))
    rows = session.execute(
        select(
            *TITLED,
            Contact.responsible_id,
            Counterparty.name,
        )
        .join(Counterparty, Counterparty.id == Contact.counterparty_id)
        .where(
            Contact.status == "planned",
            Contact.planned_at >= now - DUE_GRACE,
            Contact.planned_at < horizon,
            Contact.notified.is_(False),
            Contact.responsible_id.is_not(None),
        )
        .order_by(Contact.planned_at, Contact.id)
    ).all()
    if not rows:
        return 0
    tz = _notice_zone(session)
    with force_locale(language):
        specs = [
            EventSpec(
                DUE_EVENT,
                f"contact:{cid}:{int(as_utc(at).timestamp())}",
                contact_title(kind, subject),
                _(
                    "%(counterparty)s, at %(time)s.",
                    counterparty=name,
                    time=as_utc(at).astimezone(tz).strftime("%H:%M"),
                ),
                card_path(cid),
                (owner,),
            )
            for cid, kind, subject, at, owner, name in rows
        ]
    created = raise_events(session, specs, hooks=hooks)
    session.execute(
        update(Contact)
        .where(Contact.id.in_([r.id for r in rows]))
        .values(notified=True)
        .execution_options(synchronize_session=False)
    )
    return len(created)


def contacts_due_job(app: Any) -> None:
    """The ``sales.contacts_due`` job: only while the notifications addon is on."""
    from core.db import write_intent

    kernel = app.extensions["vitrylo"]
    if not kernel.is_enabled("notifications"):
        return
    with write_intent(), kernel.db.session_factory() as session, session.begin():
        scan_due_contacts(session, hooks=kernel.hooks)
