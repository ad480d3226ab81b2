"""What every part of the contacts area uses: the rights, the labels, the keys the planner
knows contacts by, the user's local time, and the query of a row of contacts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from typing import Any

from babel import dates as babel_dates
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, event, select
from sqlalchemy.orm.attributes import set_committed_value

from addons.crm_base.models import Counterparty, Person
from addons.sales.models import Contact
from addons.sales.shared import id_or_none
from addons.sales.views import bp
from core.tz import as_utc
from core.ui.timeline import register_icon

READ = "sales.contact.read"
CREATE = "sales.contact.create"
UPDATE = "sales.contact.update"
DELETE = "sales.contact.delete"
OPPORTUNITY_READ = "sales.opportunity.read"

KIND = "sales.contact"  # reminders, calendar events and chronology entries
KEY_PREFIX = "sales.contact."  # reminder keys and calendar event ids: sales.contact.<id>
DEFAULT_DURATION = 30
MAX_DURATION = 24 * 60  # minutes; also how far back the calendar looks for overlaps
YEARS = (1900, 2200)

KIND_LABELS: dict[str, Any] = {
    "call": _l("Call"),
    "meeting": _l("Meeting"),
    "letter": _l("Letter"),
}
STATUS_LABELS: dict[str, Any] = {
    "planned": _l("Planned"),
    "done": _l("Done"),
    "cancelled": _l("Cancelled"),
}

# What a row needs for its title and time (``titles``): the first columns of most queries.
TITLED = (Contact.id, Contact.kind, Contact.subject, Contact.planned_at)

register_icon(KIND, "telephone")


# -- time -----------------------------------------------------------------------------------


def local_moment(day: date, at: time, tz: tzinfo) -> datetime:
    """``day`` at ``at`` o'clock in ``tz``, as UTC."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def sane_year(year: int) -> bool:
    """Whether a contact may be planned in ``year`` (a typo like 0202 or 20255 is refused,
    and no time-zone arithmetic can overflow)."""
    return YEARS[0] <= year <= YEARS[1]


def local_today(tz: tzinfo) -> date:
    return datetime.now(tz).date()


def local_day(moment: datetime, tz: tzinfo) -> date:
    return as_utc(moment).astimezone(tz).date()


@lru_cache(maxsize=8192)
def short_time(at: time, locale: Any) -> str:
    """A time of day as ``locale`` writes it, short (``14:30``): each minute is formatted
    once per locale and process (thousands of reminders share a few hundred times, and the
    planner's badge and page ask for them again and again)."""
    return babel_dates.format_time(at, "short", locale=locale)


def clock() -> Callable[[datetime], str]:
    """The time of day of a local moment, in the user's locale (:func:`short_time`)."""
    locale = get_locale()
    return lambda local: short_time(local.time().replace(second=0, microsecond=0), locale)


def _aware_on_load(contact: Contact, *_args: Any) -> None:
    """Make the stored datetimes aware UTC as they are loaded (SQLite gives them back naive:
    the form view then compares like with like and records no change that is none)."""
    for name in ("planned_at", "done_at", "created_at"):
        value = contact.__dict__.get(name)
        if isinstance(value, datetime):
            set_committed_value(contact, name, as_utc(value))


event.listen(Contact, "load", _aware_on_load)
event.listen(Contact, "refresh", _aware_on_load)


@event.listens_for(Contact.planned_at, "set")
def _rearm_due_notice(target: Contact, value: Any, old: Any, _initiator: Any) -> None:
    """A contact moved to another time is due again: tell its responsible again."""
    moved = isinstance(old, datetime) and isinstance(value, datetime)
    if moved and as_utc(old) != as_utc(value):
        target.notified = False


# -- names, keys, labels ---------------------------------------------------------------------


def card_path(contact_id: int) -> str:
    """The contact's card, as a path: also usable outside a request (the scan)."""
    return f"{bp.url_prefix}/contacts/{contact_id}"


def key_of(contact_id: int) -> str:
    return f"{KEY_PREFIX}{contact_id}"


def id_from_key(key: str) -> int | None:
    """The id in ``sales.contact.<id>``, or ``None`` for any other key."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        return None
    return id_or_none(key[len(KEY_PREFIX) :])


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def titles() -> Callable[[str, str], str]:
    """``contact_title`` for many rows (reminders, calendar): the translations are looked
    up once, not per row (10,000 reminders would spend most of their time there)."""
    pattern = _("%(kind)s: %(subject)s")  # without variables: the translated pattern
    kinds = {kind: str(label) for kind, label in KIND_LABELS.items()}
    return lambda kind, subject: pattern % {"kind": kinds.get(kind, kind), "subject": subject}


def contact_title(kind: str, subject: str) -> str:
    """ "Call: Agree on the price"."""
    return titles()(kind, subject)


def summary() -> Select[Any]:
    """The columns a row of contacts shows, with the counterparty and person names joined
    (one query, whatever the number of rows)."""
    return (
        select(
            *TITLED,
            Contact.duration_minutes,
            Contact.status,
            Contact.result,
            Contact.next_step,
            Contact.responsible_id,
            Contact.counterparty_id,
            Counterparty.name.label("counterparty"),
            Person.full_name.label("person"),
        )
        .join(Counterparty, Counterparty.id == Contact.counterparty_id)
        .outerjoin(Person, Person.id == Contact.person_id)
    )
