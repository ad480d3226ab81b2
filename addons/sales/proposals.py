"""sales: commercial proposals (MS-7) — the list, the card with its lines, numbering,
"from an opportunity", sending, and the printed proposal.

Why it works the way it does:

- **Money is Decimal, rounded as on a printed invoice** (``/work/shared/domain``): a line's
  sum is quantity × price without VAT rounded half up to kopecks; the VAT is computed on
  the total of the lines of each rate ("Разом без ПДВ", "ПДВ 20%", "Всього з ПДВ"), not
  per line, so the printed VAT is exactly the rate of the printed base. ``total`` (with
  VAT) and ``vat_total`` are stored with the lines, in the same transaction.
- **Numbers are unique per year** (``КП-2026-0001``): the next one is the year's largest
  plus one, inserted in a savepoint; two managers saving at the same instant meet the
  unique constraint, and the loser takes the next number (:func:`insert_numbered`).
- **Lines are a form of rows**: a WTForms ``FieldList`` with "One more line" as a submit
  button that re-renders the posted form (no JavaScript); blank rows are dropped; a row
  that is wrong stops the whole save (nothing is half-saved). Lines are updated in place
  by position, so the audit log shows what changed.
- **Scope first**: the list, the card, the PDF and "from an opportunity" load records with
  the record scope of ``sales.proposal`` (``sales.opportunity`` for the opportunity):
  another manager's proposal answers 404, like one that does not exist. A counterparty is
  chosen among those the user may see (typed, with crm_base's suggestions).
- **Only a draft is edited**; "Send" marks it sent (and, with the notifications addon,
  queues an e-mail with the PDF's link to the contact person), then it is accepted or
  rejected, or taken back to draft.

Helpers the contracts area shares (:class:`CounterpartyField`, :class:`NumberField`,
:func:`insert_numbered`, the choice builders) live here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import format_decimal as babel_decimal
from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, null, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from addons.crm_base.contacts import MAX_ROWS, bump_version, clean_text, more_requested
from addons.crm_base.models import (
    PERSON_SUBJECT,
    Channel,
    Counterparty,
    Person,
    PersonLink,
)
from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.persons import (
    COUNTERPARTY_REF,
    counterparty_ref,
    local_today,
    resolve_counterparty,
)
from addons.sales.models import (
    OPPORTUNITY,
    PROPOSAL,
    PROPOSAL_STATUSES,
    Opportunity,
    Proposal,
    ProposalLine,
)
from addons.sales.views import active_users, bp, menu, record_or_404
from core.db import utcnow
from core.hooktypes import MenuItem, PermissionDef, PrintableDocument, SearchResult, TimelineEntry
from core.money import KOPECK, amount_in_words_uk, format_uah, to_kopecks
from core.security import has_permission, require, scope_filter, user_names
from core.ui import ChoiceFilter, Column, ListView, RelatedFilter
from core.ui.formview import MAX_ID, FormView, LockFields
from core.ui.listview import escape_like
from core.ui.timeline import aware, register_icon
from core.web import db_session, kernel

READ = "sales.proposal.read"
CREATE = "sales.proposal.create"
UPDATE = "sales.proposal.update"
DELETE = "sales.proposal.delete"
OPPORTUNITY_READ = "sales.opportunity.read"
PRINT_NAME = "sales.proposal"
NUMBER_PREFIX = "КП"
CURRENCIES = ("UAH", "USD", "EUR")
TEMPLATES = (("standard", _l("Standard")), ("short", _l("Short")))
TEMPLATE_NAMES = tuple(name for name, _label in TEMPLATES)
NO_VAT = "none"
VAT_CHOICES = (
    ("20", "20%"),
    ("14", "14%"),
    ("7", "7%"),
    ("0", "0%"),
    (NO_VAT, _l("No VAT")),
)
STATUS_LABELS = {
    "draft": _l("Draft"),
    "sent": _l("Sent"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
}
#: Where a proposal may go from each status (the card's buttons).
TRANSITIONS = {
    "draft": ("sent",),
    "sent": ("accepted", "rejected", "draft"),
    "accepted": (),
    "rejected": (),
}
VALID_DAYS = 14
BLANK_LINES = 1
#: Bounds that keep every amount inside ``Numeric(16, 2)`` (PostgreSQL refuses more).
MAX_QUANTITY = Decimal("1000000000")
MAX_PRICE = Decimal("1000000000000")
MAX_TOTAL = Decimal("99999999999999.99")
NUMBER_ATTEMPTS = 5
TIMELINE_LIMIT = 200
CHOICES_LIMIT = 200
register_icon("sales.proposal_created", "file-earmark-plus")
register_icon("sales.proposal_sent", "send")


# -- money ------------------------------------------------------------------------------------


def line_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """A line's sum without VAT, half up to kopecks, as printed in the "Сума" column."""
    return to_kopecks(quantity * price)


@dataclass(frozen=True)
class Totals:
    """A proposal's totals: ``net`` ("Разом без ПДВ"), ``vat`` and ``total`` ("Всього з
    ПДВ"); ``by_rate`` is ``(rate, base, vat)`` per VAT rate, ``None`` for "без ПДВ"."""

    net: Decimal
    vat: Decimal
    total: Decimal
    by_rate: tuple[tuple[Decimal | None, Decimal, Decimal], ...]


def compute_totals(lines: Iterable[tuple[Decimal, Decimal, Decimal | None]]) -> Totals:
    """Totals of ``(quantity, price, vat_rate)`` lines: line sums rounded to kopecks, the
    VAT of each rate computed once on that rate's base and rounded half up."""
    bases: dict[Decimal | None, Decimal] = {}
    for quantity, price, rate in lines:
        key = None if rate is None else Decimal(rate).normalize()
        bases[key] = bases.get(key, Decimal("0")) + line_amount(quantity, price)
    by_rate = tuple(
        (rate, base, Decimal("0.00") if rate is None else to_kopecks(base * rate / 100))
        for rate, base in sorted(bases.items(), key=lambda item: (item[0] is None, -(item[0] or 0)))
    )
    net = sum((base for _rate, base, _vat in by_rate), Decimal("0.00"))
    vat = sum((tax for _rate, _base, tax in by_rate), Decimal("0.00"))
    return Totals(net.quantize(KOPECK), vat.quantize(KOPECK), (net + vat).quantize(KOPECK), by_rate)


def plain_number(value: Decimal) -> str:
    """``Decimal("2.500")`` → ``"2.5"``, ``Decimal("100")`` → ``"100"`` (never ``1E+2``)."""
    return format(value.normalize(), "f")


def money_text(value: Decimal, currency: str) -> str:
    """An amount as a Ukrainian document prints it: ``1 200,00 грн``, else with the code
    (``1 200,00 USD``)."""
    if currency == "UAH":
        return format_uah(value, "uk")
    number = babel_decimal(to_kopecks(value), format="#,##0.00", locale="uk")
    return f"{number}\u00a0{currency}"


# -- numbering -----------------------------------------------------------------------------------


def next_number(db: Session, model: Any, prefix: str, year: int) -> str:
    """``<prefix>-<year>-NNNN``: one more than the year's largest number of that shape."""
    stem = f"{prefix}-{year}-"
    pattern = re.compile(rf"^{re.escape(stem)}(\d{{1,9}})$")
    rows = db.scalars(
        select(model.number)
        .where(model.number.like(f"{escape_like(stem)}%", escape="\\"))
        .order_by(func.length(model.number).desc(), model.number.desc())
        .limit(50)
    )
    last = next((int(m.group(1)) for n in rows if (m := pattern.match(n))), 0)
    return f"{stem}{last + 1:04d}"


def number_taken(db: Session, model: Any, number: str, exclude_id: int | None = None) -> bool:
    stmt = select(model.id).where(model.number == number)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.scalar(stmt.limit(1)) is not None


class NumberingError(RuntimeError):
    """No free number after several attempts (many saves at the same instant)."""


def insert_numbered(db: Session, record: Any, prefix: str, year: int) -> None:
    """Insert ``record`` with the next free number of ``year``, in a savepoint: when
    another transaction took that number meanwhile (the unique constraint), take the next.
    Any other integrity error is raised as it is."""
    model = type(record)
    for _attempt in range(NUMBER_ATTEMPTS):
        record.number = next_number(db, model, prefix, year)
        try:
            with db.begin_nested():
                db.add(record)
        except IntegrityError:
            if not number_taken(db, model, record.number):
                raise
            continue
        return
    raise NumberingError(f"no free {prefix} number for {year}")


# -- form fields and choices shared with contracts ------------------------------------------


class NumberField(DecimalField):
    """A decimal typed the Ukrainian way too (``1 200,50``, hence a text input); at most
    ``max_places`` decimals, finite; empty is ``None`` (validators decide). Money shows
    kopecks (``41.10``), a quantity no trailing zeros (``2.5``)."""

    widget = TextInput()

    def __init__(
        self, label: Any = None, validators: Any = None, max_places: int = 2, **kwargs: Any
    ) -> None:
        super().__init__(label, validators, places=None, **kwargs)
        self.max_places = max_places

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0] if valuelist else "")
        text = text.replace("\u00a0", "").replace(" ", "").replace(",", ".").strip()
        self.data = None
        if not text:
            return
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("Enter a number, e.g. 1200.50.")) from None
        if not value.is_finite() or abs(value) >= Decimal("1e15"):
            raise ValueError(_("Enter a number, e.g. 1200.50."))
        step = Decimal(1).scaleb(-self.max_places)
        if value != value.quantize(step):
            raise ValueError(_("At most %(n)s decimal places.", n=self.max_places))
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if self.data is None:
            return ""
        value = Decimal(self.data)
        return str(to_kopecks(value)) if self.max_places == 2 else plain_number(value)


class CounterpartyField(StringField):
    """The counterparty, typed as ``name (#id)`` (crm_base suggests it) or its exact name;
    its ``data`` is the id, within the user's counterparty scope.

    ``stored`` (set when the form is prepared for a record) is the record's counterparty:
    kept as it is without a scope check, so a manager can still save their own document
    about a counterparty that was handed to a colleague.
    """

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.flags.required = True
        self.raw: str | None = None
        self.stored: int | None = None

    def process_data(self, value: Any) -> None:
        self.data = value if isinstance(value, int) else None
        self.raw = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = clean_text(valuelist[0]) if valuelist else ""
        self.data = None

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        if self.data is None:
            return ""
        name = db_session().scalar(select(Counterparty.name).where(Counterparty.id == self.data))
        return counterparty_ref(self.data, name or "")

    def _kept(self) -> int | None:
        ref = COUNTERPARTY_REF.search(self.raw or "")
        if ref is not None and self.stored is not None and int(ref.group(1)) == self.stored:
            return self.stored
        return None

    def pre_validate(self, form: Any) -> None:
        if self.raw is None:
            return
        if not self.raw:
            raise ValidationError(_("Choose a counterparty."))
        kept = self._kept()
        self.data = kept if kept is not None else resolve_counterparty(self.raw)

    def chosen(self) -> int | None:
        """The counterparty meant so far, or ``None`` (never raises): the choices that
        depend on it (contact persons, opportunities) are built before validation."""
        if self.raw is None:
            return self.data
        kept = self._kept()
        if kept is not None or not self.raw:
            return kept
        try:
            return resolve_counterparty(self.raw)
        except ValidationError:
            return None


def optional_id(value: Any) -> int | None:
    """A select's value: ``None`` for the empty choice (and anything not an id)."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def with_current(
    rows: Iterable[tuple[int, str]], current: int | None, name_of: Any
) -> list[tuple[int, str]]:
    """``rows`` plus the record's current value when it is not among them (so saving a
    form never drops a value the user may not choose any more)."""
    items = list(rows)
    if current is not None and current not in {key for key, _label in items}:
        items.append((current, name_of(current)))
    return items


def user_choices(current: int | None) -> list[SelectChoice]:
    """Active users (and the current responsible, even if no longer active)."""
    rows = with_current(active_users(), current, lambda uid: user_names([uid]).get(uid, "#"))
    return [SelectChoice(uid, name) for uid, name in rows]


def person_choices(counterparty_id: int | None, current: int | None) -> list[SelectChoice]:
    """The counterparty's contact persons the user may see (their own record scope)."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission("crm_base.person.read"):
        stmt = (
            select(Person.id, Person.full_name)
            .join(PersonLink, PersonLink.person_id == Person.id)
            .where(PersonLink.counterparty_id == counterparty_id)
            .order_by(PersonLink.is_primary.desc(), Person.full_name, Person.id)
            .limit(CHOICES_LIMIT)
        )
        scoped = scope_filter(stmt, PERSON_SUBJECT, Person.manager_id)
        rows = [(pid, name) for pid, name in db_session().execute(scoped)]

    def name_of(pid: int) -> str:
        return db_session().scalar(select(Person.full_name).where(Person.id == pid)) or "#"

    return [
        SelectChoice("", "—"),
        *(SelectChoice(i, n) for i, n in with_current(rows, current, name_of)),
    ]


def safe_url(endpoint: str, **values: Any) -> str:
    """A link to another area's page, or ``""`` when that area has no such page (yet)."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return ""


def requested_id(name: str) -> int | None:
    """An id from the query string (``?counterparty=12``), ``None`` if absent or absurd."""
    return optional_id(request.args.get(name, "").strip()[:12])


# -- forms ------------------------------------------------------------------------------------


def choice_list(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as a select's choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def vat_rate_of(choice: str) -> Decimal | None:
    return None if choice == NO_VAT else Decimal(choice)


def vat_choice_of(rate: Decimal | None) -> str:
    return NO_VAT if rate is None else plain_number(Decimal(rate))


class LineForm(Form):
    """One line: what, how many, the unit, the price without VAT and the VAT rate. A row
    without a description and price is blank and dropped; "remove" drops a filled one."""

    description = StringField(_l("Description"), filters=[clean_text], validators=[Length(max=500)])
    quantity = NumberField(_l("Quantity"), max_places=3, default=Decimal("1"))
    unit = StringField(_l("Unit"), filters=[clean_text], validators=[Length(max=20)], default="шт")
    price = NumberField(_l("Price without VAT"))
    vat_rate = SelectField(_l("VAT"), choices=choice_list(VAT_CHOICES), default="20")
    remove = BooleanField(_l("Remove"))

    @property
    def blank(self) -> bool:
        price = self.price
        return not self.description.data and price.data is None and not price.process_errors

    @property
    def wanted(self) -> bool:
        return not self.remove.data and not self.blank

    def validate_description(self, field: StringField) -> None:
        if self.wanted and not field.data:
            raise ValidationError(_("Describe what is offered."))

    def validate_quantity(self, field: NumberField) -> None:
        if not self.wanted or field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the quantity."))
        if field.data <= 0:
            raise ValidationError(_("The quantity must be more than zero."))
        if field.data > MAX_QUANTITY:
            raise ValidationError(_("The quantity is too large."))

    def validate_price(self, field: NumberField) -> None:
        if not self.wanted or field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the price."))
        if field.data < 0:
            raise ValidationError(_("The price cannot be negative."))
        if field.data > MAX_PRICE:
            raise ValidationError(_("The price is too large."))


@dataclass(frozen=True)
class LineData:
    """A valid line as stored (``sort`` is its position)."""

    description: str
    quantity: Decimal
    unit: str
    price: Decimal
    vat_rate: Decimal | None

    @property
    def amounts(self) -> tuple[Decimal, Decimal, Decimal | None]:
        return self.quantity, self.price, self.vat_rate


def wanted_lines(field: FieldList) -> list[LineData]:
    """The rows to store, in order (blank and removed ones left out)."""
    return [
        LineData(
            row.description.data,
            row.quantity.data,
            row.unit.data or "",
            row.price.data,
            vat_rate_of(row.vat_rate.data),
        )
        for row in (entry.form for entry in field.entries)
        if row.wanted
    ]


def _in_order(form: Any, field: DateField) -> None:
    start = form.issued_on.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(_("“Valid until” cannot be before the proposal's date."))


class ProposalForm(FlaskForm):
    """The header and the lines of a proposal."""

    counterparty_id = CounterpartyField(_l("Counterparty"))
    person_id = SelectField(_l("Contact person"), coerce=optional_id, validate_choice=True)
    issued_on = DateField(_l("Date"), validators=[DataRequired()])
    valid_until = DateField(_l("Valid until"), validators=[Optional(), _in_order])
    currency = SelectField(
        _l("Currency"), choices=choice_list((c, c) for c in CURRENCIES), default="UAH"
    )
    intro = TextAreaField(
        _l("Introduction"),
        filters=[clean_text],
        validators=[Length(max=5000)],
        render_kw={"rows": 3},
    )
    terms = TextAreaField(
        _l("Terms"),
        filters=[clean_text],
        validators=[Length(max=5000)],
        render_kw={"rows": 3},
        description=_l("Delivery, payment, warranty…"),
    )
    template = SelectField(_l("Print template"), choices=choice_list(TEMPLATES), default="standard")
    responsible_id = SelectField(_l("Responsible"), coerce=optional_id)
    lines = FieldList(FormField(LineForm), _l("Lines"), min_entries=1, max_entries=MAX_ROWS)

    def validate_responsible_id(self, field: SelectField) -> None:
        if field.data is None:
            raise ValidationError(_("Choose who is responsible."))

    def validate_lines(self, field: FieldList) -> None:
        if any(entry.errors for entry in field.entries):
            return
        rows = wanted_lines(field)
        if not rows:
            raise ValidationError(_("Add at least one line."))
        if compute_totals(r.amounts for r in rows).total > MAX_TOTAL:
            raise ValidationError(_("The total is too large."))


#: The proposal's own columns the form edits (lines are rows of their own table).
FIELDS = (
    "counterparty_id",
    "person_id",
    "issued_on",
    "valid_until",
    "currency",
    "intro",
    "terms",
    "template",
    "responsible_id",
)


def prepare(form: FlaskForm, record: Proposal | None) -> None:
    """Choices: contact persons of the counterparty typed so far, responsible users."""
    if record is not None:
        form.counterparty_id.stored = record.counterparty_id
    person = record.person_id if record is not None else None
    responsible = record.responsible_id if record is not None else None
    form.person_id.choices = person_choices(form.counterparty_id.chosen(), person)
    form.responsible_id.choices = user_choices(responsible)


# -- lines --------------------------------------------------------------------------------------


def load_lines(db: Session, proposal_id: int) -> list[ProposalLine]:
    return list(
        db.scalars(
            select(ProposalLine)
            .where(ProposalLine.proposal_id == proposal_id)
            .order_by(ProposalLine.sort, ProposalLine.id)
        )
    )


def fill_lines(field: FieldList, lines: Sequence[Any], blank: int = BLANK_LINES) -> None:
    """Show stored (or prefilled) lines and ``blank`` empty rows in a form not posted."""
    while field.entries:
        field.pop_entry()
    for line in lines:
        field.append_entry(
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit": line.unit,
                "price": line.price,
                "vat_rate": vat_choice_of(line.vat_rate),
            }
        )
    for _n in range(blank if lines else max(blank, 1)):
        field.append_entry()


def sync_lines(db: Session, proposal_id: int, rows: Sequence[LineData]) -> bool:
    """Make the stored lines ``rows``, position by position (updated in place, extra
    ones deleted, new ones added); ``True`` if anything changed."""
    stored = load_lines(db, proposal_id)
    changed = False
    for position, (line, row) in enumerate(zip(stored, rows, strict=False)):
        wanted = {
            "sort": position,
            "description": row.description,
            "quantity": row.quantity,
            "unit": row.unit,
            "price": row.price,
            "vat_rate": row.vat_rate,
        }
        for name, value in wanted.items():
            if getattr(line, name) != value:
                setattr(line, name, value)
                changed = True
    for line in stored[len(rows) :]:
        db.delete(line)
        changed = True
    for position, row in enumerate(rows[len(stored) :], start=len(stored)):
        db.add(
            ProposalLine(
                proposal_id=proposal_id,
                sort=position,
                description=row.description,
                quantity=row.quantity,
                unit=row.unit,
                price=row.price,
                # NULL said explicitly: a plain None would let the column's default (20) in.
                vat_rate=null() if row.vat_rate is None else row.vat_rate,
            )
        )
        changed = True
    return changed


def set_totals(record: Proposal, rows: Sequence[LineData]) -> None:
    """``total`` (with VAT) and ``vat_total`` from the lines (only real changes)."""
    totals = compute_totals(r.amounts for r in rows)
    if record.total is None or Decimal(record.total) != totals.total:
        record.total = totals.total
    if record.vat_total is None or Decimal(record.vat_total) != totals.vat:
        record.vat_total = totals.vat


def rows_requested() -> bool:
    """ "One more line" or "Show its contact persons" was pressed: the posted form is
    shown again (with a blank line for the first), nothing is saved or checked."""
    return more_requested("lines") or "refresh" in request.form


def add_row(form: FlaskForm) -> None:
    if more_requested("lines") and len(form.lines.entries) < MAX_ROWS:
        form.lines.append_entry()


# -- the card (form view) -------------------------------------------------------------------


@dataclass
class ProposalFormView(FormView):
    """The proposal's card: header columns and lines saved in one transaction, with the
    totals; only a draft is edited."""

    def edit_form(self, record: Any) -> FlaskForm:
        form = super().edit_form(record)
        fill_lines(form.lines, load_lines(db_session(), record.id))
        return form

    def apply(self, form: FlaskForm, record: Any) -> None:
        super().apply(form, record)
        db = db_session()
        rows = wanted_lines(form.lines)
        set_totals(record, rows)
        own_change = db.is_modified(record, include_collections=False)
        if sync_lines(db, record.id, rows) and not own_change:
            bump_version(db, record)

    def save(self, record_id: int) -> ResponseReturnValue:
        record = self.load(record_id)
        if record.status != "draft":
            flash(_("Only a draft can be changed; take it back to draft first."), "warning")
            return redirect(url_for(self.endpoint, record_id=record.id), 303)
        if rows_requested():
            form = self.make_form(record)
            add_row(form)
            return self.render(record, form)
        return super().save(record_id)


def card_context(record: Proposal) -> dict[str, Any]:
    """The card's extras: status and its actions, links, the saved totals."""
    db = db_session()
    counterparty_name = db.scalar(
        select(Counterparty.name).where(Counterparty.id == record.counterparty_id)
    )
    net = Decimal(record.total) - Decimal(record.vat_total)
    return {
        "breadcrumbs": [(_("Proposals"), url_for("sales.proposals")), (record.number, None)],
        "can_update": has_permission(UPDATE) and record.status == "draft",
        "can_change_status": has_permission(UPDATE),
        "status_label": STATUS_LABELS.get(record.status, record.status),
        "transitions": [(s, transition_label(s)) for s in TRANSITIONS.get(record.status, ())],
        "counterparty_name": counterparty_name or "",
        "counterparty_url": safe_url("crm_base.counterparty", record_id=record.counterparty_id),
        "opportunity_url": (
            safe_url("sales.opportunity", record_id=record.opportunity_id)
            if record.opportunity_id
            else ""
        ),
        "pdf_url": url_for("core.print_document", name=PRINT_NAME, record_id=record.id),
        "contract_url": (
            safe_url("sales.contract_from_proposal", record_id=record.id)
            if has_permission("sales.contract.create")
            else ""
        ),
        "net": net,
        "money": lambda value: money_text(Decimal(value), record.currency),
    }


def transition_label(status: str) -> str:
    return {
        "sent": _("Send"),
        "accepted": _("Accepted"),
        "rejected": _("Rejected"),
        "draft": _("Back to draft"),
    }[status]


PROPOSAL_FORM = ProposalFormView(
    model=Proposal,
    form=ProposalForm,
    fields=FIELDS,
    subject=PROPOSAL,
    owner=Proposal.responsible_id,
    template="sales/proposal.html",
    endpoint="sales.proposal",
    save_endpoint="sales.proposal_edit",
    delete_endpoint="sales.proposal_delete",
    index_endpoint="sales.proposals",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: _("Proposal %(number)s", number=record.number),
    prepare=prepare,
    context=card_context,
)


# -- the list -----------------------------------------------------------------------------------


def amount_cell(value: Any) -> str:
    return "" if value is None else format_decimal(value, format="#,##0.00")


PROPOSALS = ListView(
    name="sales_proposals",
    endpoint="sales.proposals",
    model=Proposal,
    title=_l("Proposals"),
    columns=[
        Column(
            "number",
            _l("Number"),
            Proposal.number,
            sortable=True,
            link=lambda row: url_for("sales.proposal", record_id=row.id),
        ),
        Column("issued_on", _l("Date"), Proposal.issued_on),
        Column("counterparty", _l("Counterparty"), Counterparty.name, nullable=True),
        Column("total", _l("Total"), Proposal.total, format=amount_cell, css="text-end"),
        Column("currency", _l("Currency"), Proposal.currency),
        Column(
            "status",
            _l("Status"),
            Proposal.status,
            format=lambda v: str(STATUS_LABELS.get(v, v)),
            export_format=lambda v: str(STATUS_LABELS.get(v, v)),
        ),
    ],
    joins=[(Counterparty, Counterparty.id == Proposal.counterparty_id)],
    search=[Proposal.number, Counterparty.name],
    filters=[
        ChoiceFilter(
            "status",
            _l("Status"),
            [(s, STATUS_LABELS[s]) for s in PROPOSAL_STATUSES],
            Proposal.status,
        ),
        RelatedFilter("counterparty", _l("Counterparty"), Proposal.counterparty_id),
    ],
    default_sort="-number",
    subject=PROPOSAL,
    owner=Proposal.responsible_id,
    empty_message=_l("No proposals yet."),
    template="sales/proposal_list.html",
)


# -- creating ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prefill:
    """What a new proposal starts with (from a counterparty's card or an opportunity)."""

    counterparty_id: int | None = None
    person_id: int | None = None
    currency: str = "UAH"
    lines: tuple[Any, ...] = ()


def new_form(prefill: Prefill | None = None) -> ProposalForm:
    """The form for a new proposal: posted data, or (GET) the defaults and ``prefill``."""
    if request.method == "POST":
        form = ProposalForm()
        prepare(form, None)
        return form
    prefill = prefill or Prefill()
    today = local_today()
    form = ProposalForm(
        formdata=None,
        counterparty_id=prefill.counterparty_id,
        person_id=prefill.person_id,
        issued_on=today,
        valid_until=today + timedelta(days=VALID_DAYS),
        currency=prefill.currency if prefill.currency in CURRENCIES else "UAH",
        responsible_id=current_user.id,
    )
    prepare(form, None)
    fill_lines(form.lines, prefill.lines)
    return form


def create_proposal(form: ProposalForm, opportunity_id: int | None = None) -> Proposal:
    """The proposal, its number and lines and totals: one transaction."""
    db = db_session()
    rows = wanted_lines(form.lines)
    record = Proposal(
        **{name: form[name].data for name in FIELDS},
        opportunity_id=opportunity_id,
        status="draft",
        total=Decimal("0"),
        vat_total=Decimal("0"),
    )
    set_totals(record, rows)
    insert_numbered(db, record, NUMBER_PREFIX, form.issued_on.data.year)
    sync_lines(db, record.id, rows)
    db.commit()
    return record


def render_new(form: ProposalForm, action: str, status: int = 200) -> ResponseReturnValue:
    breadcrumbs = [(_("Proposals"), url_for("sales.proposals")), (_("New proposal"), None)]
    return (
        render_template(
            "sales/proposal_new.html",
            form=form,
            invalid=status == 400,
            breadcrumbs=breadcrumbs,
            save_url=action,
            can_update=True,
        ),
        status,
    )


def handle_new(
    prefill: Prefill | None, action: str, opportunity_id: int | None = None
) -> ResponseReturnValue:
    """GET shows the new form; POST adds a row, or validates and creates."""
    form = new_form(prefill)
    if request.method == "GET":
        return render_new(form, action)
    if rows_requested():
        add_row(form)
        return render_new(form, action)
    if not form.validate_on_submit():
        return render_new(form, action, 400)
    try:
        record = create_proposal(form, opportunity_id)
    except NumberingError:
        db_session().rollback()
        flash(_("No free number right now; nothing was saved. Try again."), "danger")
        return render_new(form, action, 409)
    flash(_("Created: proposal %(number)s.", number=record.number), "success")
    if not PROPOSAL_FORM.reachable(record.id):
        flash(_("The record is no longer among those you can see."), "info")
        return redirect(url_for("sales.proposals"), 303)
    return redirect(url_for("sales.proposal", record_id=record.id), 303)


# -- routes -----------------------------------------------------------------------------------


@bp.route("/proposals")
@require(READ)
def proposals() -> ResponseReturnValue:
    return PROPOSALS.render(can_create=has_permission(CREATE))


@bp.route("/proposals/new", methods=["GET", "POST"])
@require(CREATE)
def proposal_new() -> ResponseReturnValue:
    """A new proposal; ``?counterparty=<id>`` (from its card) chooses the counterparty."""
    counterparty = requested_id("counterparty")
    return handle_new(
        Prefill(counterparty_id=counterparty),
        url_for("sales.proposal_new", counterparty=counterparty),
    )


@bp.route("/opportunities/<int:record_id>/proposal", methods=["GET", "POST"])
@require(CREATE)
def proposal_from_opportunity(record_id: int) -> ResponseReturnValue:
    """A new proposal for an opportunity the user reaches: its counterparty, contact
    person and currency, and one line with its name and amount (taken as the price
    without VAT; the manager adjusts it)."""
    if not has_permission(OPPORTUNITY_READ):
        abort(403)
    opportunity = record_or_404(Opportunity, record_id, OPPORTUNITY)
    line = LineData(
        opportunity.name[:500], Decimal("1"), "шт", Decimal(opportunity.amount), Decimal("20")
    )
    prefill = Prefill(
        counterparty_id=opportunity.counterparty_id,
        person_id=opportunity.person_id,
        currency=opportunity.currency,
        lines=(line,),
    )
    action = url_for("sales.proposal_from_opportunity", record_id=opportunity.id)
    return handle_new(prefill, action, opportunity.id)


@bp.route("/proposals/<int:record_id>")
@require(READ)
def proposal(record_id: int) -> ResponseReturnValue:
    return PROPOSAL_FORM.show(record_id)


PROPOSAL_FORM.add_routes(bp, "/proposals", update=UPDATE, delete=DELETE)


@bp.post("/proposals/<int:record_id>/status")
@require(UPDATE)
def proposal_status(record_id: int) -> ResponseReturnValue:
    """Move the proposal on (send, accepted, rejected, back to draft), if it has not
    changed since the card was shown; "sent" may queue an e-mail to the contact person."""
    record = PROPOSAL_FORM.load(record_id)
    back = redirect(url_for("sales.proposal", record_id=record.id), 303)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    target = request.form.get("to", "")
    if target not in TRANSITIONS.get(record.status, ()):
        flash(_("This proposal cannot go to that status now."), "warning")
        return back
    if str(record.version) != (form.version.data or ""):
        flash(_("Someone changed this record meanwhile; look at it again."), "warning")
        return back
    db = db_session()
    record.status = target
    emailed = False
    try:
        if target == "sent":
            record.sent_at = utcnow()
            emailed = queue_offer_email(db, record)
        db.commit()  # UPDATE … WHERE version = :loaded: a simultaneous change fails here
    except StaleDataError:
        db.rollback()
        flash(_("Someone changed this record meanwhile; look at it again."), "warning")
        return back
    flash(_("Status: %(status)s.", status=STATUS_LABELS[target]), "success")
    if emailed:
        flash(_("An e-mail with the proposal's link is queued for the contact person."), "info")
    return back


# -- sending --------------------------------------------------------------------------------


def person_email(db: Session, person_id: int | None) -> str:
    """The contact person's main (else first) e-mail, or ``""``."""
    if person_id is None:
        return ""
    stmt = (
        select(Channel.value)
        .where(Channel.person_id == person_id, Channel.kind == "email")
        .order_by(Channel.is_primary.desc(), Channel.id)
        .limit(1)
    )
    return db.scalar(stmt) or ""


def queue_offer_email(db: Session, record: Proposal) -> bool:
    """With the notifications addon enabled, queue (in this transaction) an e-mail with
    the PDF's link to the contact person; ``False`` when there is nobody or no addon."""
    if not kernel().is_enabled("notifications"):
        return False
    address = person_email(db, record.person_id)
    if not address:
        return False
    from addons.notifications.channels import read_settings
    from addons.notifications.outbox import enqueue

    site = read_settings(db).get("notifications.site_url", "").rstrip("/")
    link = site + url_for("core.print_document", name=PRINT_NAME, record_id=record.id)
    subject = f"Комерційна пропозиція № {record.number}"
    body = (
        f"Доброго дня!\n\nНадсилаємо комерційну пропозицію № {record.number} "
        f"на суму {money_text(Decimal(record.total), record.currency)}.\n"
        f"Переглянути: {link}\n"
    )
    return enqueue(
        db, "email", address, subject, body, f"sales.proposal:{record.id}:sent:{record.version}"
    )


# -- printing ---------------------------------------------------------------------------------


def variant(name: str, template: str) -> str:
    """The print template of a record's ``template`` choice (standard when unknown)."""
    chosen = template if template in TEMPLATE_NAMES else "standard"
    return f"sales/print/{name}_{chosen}.html"


def party(counterparty_id: int | None) -> dict[str, Any]:
    """A party of a document: its name and default requisites (``None`` if none)."""
    from addons.crm_base.requisites import own_organization, requisites_for

    if counterparty_id is None:
        found = own_organization()
        return {"name": found.full_name if found else "", "requisites": found}
    db = db_session()
    name = db.scalar(select(Counterparty.name).where(Counterparty.id == counterparty_id)) or ""
    found = requisites_for(counterparty_id)
    return {"name": found.full_name if found else name, "requisites": found}


def rate_label(rate: Decimal | None) -> str:
    return "Без ПДВ" if rate is None else f"{plain_number(Decimal(rate))}%"


def proposal_context(record_id: int) -> dict[str, Any]:
    """The printed proposal; the record is loaded within the user's scope (404 outside)."""
    record = record_or_404(Proposal, record_id, PROPOSAL)
    db = db_session()
    lines = load_lines(db, record.id)
    totals = compute_totals((line.quantity, line.price, line.vat_rate) for line in lines)
    person = db.get(Person, record.person_id) if record.person_id else None
    responsible = user_names([record.responsible_id]).get(record.responsible_id or 0, "")
    return {
        "title": f"Комерційна пропозиція № {record.number}",
        "variant": variant("proposal", record.template),
        "record": record,
        "supplier": party(None),
        "buyer": party(record.counterparty_id),
        "person": person.full_name if person else "",
        "responsible": responsible,
        "rows": [
            (
                n,
                line.description,
                line.unit,
                plain_number(Decimal(line.quantity)).replace(".", ","),
                money_text(Decimal(line.price), record.currency),
                money_text(line_amount(line.quantity, line.price), record.currency),
                rate_label(line.vat_rate),
            )
            for n, line in enumerate(lines, start=1)
        ],
        "totals": totals,
        "vat_rows": [
            (rate_label(rate), money_text(vat, record.currency))
            for rate, _base, vat in totals.by_rate
            if rate is not None
        ],
        "money": lambda value: money_text(Decimal(value), record.currency),
        "words": amount_in_words_uk(totals.total) if record.currency == "UAH" else "",
        "vat_words": money_text(totals.vat, record.currency),
        "issued": record.issued_on.strftime("%d.%m.%Y"),
        "valid_until": record.valid_until.strftime("%d.%m.%Y") if record.valid_until else "",
    }


# -- hooks (gathered by addons/sales/__init__) ------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read commercial proposals")),
        PermissionDef(CREATE, _l("Create commercial proposals")),
        PermissionDef(UPDATE, _l("Edit, send and close commercial proposals")),
        PermissionDef(DELETE, _l("Delete commercial proposals")),
    ]


def menu_items() -> list[MenuItem]:
    return [menu("proposals", _l("Proposals"), READ, 70)]


def printable_documents() -> list[PrintableDocument]:
    return [
        PrintableDocument(
            PRINT_NAME,
            "Комерційна пропозиція",
            PROPOSAL,
            "sales/print/proposal.html",
            proposal_context,
            permission=READ,
        )
    ]


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """A counterparty's proposals the user reaches: created, and sent."""
    if subject != COUNTERPARTY or not has_permission(READ, user):
        return []
    if not 0 < int(subject_id) <= MAX_ID:
        return []
    stmt = (
        select(
            Proposal.id,
            Proposal.number,
            Proposal.created_at,
            Proposal.sent_at,
            Proposal.total,
            Proposal.currency,
        )
        .where(Proposal.counterparty_id == int(subject_id))
        .order_by(Proposal.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    entries = []
    for pid, number, created_at, sent_at, total, currency in db_session().execute(
        scope_filter(stmt, PROPOSAL, Proposal.responsible_id, user)
    ):
        url = url_for("sales.proposal", record_id=pid)
        amount = money_text(Decimal(total), currency)
        entries.append(
            TimelineEntry(
                aware(created_at),
                "sales.proposal_created",
                _("Proposal %(number)s created", number=number),
                amount,
                url,
            )
        )
        if sent_at is not None:
            entries.append(
                TimelineEntry(
                    aware(sent_at),
                    "sales.proposal_sent",
                    _("Proposal %(number)s sent", number=number),
                    amount,
                    url,
                )
            )
    return entries


def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Proposals whose number contains ``query``, within the user's scope."""
    text = " ".join(query.split())[:100]
    if not text or not has_permission(READ, user):
        return []
    stmt = (
        select(Proposal.id, Proposal.number, Counterparty.name)
        .join(Counterparty, Counterparty.id == Proposal.counterparty_id)
        .where(func.lower(Proposal.number).like(f"%{escape_like(text.lower())}%", escape="\\"))
        .order_by(Proposal.number.desc())
        .limit(limit)
    )
    rows = db_session().execute(scope_filter(stmt, PROPOSAL, Proposal.responsible_id, user))
    return [
        SearchResult(
            PROPOSAL,
            _("Proposal %(number)s", number=number),
            url_for("sales.proposal", record_id=pid),
            snippet=name,
        )
        for pid, number, name in rows
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Proposals of a merged duplicate counterparty (or contact person) follow the survivor."""
    if subject == COUNTERPARTY:
        column = Proposal.counterparty_id
    elif subject == PERSON_SUBJECT:
        column = Proposal.person_id
    else:
        return 0
    moved = session.execute(
        update(Proposal)
        .where(column == source_id)
        .values({column.key: target_id})
        .execution_options(synchronize_session=False)
    )
    return int(moved.rowcount or 0)


__all__ = [
    "PROPOSALS",
    "PROPOSAL_FORM",
    "CounterpartyField",
    "NumberField",
    "compute_totals",
    "insert_numbered",
    "next_number",
]
