"""sales: contacts with counterparties (MS-1) and the chronology they make (MS-6).

A contact is a call, a meeting or a letter: planned (when, how long, who is responsible,
the direction of work, the counterparty, its contact person, an opportunity), then done
(the result and the next step, optionally planning the next contact in the same
transaction) or cancelled. Why things are the way they are:

- **Times.** ``planned_at`` is stored UTC. Forms, "today" and "this week" use the user's
  time zone, which the core takes from Flask-Babel (``get_timezone()``: the app's
  ``BABEL_DEFAULT_TIMEZONE``; there is no per-user zone yet). Flask-Babel hands out a pytz
  zone; it is turned into a ``ZoneInfo`` here, as a pytz zone attached with
  ``datetime.combine`` would be minutes off. SQLite gives datetimes back naive: contacts
  are made aware UTC when loaded, so the form view compares like with like and never
  records a change that is none.
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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import dates as babel_dates
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import and_, event, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
from wtforms.validators import DataRequired, Length, NumberRange, StopValidation, ValidationError
from wtforms.widgets import TextInput

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import (
    PERSON_SUBJECT,
    SUBJECT,
    Counterparty,
    Direction,
    Person,
    PersonLink,
)
from addons.crm_base.notes import (
    TIMELINE_LIMIT,
    counterparty_or_404,
    reaches_counterparty,
    wants_fragment,
)
from addons.crm_base.persons import COUNTERPARTY_REF, counterparty_ref, resolve_counterparty
from addons.sales.models import (
    CONTACT,
    CONTACT_KINDS,
    CONTACT_STATUSES,
    OPPORTUNITY,
    Contact,
    Opportunity,
)
from addons.sales.views import active_users, bp, menu
from core.db import utcnow
from core.hooktypes import (
    CalendarEvent,
    CardTab,
    DashboardWidget,
    MenuItem,
    NotificationEventType,
    PermissionDef,
    Reminder,
    ScheduledJob,
    SettingDef,
    TimelineEntry,
)
from core.models import Setting, User
from core.security import has_permission, require, scope_filter, user_names
from core.tz import as_utc, user_timezone
from core.ui import ChoiceFilter, Column, DateRangeFilter, ListView, RelatedFilter
from core.ui.formview import MAX_ID, FormView, LockFields
from core.ui.timeline import register_icon
from core.web import db_session

READ = "sales.contact.read"
CREATE = "sales.contact.create"
UPDATE = "sales.contact.update"
DELETE = "sales.contact.delete"
COUNTERPARTY_READ = "crm_base.counterparty.read"
PERSON_READ = "crm_base.person.read"
OPPORTUNITY_READ = "sales.opportunity.read"

KIND = "sales.contact"  # reminders, calendar events and chronology entries
KEY_PREFIX = "sales.contact."  # reminder keys and calendar event ids: sales.contact.<id>
DUE_EVENT = "sales.contact_due"
REMIND_SETTING = "sales.contact_remind_minutes"
DEFAULT_REMIND_MINUTES = 15
DUE_GRACE = timedelta(minutes=5)  # a contact that fell due between two scans is still told
DEFAULT_DURATION = 30
MAX_DURATION = 24 * 60  # minutes; also how far back the calendar looks for overlaps
MAX_TEXT = 10_000
CHOICES_LIMIT = 200
TAB_PLANNED_LIMIT = 50
TAB_PAGE = 25
WIDGET_LIMIT = 10
QUICK_TABS = ("today", "overdue", "week")
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
QUICK_LABELS: dict[str, Any] = {
    "today": _l("My today"),
    "overdue": _l("Overdue"),
    "week": _l("This week"),
}
KIND_CHOICES = [SelectChoice(k, KIND_LABELS[k]) for k in CONTACT_KINDS]
BLANK = SelectChoice("", "—")

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


def _aware_on_load(contact: Contact, *_args: Any) -> None:
    """Make the stored datetimes aware UTC as they are loaded (see the module docstring)."""
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


# -- small helpers ---------------------------------------------------------------------------


def card_path(contact_id: int) -> str:
    """The contact's card, as a path: also usable outside a request (the scan)."""
    return f"{bp.url_prefix}/contacts/{contact_id}"


def key_of(contact_id: int) -> str:
    return f"{KEY_PREFIX}{contact_id}"


def id_from_key(key: str) -> int | None:
    """The id in ``sales.contact.<id>``, or ``None`` for any other key."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        return None
    raw = key[len(KEY_PREFIX) :]
    if not raw.isdigit() or len(raw) > 10 or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw)


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


def clock(tz: tzinfo) -> Callable[[datetime], str]:
    """The local time of day in the user's locale; each distinct minute is formatted once
    (thousands of reminders share a few hundred times)."""
    locale = get_locale()

    @cache
    def minute(at: time) -> str:
        return babel_dates.format_time(at, "short", locale=locale)

    return lambda moment: minute(as_utc(moment).astimezone(tz).time().replace(second=0))


def optional_id(value: Any) -> int | None:
    """A select's value as an id; the empty choice is "none"."""
    return None if value in (None, "") else int(value)


def _scoped(stmt: Any, user: Any = None) -> Any:
    return scope_filter(stmt, CONTACT, Contact.responsible_id, user)


def _summary() -> Any:
    """The columns a row of contacts shows, with the counterparty and person names joined
    (one query, whatever the number of rows)."""
    return (
        select(
            Contact.id,
            Contact.kind,
            Contact.subject,
            Contact.planned_at,
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


def _load_for(user: Any, contact_id: int) -> Contact | None:
    """The contact if ``user`` reaches it (record scope), else ``None``."""
    stmt = _scoped(select(Contact).where(Contact.id == contact_id), user)
    return db_session().scalars(stmt).first()  # type: ignore[no-any-return]


# -- form fields -----------------------------------------------------------------------------


class Required:
    """Like ``DataRequired``, but a value that could not be read (a bad date, a counterparty
    out of sight) keeps its own message instead of "This field is required."."""

    field_flags = {"required": True}

    def __init__(self, message: Any = None) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.errors:
            raise StopValidation()
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise StopValidation(str(self.message or _("This field is required.")))


class LocalDateTimeField(DateTimeLocalField):
    """A moment typed in the user's time zone (one ``datetime-local`` input); ``data`` is
    aware UTC, like the column, so the form view compares it with what is stored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault(
            "invalid_value_message", _l("Enter a date and a time, e.g. 2025-03-14 10:30.")
        )
        super().__init__(*args, tz=user_timezone, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not " ".join(valuelist).strip():
            self.data = None
            return
        super().process_formdata(valuelist)
        if self.data is not None:
            if not sane_year(self.data.year):
                self.data = None
                raise ValueError(_("The date is out of range."))
            self.data = self.data.astimezone(UTC)


class CounterpartyField(Field):
    """A counterparty typed by name (suggested as ``Name (#id)``) or ``#id``; ``data`` is
    its id. The text is looked up by :meth:`resolve`, which the form's ``prepare`` calls
    with the id stored on the record: that one is kept even if the user no longer sees it
    (they may still edit their own contact); any other must be within their scope."""

    widget = TextInput()
    text = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.text = clean_text(valuelist[0])[:300] if valuelist else ""
        self.data = None

    def resolve(self, stored_id: int | None) -> None:
        if getattr(self, "raw_data", None) is None or not self.text:
            return  # not posted (the stored id stays), or left empty (Required says so)
        ref = COUNTERPARTY_REF.search(self.text)
        if stored_id is not None and ref is not None and int(ref.group(1)) == stored_id:
            self.data = stored_id
            return
        try:
            self.data = resolve_counterparty(self.text)
        except ValidationError as exc:
            self.process_errors.append(str(exc))

    def _value(self) -> str:
        if getattr(self, "raw_data", None) is not None:
            return self.text
        if not self.data:
            return ""
        name = db_session().scalar(select(Counterparty.name).where(Counterparty.id == self.data))
        return counterparty_ref(self.data, name or "")


class ContactForm(FlaskForm):
    """Planning a contact; every field is a column of ``sales_contact``."""

    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="call")
    subject = StringField(
        _l("Subject"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    planned_at = LocalDateTimeField(_l("When"), validators=[Required()])
    duration_minutes = IntegerField(
        _l("Duration, minutes"),
        default=DEFAULT_DURATION,
        validators=[Required(), NumberRange(min=1, max=MAX_DURATION)],
    )
    counterparty_id = CounterpartyField(
        _l("Counterparty"), validators=[Required(_l("Choose a counterparty."))]
    )
    person_id = SelectField(_l("Contact person"), coerce=optional_id)
    direction_id = SelectField(_l("Direction of work"), coerce=optional_id)
    opportunity_id = SelectField(_l("Opportunity"), coerce=optional_id)
    responsible_id = SelectField(_l("Responsible"), coerce=int)


class ContactCardForm(ContactForm):
    """The card's form: also the result and the next step of a done contact."""

    result = TextAreaField(
        _l("Result"), filters=[clean_text], validators=[Length(max=MAX_TEXT)], render_kw={"rows": 3}
    )
    next_step = TextAreaField(
        _l("Next step"),
        filters=[clean_text],
        validators=[Length(max=MAX_TEXT)],
        render_kw={"rows": 2},
    )


PLAN_FIELDS = (
    "kind",
    "subject",
    "planned_at",
    "duration_minutes",
    "counterparty_id",
    "person_id",
    "direction_id",
    "opportunity_id",
    "responsible_id",
)


class DoneForm(FlaskForm):
    """Marking a contact done, and optionally planning the next one."""

    version = HiddenField()
    result = TextAreaField(
        _l("Result"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=MAX_TEXT)],
        render_kw={"rows": 3},
    )
    next_step = TextAreaField(
        _l("Next step"),
        filters=[clean_text],
        validators=[Length(max=MAX_TEXT)],
        render_kw={"rows": 2},
    )
    plan_next = BooleanField(_l("Plan the next contact"))
    next_kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="call")
    next_at = LocalDateTimeField(_l("When"))
    next_subject = StringField(
        _l("Subject of the next contact"), filters=[clean_text], validators=[Length(max=300)]
    )

    def validate_next_at(self, field: Field) -> None:
        if self.plan_next.data and field.data is None and not field.errors:
            raise ValidationError(_("Say when the next contact is."))

    def validate_next_subject(self, field: Field) -> None:
        if self.plan_next.data and not field.data:
            raise ValidationError(_("Say what the next contact is about."))


# -- choices ---------------------------------------------------------------------------------


def _with_kept(
    rows: Sequence[tuple[int, str]], keep: int | None, name_of: Callable[[int], str]
) -> list[SelectChoice]:
    """``rows`` as choices, plus the stored value when it is not among them (an inactive
    user, a person the user no longer sees): saving must not silently drop it."""
    choices = [SelectChoice(str(i), label) for i, label in rows]
    if keep is not None and all(i != keep for i, _label in rows):
        choices.append(SelectChoice(str(keep), name_of(keep)))
    return choices


def person_choices(counterparty_id: int | None, keep: int | None = None) -> list[SelectChoice]:
    """The counterparty's contact persons the user may see (main contacts first)."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(PERSON_READ):
        stmt = (
            select(Person.id, Person.full_name)
            .join(PersonLink, PersonLink.person_id == Person.id)
            .where(PersonLink.counterparty_id == counterparty_id)
            .order_by(PersonLink.is_primary.desc(), Person.full_name, Person.id)
            .limit(CHOICES_LIMIT)
        )
        stmt = scope_filter(stmt, PERSON_SUBJECT, Person.manager_id)
        rows = [(i, n) for i, n in db_session().execute(stmt)]

    def name(person_id: int) -> str:
        return db_session().scalar(select(Person.full_name).where(Person.id == person_id)) or ""

    return [BLANK, *_with_kept(rows, keep, name)]


def opportunity_choices(counterparty_id: int | None, keep: int | None = None) -> list[SelectChoice]:
    """The counterparty's open opportunities the user may see."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(OPPORTUNITY_READ):
        stmt = (
            select(Opportunity.id, Opportunity.name)
            .where(
                Opportunity.counterparty_id == counterparty_id,
                Opportunity.status == "open",
            )
            .order_by(Opportunity.name, Opportunity.id)
            .limit(CHOICES_LIMIT)
        )
        stmt = scope_filter(stmt, OPPORTUNITY, Opportunity.responsible_id)
        rows = [(i, n) for i, n in db_session().execute(stmt)]

    def name(opportunity_id: int) -> str:
        found = db_session().scalar(
            select(Opportunity.name).where(Opportunity.id == opportunity_id)
        )
        return found or ""

    return [BLANK, *_with_kept(rows, keep, name)]


def direction_choices(keep: int | None = None) -> list[SelectChoice]:
    rows = [
        (i, n)
        for i, n in db_session().execute(
            select(Direction.id, Direction.name)
            .where(Direction.active.is_(True))
            .order_by(Direction.name)
        )
    ]

    def name(direction_id: int) -> str:
        return db_session().scalar(select(Direction.name).where(Direction.id == direction_id)) or ""

    return [BLANK, *_with_kept(rows, keep, name)]


def responsible_choices(keep: int | None = None) -> list[SelectChoice]:
    return _with_kept(active_users(), keep, lambda uid: user_names([uid]).get(uid, ""))


def prepare(form: ContactForm, record: Contact | None) -> None:
    """Resolve the typed counterparty, then fill the choices that depend on it."""
    stored = record.counterparty_id if record is not None else None
    form.counterparty_id.resolve(stored)
    counterparty_id = form.counterparty_id.data
    same = record is not None and counterparty_id == record.counterparty_id
    form.person_id.choices = person_choices(
        counterparty_id, record.person_id if same and record else None
    )
    form.opportunity_id.choices = opportunity_choices(
        counterparty_id, record.opportunity_id if same and record else None
    )
    form.direction_id.choices = direction_choices(record.direction_id if record else None)
    form.responsible_id.choices = responsible_choices(record.responsible_id if record else None)


# -- the list --------------------------------------------------------------------------------

Responsible = aliased(User)


def quick_condition(which: str, user_id: int, now: datetime, tz: tzinfo) -> Any:
    """The quick tabs, for the signed-in user: contacts of today (in their time zone),
    planned ones already due, and those of this week (Monday to Sunday)."""
    mine = Contact.responsible_id == user_id
    today = local_today(tz)
    if which == "overdue":
        return and_(mine, Contact.status == "planned", Contact.planned_at < now)
    if which == "week":
        monday = today - timedelta(days=today.weekday())
        start, end = monday, monday + timedelta(days=7)
    else:
        start, end = today, today + timedelta(days=1)
    return and_(
        mine,
        Contact.status != "cancelled",
        Contact.planned_at >= local_moment(start, time.min, tz),
        Contact.planned_at < local_moment(end, time.min, tz),
    )


def _quick(which: str) -> Any:
    return quick_condition(which, current_user.id, utcnow(), user_timezone())


CONTACTS = ListView(
    name="sales_contacts",
    endpoint="sales.contacts",
    model=Contact,
    title=_l("Contacts"),
    columns=[
        Column("when", _l("When"), Contact.planned_at, sortable=True),
        Column("kind", _l("Kind"), Contact.kind, format=kind_label, export_format=kind_label),
        Column(
            "subject",
            _l("Subject"),
            Contact.subject,
            link=lambda row: url_for("sales.contact", record_id=row.id),
        ),
        Column("counterparty", _l("Counterparty"), Counterparty.name),
        Column("person", _l("Contact person"), Person.full_name),
        Column(
            "responsible",
            _l("Responsible"),
            func.coalesce(func.nullif(Responsible.name, ""), Responsible.login),
        ),
        Column(
            "status", _l("Status"), Contact.status, format=status_label, export_format=status_label
        ),
    ],
    joins=[
        (Counterparty, Counterparty.id == Contact.counterparty_id),
        (Person, Person.id == Contact.person_id),
        (Responsible, Responsible.id == Contact.responsible_id),
    ],
    search=[Contact.subject, Counterparty.name],
    filters=[
        ChoiceFilter("show", _l("Show"), [(k, QUICK_LABELS[k]) for k in QUICK_TABS], where=_quick),
        ChoiceFilter(
            "status",
            _l("Status"),
            [(s, STATUS_LABELS[s]) for s in CONTACT_STATUSES],
            Contact.status,
        ),
        ChoiceFilter(
            "kind", _l("Kind"), [(k, KIND_LABELS[k]) for k in CONTACT_KINDS], Contact.kind
        ),
        RelatedFilter("responsible", _l("Responsible"), Contact.responsible_id, active_users),
        DateRangeFilter("period", _l("Period"), Contact.planned_at),
        RelatedFilter("counterparty", _l("Counterparty no."), Contact.counterparty_id),
    ],
    default_sort="-when",
    subject=CONTACT,
    owner=Contact.responsible_id,
    export_permission=READ,
    export_endpoint="sales.contacts_export",
    empty_message=_l("No contacts yet."),
)


@bp.route("/contacts")
@require(READ)
def contacts() -> ResponseReturnValue:
    """All contacts the user reaches; the quick tabs are filters of this list."""
    shown = request.args.get("show", "")
    return CONTACTS.render(
        "sales/contacts.html",
        quick=[(k, QUICK_LABELS[k]) for k in QUICK_TABS],
        shown=shown if shown in QUICK_TABS else "",
        can_create=has_permission(CREATE),
    )


@bp.route("/contacts/export.<fmt>")
@require(READ)
def contacts_export(fmt: str) -> ResponseReturnValue:
    return CONTACTS.export(fmt)


# -- create and edit -------------------------------------------------------------------------


def _card_extras(record: Contact) -> dict[str, Any]:
    """The card's breadcrumbs, its counterparty, and the "done" and "cancel" forms."""
    done_form = g.pop("sales_contact_done_form", None)
    if done_form is None and record.status == "planned":
        done_form = DoneForm(formdata=None, prefix="done", next_kind=record.kind)
        done_form.version.data = str(record.version)
    counterparty = db_session().scalar(
        select(Counterparty.name).where(Counterparty.id == record.counterparty_id)
    )
    return {
        "breadcrumbs": [
            (_("Contacts"), url_for("sales.contacts")),
            (contact_title(record.kind, record.subject), None),
        ],
        "status_label": status_label(record.status),
        "counterparty_name": counterparty or "",
        "counterparty_url": (
            url_for("crm_base.counterparty", record_id=record.counterparty_id)
            if has_permission(COUNTERPARTY_READ)
            else ""
        ),
        "done_form": done_form,
        "can_plan_next": has_permission(CREATE),
    }


CONTACT_FORM = FormView(
    model=Contact,
    form=ContactCardForm,
    subject=CONTACT,
    owner=Contact.responsible_id,
    template="sales/contact.html",
    endpoint="sales.contact",
    save_endpoint="sales.contact_edit",
    delete_endpoint="sales.contact_delete",
    index_endpoint="sales.contacts",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: contact_title(record.kind, record.subject),
    prepare=prepare,  # type: ignore[arg-type]
    context=_card_extras,
)


def _prefill(form: ContactForm) -> None:
    """A new contact's defaults: the next full hour, the user responsible, and the
    counterparty / opportunity of the page it was planned from (if the user reaches it)."""
    tz = user_timezone()
    next_hour = datetime.now(tz).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    form.planned_at.data = next_hour.astimezone(UTC)
    form.responsible_id.data = current_user.id
    raw = request.args.get("counterparty", "")
    if raw.isdigit() and reaches_counterparty(int(raw), current_user):
        form.counterparty_id.data = int(raw)
    raw = request.args.get("opportunity", "")
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        found = (
            db_session()
            .execute(
                scope_filter(
                    select(Opportunity.id, Opportunity.counterparty_id).where(
                        Opportunity.id == int(raw)
                    ),
                    OPPORTUNITY,
                    Opportunity.responsible_id,
                )
            )
            .first()
        )
        if found is not None and reaches_counterparty(found.counterparty_id, current_user):
            form.counterparty_id.data = found.counterparty_id
            form.opportunity_id.data = found.id


@bp.route("/contacts/new", methods=["GET", "POST"])
@require(CREATE)
def contact_new() -> ResponseReturnValue:
    """Plan a contact; ``?counterparty=<id>`` (the card's tab) or ``?opportunity=<id>``
    prefill it."""
    form = ContactForm()
    status = 200
    if request.method == "GET":
        _prefill(form)
    prepare(form, None)
    if request.method == "POST":
        if form.validate_on_submit():
            record = _create(form)
            flash(
                _("Planned: %(title)s.", title=contact_title(record.kind, record.subject)),
                "success",
            )
            return redirect(url_for("sales.contact", record_id=record.id), 303)
        status = 400
    body = render_template(
        "sales/contact_new.html",
        form=form,
        invalid=status == 400,
        can_update=True,
        save_url=url_for("sales.contact_new"),
        breadcrumbs=[(_("Contacts"), url_for("sales.contacts")), (_("Plan a contact"), None)],
    )
    return body, status


def _create(form: ContactForm) -> Contact:
    db = db_session()
    record = Contact(
        **{name: form[name].data for name in PLAN_FIELDS},
        status="planned",
        created_by=current_user.id,
    )
    db.add(record)
    db.commit()
    return record


@bp.route("/contacts/<int:record_id>")
@require(READ)
def contact(record_id: int) -> ResponseReturnValue:
    return CONTACT_FORM.show(record_id)


CONTACT_FORM.add_routes(bp, "/contacts", update=UPDATE, delete=DELETE)


@bp.route("/contacts/options/<which>")
@require(READ)
def contact_options(which: str) -> ResponseReturnValue:
    """``<option>``s for the form: counterparties matching what is typed (a datalist), or
    the persons / open opportunities of the counterparty typed (htmx reloads the selects
    when the counterparty changes)."""
    typed = " ".join(request.args.get("counterparty_id", "").split())[:300]
    if which == "counterparty":
        return render_template(
            "sales/contact_options.html", options=_counterparty_suggestions(typed), datalist=True
        )
    if which not in ("person", "opportunity"):
        abort(404)
    try:
        counterparty_id = resolve_counterparty(typed) if typed else None
    except ValidationError:
        counterparty_id = None
    make = person_choices if which == "person" else opportunity_choices
    return render_template("sales/contact_options.html", options=make(counterparty_id))


def _counterparty_suggestions(typed: str) -> list[SelectChoice]:
    """Counterparties the user may see whose name starts with ``typed``, as ``Name (#id)``
    (crm_base's suggestion for person links, for a field named ``counterparty_id``)."""
    from addons.crm_base.persons import SUGGESTIONS
    from core.ui.listview import search_condition

    if not typed or COUNTERPARTY_REF.search(typed) or not has_permission(COUNTERPARTY_READ):
        return []
    db = db_session()
    stmt = (
        select(Counterparty.id, Counterparty.name)
        .where(search_condition([Counterparty.name], typed, "prefix", db.get_bind().dialect.name))
        .order_by(Counterparty.name, Counterparty.id)
        .limit(SUGGESTIONS)
    )
    rows = db.execute(scope_filter(stmt, SUBJECT, Counterparty.manager_id))
    return [SelectChoice(counterparty_ref(i, name), "") for i, name in rows]


# -- done, cancel ----------------------------------------------------------------------------


def _card(record: Contact, done_form: DoneForm, status: int) -> ResponseReturnValue:
    g.sales_contact_done_form = done_form
    return CONTACT_FORM.render(record, status=status)


def _stale(version: Any, record: Contact) -> bool:
    try:
        return int(version or "") != record.version
    except ValueError:
        return True


def _only_planned(record: Contact, version: Any) -> ResponseReturnValue | None:
    """A redirect to the card with a message when the contact cannot change any more."""
    back = redirect(url_for("sales.contact", record_id=record.id), 303)
    if record.status != "planned":
        flash(_("This contact is %(status)s already.", status=status_label(record.status)), "info")
        return back
    if _stale(version, record):
        flash(_("Someone changed this contact meanwhile; look at it again."), "warning")
        return back
    return None


def follow_up(contact: Contact, at: datetime, subject: str, kind: str, by: int | None) -> Contact:
    """The next contact with the same counterparty, person, direction, opportunity and
    responsible."""
    return Contact(
        kind=kind,
        subject=subject,
        planned_at=at,
        duration_minutes=contact.duration_minutes,
        status="planned",
        responsible_id=contact.responsible_id,
        counterparty_id=contact.counterparty_id,
        person_id=contact.person_id,
        direction_id=contact.direction_id,
        opportunity_id=contact.opportunity_id,
        campaign_id=contact.campaign_id,
        source_id=contact.source_id,
        created_by=by,
    )


@bp.post("/contacts/<int:record_id>/done")
@require(UPDATE)
def contact_done(record_id: int) -> ResponseReturnValue:
    """Done: the result, the next step and, if asked, the next contact, all or nothing."""
    record = CONTACT_FORM.load(record_id)
    form = DoneForm(prefix="done")
    valid = form.validate_on_submit()
    refused = _only_planned(record, form.version.data)
    if refused is not None:
        return refused
    if valid and form.plan_next.data and not has_permission(CREATE):
        form.plan_next.errors.append(_("You may not plan contacts."))
        valid = False
    if not valid:
        return _card(record, form, 400)
    db = db_session()
    record.status, record.done_at = "done", utcnow()
    record.result, record.next_step = form.result.data, form.next_step.data
    nxt = None
    if form.plan_next.data:
        nxt = follow_up(
            record, form.next_at.data, form.next_subject.data, form.next_kind.data, current_user.id
        )
        db.add(nxt)
    try:
        db.flush()
        db.commit()
    except StaleDataError:
        db.rollback()
        flash(_("Someone changed this contact meanwhile; look at it again."), "warning")
        return redirect(url_for("sales.contact", record_id=record_id), 303)
    flash(_("Marked as done."), "success")
    if nxt is not None:
        flash(
            _(
                "The next contact is planned for %(when)s.",
                when=format_datetime(nxt.planned_at, "short"),
            ),
            "success",
        )
    return redirect(url_for("sales.contact", record_id=record_id), 303)


@bp.post("/contacts/<int:record_id>/cancel")
@require(UPDATE)
def contact_cancel(record_id: int) -> ResponseReturnValue:
    record = CONTACT_FORM.load(record_id)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    refused = _only_planned(record, form.version.data)
    if refused is not None:
        return refused
    db = db_session()
    record.status = "cancelled"
    try:
        db.flush()
        db.commit()
    except StaleDataError:
        db.rollback()
        flash(_("Someone changed this contact meanwhile; look at it again."), "warning")
        return redirect(url_for("sales.contact", record_id=record_id), 303)
    flash(_("Cancelled."), "success")
    return redirect(url_for("sales.contact", record_id=record_id), 303)


# -- the counterparty card's tab -------------------------------------------------------------


def _tab_cursor() -> tuple[datetime, int] | None:
    """Where the page of past contacts continues (``before=<iso>_<id>``), if valid."""
    at, _sep, raw_id = request.args.get("before", "").rpartition("_")
    if not raw_id.isdigit() or not 0 < int(raw_id) <= MAX_ID:
        return None
    try:
        return as_utc(datetime.fromisoformat(at)), int(raw_id)
    except (ValueError, OverflowError):
        return None


@bp.get("/counterparties/<int:record_id>/contacts")
@require(READ)
def contact_tab(record_id: int) -> ResponseReturnValue:
    """The counterparty's contacts the user reaches: planned first (soonest first), then
    done and cancelled ones, newest first, a page at a time."""
    if not has_permission(COUNTERPARTY_READ):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    db = db_session()
    base = _scoped(_summary().where(Contact.counterparty_id == counterparty.id))
    cursor = _tab_cursor()
    planned: list[Any] = []
    if cursor is None:
        planned = db.execute(
            base.where(Contact.status == "planned")
            .order_by(Contact.planned_at, Contact.id)
            .limit(TAB_PLANNED_LIMIT)
        ).all()
    past_stmt = base.where(Contact.status != "planned")
    if cursor is not None:
        at, last = cursor
        past_stmt = past_stmt.where(
            or_(Contact.planned_at < at, and_(Contact.planned_at == at, Contact.id < last))
        )
    past = db.execute(
        past_stmt.order_by(Contact.planned_at.desc(), Contact.id.desc()).limit(TAB_PAGE + 1)
    ).all()
    older_url = ""
    if len(past) > TAB_PAGE:
        last_row = past[TAB_PAGE - 1]
        before = f"{as_utc(last_row.planned_at).isoformat()}_{last_row.id}"
        older_url = url_for("sales.contact_tab", record_id=counterparty.id, before=before)
    context = {
        "counterparty": counterparty,
        "planned": planned,
        "past": past[:TAB_PAGE],
        "older_url": older_url,
        "names": user_names(r.responsible_id for r in [*planned, *past]),
        "kind_label": kind_label,
        "status_label": status_label,
        "can_create": has_permission(CREATE),
        "card_url": url_for("crm_base.counterparty", record_id=counterparty.id),
    }
    if wants_fragment():
        return render_template("sales/contact_tab.html", **context)
    crumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, context["card_url"]),
        (_("Contacts"), None),
    ]
    return render_template("sales/contact_tab_page.html", breadcrumbs=crumbs, **context)


# -- hooks: rights, menu, settings, events, jobs ---------------------------------------------


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
    return [ScheduledJob("sales.contacts_due", contacts_due_job, every_seconds=60)]


# -- hooks: chronology and card tab ----------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's contacts (planned and done) that ``user`` may see (MS-6)."""
    if subject != SUBJECT or not has_permission(READ, user):
        return []
    if not reaches_counterparty(subject_id, user):
        return []
    stmt = (
        select(
            Contact.id,
            Contact.kind,
            Contact.subject,
            Contact.planned_at,
            Contact.status,
            Contact.result,
            Contact.next_step,
            Direction.name,
        )
        .outerjoin(Direction, Direction.id == Contact.direction_id)
        .where(Contact.counterparty_id == int(subject_id), Contact.status != "cancelled")
        .order_by(Contact.planned_at.desc(), Contact.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    entries = []
    for cid, kind, text, planned_at, status, result, next_step, direction in db_session().execute(
        _scoped(stmt, user)
    ):
        title = contact_title(kind, text)
        if status == "planned":
            title = _("Planned — %(title)s", title=title)
        if direction:
            title = f"{title} · {direction}"
        body = result
        if next_step:
            body = f"{body}\n{_('Next step: %(step)s', step=next_step)}".strip()
        entries.append(TimelineEntry(as_utc(planned_at), KIND, title, body, card_path(cid)))
    return entries


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Contacts" on a counterparty's card, with how many of them the user reaches."""
    if subject != SUBJECT or not has_permission(READ, user):
        return []
    if not reaches_counterparty(subject_id, user):
        return []
    count = db_session().scalar(
        _scoped(
            select(func.count())
            .select_from(Contact)
            .where(Contact.counterparty_id == int(subject_id)),
            user,
        )
    )
    url = url_for("sales.contact_tab", record_id=int(subject_id))
    return [CardTab("sales.contacts", _("Contacts"), url, order=40, count=count or None)]


# -- hooks: planner --------------------------------------------------------------------------


def reminders(user: Any, day: date) -> list[Reminder]:
    """The user's own planned contacts due by the end of ``day`` (overdue ones included),
    soonest first: one query on (responsible, status, planned_at) with the names joined."""
    if not has_permission(READ, user):
        return []
    tz = user_timezone()
    last = min(day, date(YEARS[1], 12, 31))  # a far day (?day=9999-12-31) must not overflow
    rows = db_session().execute(
        select(Contact.id, Contact.kind, Contact.subject, Contact.planned_at, Counterparty.name)
        .join(Counterparty, Counterparty.id == Contact.counterparty_id)
        .where(
            Contact.responsible_id == user.id,
            Contact.status == "planned",
            Contact.planned_at < local_moment(last + timedelta(days=1), time.min, tz),
        )
        .order_by(Contact.planned_at, Contact.id)
    )
    label, title, at = _("Planned contacts"), titles(), clock(tz)
    return [
        Reminder(
            KIND,
            title(kind, subject),
            local_day(planned_at, tz),
            url=card_path(cid),
            key=key_of(cid),
            can_snooze=True,
            can_mark_done=True,
            kind_label=label,
            detail=f"{name} · {at(planned_at)}",
        )
        for cid, kind, subject, planned_at, name in rows
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
    return _load_for(user, contact_id)


def _save(record: Contact) -> bool:
    """Commit a change made through a hook (audited like any update); ``False`` when
    someone changed the contact meanwhile."""
    db = db_session()
    try:
        db.flush()
        db.commit()
    except StaleDataError:
        db.rollback()
        return False
    return True


def _move_to_day(record: Contact, day: date, tz: tzinfo) -> bool:
    """Move a contact to ``day``, keeping its local time of day (a snooze, a drop on a day
    in the calendar); ``False`` for a day no one plans for."""
    if not sane_year(day.year):
        return False
    local_time = as_utc(record.planned_at).astimezone(tz).time()
    record.planned_at = local_moment(day, local_time, tz)
    return _save(record)


def reminder_action(user: Any, key: str, action: str, until: date | None) -> bool | None:
    """Snooze a planned contact to the day ``until`` (same time of day), or mark it done."""
    record = _actionable(user, key)
    if not isinstance(record, Contact):
        return record
    if action == "done":
        if record.status == "done":
            return True  # a second click changes nothing
        if record.status != "planned":
            return False
        record.status, record.done_at = "done", utcnow()
        return _save(record)
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
            Contact.id,
            Contact.kind,
            Contact.subject,
            Contact.planned_at,
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
        _scoped(stmt, user)
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
    return _save(record)


# -- hooks: dashboard, merge -----------------------------------------------------------------


def dashboard_widgets(user: Any) -> list[DashboardWidget]:
    """ "My contacts today": the first few, with a link to the whole list."""
    if not has_permission(READ, user):
        return []

    def render() -> Markup:
        tz = user_timezone()
        rows = (
            db_session()
            .execute(
                _summary()
                .where(quick_condition("today", user.id, utcnow(), tz))
                .order_by(Contact.planned_at, Contact.id)
                .limit(WIDGET_LIMIT + 1)
            )
            .all()
        )
        html = render_template(
            "sales/contact_widget.html",
            rows=rows[:WIDGET_LIMIT],
            more=len(rows) > WIDGET_LIMIT,
            kind_label=kind_label,
            status_label=status_label,
        )
        return Markup(html)  # noqa: S704 - Jinja output, already escaped

    return [DashboardWidget("sales.contacts_today", str(_l("My contacts today")), render, order=20)]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """Contacts of a merged duplicate counterparty or person move to the record kept."""
    column = {"crm_base.counterparty": Contact.counterparty_id, PERSON_SUBJECT: Contact.person_id}
    target = column.get(subject)
    if target is None:
        return 0
    result = session.execute(
        update(Contact)
        .where(target == source_id)
        .values({target.key: target_id})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


# -- the "due soon" scan ---------------------------------------------------------------------


def remind_minutes(session: Session) -> int:
    """The ``sales.contact_remind_minutes`` setting (1 … 1440; 15 when unset or bad)."""
    raw = session.scalar(select(Setting.value).where(Setting.name == REMIND_SETTING))
    try:
        value = int(str(raw).strip()) if raw is not None else DEFAULT_REMIND_MINUTES
    except ValueError:
        return DEFAULT_REMIND_MINUTES
    return min(max(value, 1), MAX_DURATION)


def scan_due_contacts(
    session: Session, now: datetime | None = None, hooks: Any = None, language: str = "uk"
) -> int:
    """Raise ``sales.contact_due`` for planned contacts starting within the next N minutes,
    for their responsible, in the caller's transaction; returns how many were new.

    One range scan on (status, planned_at); the event key holds the contact and its time,
    and ``notified`` is set, so a contact is told once (again only after it is moved)."""
    from flask_babel import force_locale

    from addons.notifications.channels import read_settings
    from addons.notifications.events import EventSpec, raise_events
    from addons.notifications.scans import DEFAULT_TIMEZONE

    now = as_utc(now or utcnow())
    horizon = now + timedelta(minutes=remind_minutes(session))
    rows = session.execute(
        select(
            Contact.id,
            Contact.kind,
            Contact.subject,
            Contact.planned_at,
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
    try:
        tz: tzinfo = ZoneInfo(read_settings(session)["notifications.timezone"] or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo(DEFAULT_TIMEZONE)
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
