"""sales: contacts with counterparties (MS-1) and the chronology they make (MS-6).

A contact is a call, a meeting or a letter: planned (when, how long, who is responsible,
the direction of work, the counterparty, its contact person, an opportunity), then done
(the result and the next step, optionally planning the next contact in the same
transaction) or cancelled. Why things are the way they are:

- **Times.** ``planned_at`` is stored UTC. Forms, "today" and "this week" use the user's
  time zone, which the core takes from Flask-Babel (``get_timezone()``: the app's
  ``BABEL_DEFAULT_TIMEZONE``; there is no per-user zone yet) as a ``ZoneInfo``
  (``core.tz.user_timezone``), as a pytz zone attached with ``datetime.combine`` would be
  minutes off. SQLite gives datetimes back naive: contacts are made aware UTC when loaded,
  so the form view compares like with like and never records a change that is none.
- **The counterparty is typed**, suggested with its number from a ``<datalist>`` (the
  pattern of crm_base's person links), and looked up within the user's counterparty
  scope: a counterparty the user cannot see is refused with a message, and nothing is
  saved. The person and opportunity choices follow the counterparty (htmx reloads them).
- **Record scope** (``sales.contact`` through ``responsible_id``) limits the list, the
  card (another manager's contact is 404, like one that does not exist), the card tab,
  the chronology, the calendar and the planner's actions.
- **The planner** reads ``reminders`` (the user's due and overdue contacts: one query on
  ``ix_sales_contact_responsible_status_planned``) and ``calendar_events``, and saves
  snoozes, "done" and drags through ``reminder_action`` / ``move_calendar_event``.
- **"Due soon" notifications** come from a scan each minute (``sales.contacts_due``) when
  the notifications addon is on; the ``notified`` flag and the event key (contact and
  time) make it fire once per contact and time. Moving a contact re-arms it.

The parts: ``common`` (rights, labels, keys, local time), ``forms``, ``listing`` (the
list), ``card`` (plan, card, done, cancel), ``counterparty`` (the card's tab and the
chronology), ``planner_hooks``, ``dashboard`` and ``due_scan``. This module declares the
area to the kernel and re-exports the hook functions ``addons.sales`` gathers.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from addons.crm_base.models import PERSON_SUBJECT, SUBJECT
from addons.sales.contacts.card import CONTACT_FORM
from addons.sales.contacts.common import CREATE, DELETE, READ, UPDATE, local_day, local_moment
from addons.sales.contacts.counterparty import TAB_PAGE, card_tabs, timeline_entries
from addons.sales.contacts.dashboard import dashboard_widgets
from addons.sales.contacts.due_scan import (
    DEFAULT_REMIND_MINUTES,
    DUE_EVENT,
    JOB,
    REMIND_SETTING,
    contacts_due_job,
    scan_due_contacts,
)
from addons.sales.contacts.listing import CONTACTS
from addons.sales.contacts.planner_hooks import (
    calendar_events,
    move_calendar_event,
    reminder_action,
    reminders,
)
from addons.sales.models import Contact
from addons.sales.shared import repoint
from addons.sales.views import menu
from core.hooktypes import (
    MenuItem,
    NotificationEventType,
    PermissionDef,
    ScheduledJob,
    SettingDef,
)
from core.tz import as_utc


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read contacts with counterparties")),
        PermissionDef(CREATE, _l("Plan contacts with counterparties")),
        PermissionDef(UPDATE, _l("Edit, complete and cancel contacts")),
        PermissionDef(DELETE, _l("Delete contacts")),
    ]


def menu_items() -> list[MenuItem]:
    return [menu("contacts", _l("Contacts"), READ, 10)]


def settings() -> list[SettingDef]:
    return [
        SettingDef(
            REMIND_SETTING,
            _l("Remind of a planned contact, minutes before"),
            type="int",
            default=DEFAULT_REMIND_MINUTES,
            help=_l("The responsible is notified this many minutes before a planned contact."),
        )
    ]


def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            DUE_EVENT,
            _l("A planned contact is due"),
            _l("Some minutes before a planned call, meeting or letter, for its responsible."),
            default_channels=("popup",),
        )
    ]


def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob(JOB, contacts_due_job, every_seconds=60)]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """Contacts of a merged duplicate counterparty or person move to the record kept."""
    columns = {SUBJECT: Contact.counterparty_id, PERSON_SUBJECT: Contact.person_id}
    return repoint(session, columns, subject, source_id, target_id)


__all__ = [
    "CONTACTS",
    "CONTACT_FORM",
    "REMIND_SETTING",
    "TAB_PAGE",
    "as_utc",
    "calendar_events",
    "card_tabs",
    "contacts_due_job",
    "dashboard_widgets",
    "local_day",
    "local_moment",
    "menu_items",
    "merge_records",
    "move_calendar_event",
    "notification_event_types",
    "permissions",
    "reminder_action",
    "reminders",
    "scan_due_contacts",
    "scheduled_jobs",
    "settings",
    "timeline_entries",
]
