"""sales: contracts (MS-7) and the counterparty's purchase history (CL-5).

- **Contracts**: the list, the card (a form view with optimistic locking), "new" and
  "contract from a proposal" (its counterparty, opportunity, amount and subject). The
  number is typed (a free one is suggested, ``ДГ-2026-0001``) and unique: a taken number
  is the field's message, and a save that loses a race for it saves nothing.
- **The printed contract** (``/print/sales.contract/<id>``): parties with requisites,
  subject, amount in figures and words, term, signatures; "standard" or "short".
- **Expiring contracts**: the ``sales.contract_expiring`` event, raised by an hourly job
  (``sales.contract_expiry``) for active contracts ending within ``sales.contract_expiry_days``
  days, to the responsible manager, once per contract and end date (the event key; moving
  the end date warns again); and the same contracts among the user's reminders. The
  notifications addon is optional: without it the job does nothing.
- **Purchase history** (a tab of the counterparty's card): its proposals and contracts the
  user reaches, with the totals of accepted proposals and active contracts per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.models import Counterparty
from addons.crm_base.notes import counterparty_or_404, reaches_counterparty, wants_fragment
from addons.crm_base.persons import local_today
from addons.sales import proposals
from addons.sales.models import (
    CONTRACT,
    CONTRACT_STATUSES,
    OPPORTUNITY,
    PROPOSAL,
    Contract,
    Opportunity,
    Proposal,
)
from addons.sales.proposals import (
    CURRENCIES,
    TEMPLATES,
    CounterpartyField,
    NumberField,
    choice_list,
    money_text,
    next_number,
    number_taken,
    optional_id,
    party,
    requested_id,
    safe_url,
    user_choices,
    variant,
    with_current,
)
from addons.sales.views import bp, menu, record_or_404
from core.db import write_intent
from core.hooktypes import (
    CardTab,
    MenuItem,
    NotificationEventType,
    PermissionDef,
    PrintableDocument,
    Reminder,
    ScheduledJob,
    SearchResult,
    SettingDef,
    TimelineEntry,
)
from core.models import Setting
from core.money import amount_in_words_uk
from core.security import has_permission, require, scope_filter
from core.ui import ChoiceFilter, Column, ListView, RelatedFilter
from core.ui.formview import MAX_ID, FormView
from core.ui.listview import escape_like
from core.ui.timeline import register_icon
from core.web import db_session

READ = "sales.contract.read"
CREATE = "sales.contract.create"
UPDATE = "sales.contract.update"
DELETE = "sales.contract.delete"
PRINT_NAME = "sales.contract"
NUMBER_PREFIX = "ДГ"
EXPIRING = "sales.contract_expiring"
EXPIRY_SETTING = "sales.contract_expiry_days"
DEFAULT_EXPIRY_DAYS = 30
MAX_EXPIRY_DAYS = 366
EXPIRY_EVERY_SECONDS = 3600  # daily work; hourly runs catch up after a restart
STATUS_LABELS = {
    "draft": _l("Draft"),
    "active": _l("Active"),
    "completed": _l("Completed"),
    "terminated": _l("Terminated"),
}
HISTORY_LIMIT = 100
TIMELINE_LIMIT = 200
CHOICES_LIMIT = 200
#: A signing date becomes a moment of the chronology at noon UTC: the same calendar day
#: in every time zone from UTC-11 to UTC+11.
NOON = time(12, 0, tzinfo=UTC)
register_icon("sales.contract_signed", "pen")


# -- the form ---------------------------------------------------------------------------------


def _not_before_start(form: Any, field: DateField) -> None:
    start = form.starts_on.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(_("The contract cannot end before it starts."))


class ContractForm(FlaskForm):
    number = StringField(
        _l("Number"), filters=[clean_text], validators=[DataRequired(), Length(max=40)]
    )
    counterparty_id = CounterpartyField(_l("Counterparty"))
    opportunity_id = SelectField(_l("Opportunity"), coerce=optional_id)
    proposal_id = SelectField(_l("Proposal"), coerce=optional_id)
    subject = TextAreaField(
        _l("Subject"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=5000)],
        render_kw={"rows": 3},
    )
    signed_on = DateField(_l("Signed on"), validators=[Optional()])
    starts_on = DateField(_l("Starts"), validators=[Optional()])
    ends_on = DateField(_l("Ends"), validators=[Optional(), _not_before_start])
    amount = NumberField(_l("Amount"))
    currency = SelectField(
        _l("Currency"), choices=choice_list((c, c) for c in CURRENCIES), default="UAH"
    )
    status = SelectField(
        _l("Status"),
        choices=choice_list((s, STATUS_LABELS[s]) for s in CONTRACT_STATUSES),
        default="draft",
    )
    template = SelectField(_l("Print template"), choices=choice_list(TEMPLATES), default="standard")
    responsible_id = SelectField(_l("Responsible"), coerce=optional_id)

    #: The contract being edited (``None`` for a new one): its own number is not "taken".
    record_id: int | None = None

    def validate_number(self, field: StringField) -> None:
        if field.data and number_taken(db_session(), Contract, field.data, self.record_id):
            raise ValidationError(_("A contract with this number exists already."))

    def validate_amount(self, field: NumberField) -> None:
        if field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the amount."))
        if field.data < 0:
            raise ValidationError(_("The amount cannot be negative."))
        if field.data > proposals.MAX_TOTAL:
            raise ValidationError(_("The amount is too large."))

    def validate_responsible_id(self, field: SelectField) -> None:
        if field.data is None:
            raise ValidationError(_("Choose who is responsible."))


FIELDS = (
    "number",
    "counterparty_id",
    "opportunity_id",
    "proposal_id",
    "subject",
    "signed_on",
    "starts_on",
    "ends_on",
    "amount",
    "currency",
    "status",
    "template",
    "responsible_id",
)


def _related_choices(
    model: Any,
    label: Any,
    subject: str,
    permission: str,
    counterparty_id: int | None,
    current: int | None,
) -> list[SelectChoice]:
    """``—`` and the counterparty's ``model`` records (opportunities, proposals) the user
    reaches, newest first, as ``(id, label)``; the record's current one is kept."""
    db = db_session()
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(permission):
        stmt = (
            select(model.id, label)
            .where(model.counterparty_id == counterparty_id)
            .order_by(model.id.desc())
            .limit(CHOICES_LIMIT)
        )
        scoped = scope_filter(stmt, subject, model.responsible_id)
        rows = [(rid, text) for rid, text in db.execute(scoped)]

    def name_of(rid: int) -> str:
        return db.scalar(select(label).where(model.id == rid)) or f"#{rid}"

    return [
        SelectChoice("", "—"),
        *(SelectChoice(i, t) for i, t in with_current(rows, current, name_of)),
    ]


def prepare(form: FlaskForm, record: Contract | None) -> None:
    """Choices: the opportunities and proposals of the counterparty typed so far (within
    their own scopes), responsible users."""
    if record is not None:
        form.counterparty_id.stored = record.counterparty_id
        form.record_id = record.id
    chosen = form.counterparty_id.chosen()
    form.opportunity_id.choices = _related_choices(
        Opportunity,
        Opportunity.name,
        OPPORTUNITY,
        proposals.OPPORTUNITY_READ,
        chosen,
        record.opportunity_id if record else None,
    )
    form.proposal_id.choices = _related_choices(
        Proposal,
        Proposal.number,
        PROPOSAL,
        proposals.READ,
        chosen,
        record.proposal_id if record else None,
    )
    form.responsible_id.choices = user_choices(record.responsible_id if record else None)


# -- the card ---------------------------------------------------------------------------------


@dataclass
class ContractFormView(FormView):
    """The contract's card; "Show its opportunities and proposals" re-renders the posted
    form, and a number taken by a save at the same instant saves nothing."""

    def save(self, record_id: int) -> ResponseReturnValue:
        if "refresh" in request.form:
            record = self.load(record_id)
            return self.render(record, self.make_form(record))
        try:
            return super().save(record_id)
        except IntegrityError:
            db_session().rollback()
            flash(_("Nothing was saved: a contract with this number exists already."), "danger")
            return redirect(url_for(self.endpoint, record_id=record_id), 303)


def card_context(record: Contract) -> dict[str, Any]:
    db = db_session()
    name = db.scalar(select(Counterparty.name).where(Counterparty.id == record.counterparty_id))
    return {
        "breadcrumbs": [(_("Contracts"), url_for("sales.contracts")), (record.number, None)],
        "status_label": STATUS_LABELS.get(record.status, record.status),
        "counterparty_name": name or "",
        "counterparty_url": safe_url("crm_base.counterparty", record_id=record.counterparty_id),
        "proposal_url": (
            url_for("sales.proposal", record_id=record.proposal_id) if record.proposal_id else ""
        ),
        "pdf_url": url_for("core.print_document", name=PRINT_NAME, record_id=record.id),
        "money": lambda value: money_text(Decimal(value), record.currency),
    }


CONTRACT_FORM = ContractFormView(
    model=Contract,
    form=ContractForm,
    fields=FIELDS,
    subject=CONTRACT,
    owner=Contract.responsible_id,
    template="sales/contract.html",
    endpoint="sales.contract",
    save_endpoint="sales.contract_edit",
    delete_endpoint="sales.contract_delete",
    index_endpoint="sales.contracts",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: _("Contract %(number)s", number=record.number),
    prepare=prepare,
    context=card_context,
)


# -- the list -----------------------------------------------------------------------------------


def _status(value: Any) -> str:
    return str(STATUS_LABELS.get(value, value))


CONTRACTS = ListView(
    name="sales_contracts",
    endpoint="sales.contracts",
    model=Contract,
    title=_l("Contracts"),
    columns=[
        Column(
            "number",
            _l("Number"),
            Contract.number,
            sortable=True,
            link=lambda row: url_for("sales.contract", record_id=row.id),
        ),
        Column("counterparty", _l("Counterparty"), Counterparty.name, nullable=True),
        Column("signed_on", _l("Signed on"), Contract.signed_on),
        Column("ends_on", _l("Ends"), Contract.ends_on),
        Column(
            "amount", _l("Amount"), Contract.amount, format=proposals.amount_cell, css="text-end"
        ),
        Column("currency", _l("Currency"), Contract.currency),
        Column("status", _l("Status"), Contract.status, format=_status, export_format=_status),
    ],
    joins=[(Counterparty, Counterparty.id == Contract.counterparty_id)],
    search=[Contract.number, Counterparty.name],
    filters=[
        ChoiceFilter(
            "status",
            _l("Status"),
            [(s, STATUS_LABELS[s]) for s in CONTRACT_STATUSES],
            Contract.status,
        ),
        RelatedFilter("counterparty", _l("Counterparty"), Contract.counterparty_id),
    ],
    default_sort="-number",
    subject=CONTRACT,
    owner=Contract.responsible_id,
    empty_message=_l("No contracts yet."),
    template="sales/contract_list.html",
)


# -- creating ---------------------------------------------------------------------------------


def new_form(prefill: dict[str, Any]) -> ContractForm:
    """The form for a new contract: posted data, or (GET) a free number and ``prefill``."""
    if request.method == "POST":
        form = ContractForm()
    else:
        number = next_number(db_session(), Contract, NUMBER_PREFIX, local_today().year)
        defaults = {"number": number, "responsible_id": current_user.id, "status": "draft"}
        form = ContractForm(formdata=None, **{**defaults, **prefill})
    prepare(form, None)
    return form


def render_new(form: ContractForm, action: str, status: int = 200) -> ResponseReturnValue:
    breadcrumbs = [(_("Contracts"), url_for("sales.contracts")), (_("New contract"), None)]
    return (
        render_template(
            "sales/contract_new.html",
            form=form,
            invalid=status == 400,
            breadcrumbs=breadcrumbs,
            save_url=action,
            can_update=True,
        ),
        status,
    )


def handle_new(prefill: dict[str, Any], action: str) -> ResponseReturnValue:
    """GET shows the form; POST refreshes the choices, or validates and creates."""
    form = new_form(prefill)
    if request.method == "GET" or "refresh" in request.form:
        return render_new(form, action)
    if not form.validate_on_submit():
        return render_new(form, action, 400)
    db = db_session()
    record = Contract(**{name: form[name].data for name in FIELDS})
    try:
        db.add(record)
        db.flush()
        db.commit()
    except IntegrityError:
        db.rollback()
        form.number.errors = [_("A contract with this number exists already.")]
        return render_new(form, action, 400)
    flash(_("Created: contract %(number)s.", number=record.number), "success")
    if not CONTRACT_FORM.reachable(record.id):
        flash(_("The record is no longer among those you can see."), "info")
        return redirect(url_for("sales.contracts"), 303)
    return redirect(url_for("sales.contract", record_id=record.id), 303)


def from_proposal(record: Proposal) -> dict[str, Any]:
    """A contract's prefill from a proposal: its parties, amount (with VAT) and subject
    (what the lines offer)."""
    lines = proposals.load_lines(db_session(), record.id)
    what = "; ".join(line.description for line in lines)
    subject = f"{what} (комерційна пропозиція № {record.number})" if what else record.number
    return {
        "counterparty_id": record.counterparty_id,
        "opportunity_id": record.opportunity_id,
        "proposal_id": record.id,
        "amount": Decimal(record.total),
        "currency": record.currency,
        "subject": subject[:5000],
    }


# -- routes -----------------------------------------------------------------------------------


@bp.route("/contracts")
@require(READ)
def contracts() -> ResponseReturnValue:
    return CONTRACTS.render(can_create=has_permission(CREATE))


@bp.route("/contracts/new", methods=["GET", "POST"])
@require(CREATE)
def contract_new() -> ResponseReturnValue:
    """A new contract; ``?counterparty=<id>`` (from its card) chooses the counterparty."""
    counterparty = requested_id("counterparty")
    prefill = {"counterparty_id": counterparty} if counterparty else {}
    return handle_new(prefill, url_for("sales.contract_new", counterparty=counterparty))


@bp.route("/proposals/<int:record_id>/contract", methods=["GET", "POST"])
@require(CREATE)
def contract_from_proposal(record_id: int) -> ResponseReturnValue:
    """A new contract from a proposal the user reaches."""
    if not has_permission(proposals.READ):
        abort(403)
    record = record_or_404(Proposal, record_id, PROPOSAL)
    action = url_for("sales.contract_from_proposal", record_id=record.id)
    return handle_new(from_proposal(record), action)


@bp.route("/contracts/<int:record_id>")
@require(READ)
def contract(record_id: int) -> ResponseReturnValue:
    return CONTRACT_FORM.show(record_id)


CONTRACT_FORM.add_routes(bp, "/contracts", update=UPDATE, delete=DELETE)


# -- the counterparty's purchase history ----------------------------------------------------


def _sums(stmt: Any) -> list[tuple[str, Decimal]]:
    """``(currency, sum)`` rows of a scoped ``select(currency, sum(...))``."""
    return [(cur, Decimal(total or 0)) for cur, total in db_session().execute(stmt)]


def history_rows(counterparty_id: int) -> dict[str, Any]:
    """The counterparty's proposals and contracts the user may read, newest first (at
    most :data:`HISTORY_LIMIT` of each), and the accepted / active totals per currency."""
    db = db_session()
    found: dict[str, Any] = {"proposals": None, "contracts": None}
    if has_permission(proposals.READ):
        base = select(Proposal).where(Proposal.counterparty_id == counterparty_id)
        stmt = base.order_by(Proposal.issued_on.desc(), Proposal.id.desc()).limit(HISTORY_LIMIT)
        found["proposals"] = list(db.scalars(scope_filter(stmt, PROPOSAL, Proposal.responsible_id)))
        sums = (
            select(Proposal.currency, func.sum(Proposal.total))
            .where(Proposal.counterparty_id == counterparty_id, Proposal.status == "accepted")
            .group_by(Proposal.currency)
        )
        found["accepted"] = _sums(scope_filter(sums, PROPOSAL, Proposal.responsible_id))
    if has_permission(READ):
        base = select(Contract).where(Contract.counterparty_id == counterparty_id)
        stmt = base.order_by(Contract.id.desc()).limit(HISTORY_LIMIT)
        found["contracts"] = list(db.scalars(scope_filter(stmt, CONTRACT, Contract.responsible_id)))
        sums = (
            select(Contract.currency, func.sum(Contract.amount))
            .where(Contract.counterparty_id == counterparty_id, Contract.status == "active")
            .group_by(Contract.currency)
        )
        found["active"] = _sums(scope_filter(sums, CONTRACT, Contract.responsible_id))
    return found


@bp.get("/counterparties/<int:record_id>/purchases")
@require("crm_base.counterparty.read")
def purchase_history(record_id: int) -> ResponseReturnValue:
    """The "Purchase history" tab of a counterparty's card (CL-5): a fragment for the
    card's htmx load, a page of its own otherwise."""
    if not (has_permission(proposals.READ) or has_permission(READ)):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    context = {
        **history_rows(counterparty.id),
        "counterparty": counterparty,
        "card_url": url_for("crm_base.counterparty", record_id=counterparty.id),
        "proposal_labels": proposals.STATUS_LABELS,
        "contract_labels": STATUS_LABELS,
        "money": money_text,
        "can_create_proposal": has_permission(proposals.CREATE),
        "can_create_contract": has_permission(CREATE),
        "tab_title": _("Purchase history"),
    }
    if wants_fragment():
        return render_template("sales/contract_history_tab.html", **context)
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, context["card_url"]),
        (context["tab_title"], None),
    ]
    return render_template("sales/contract_history.html", breadcrumbs=breadcrumbs, **context)


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Purchase history" on a counterparty's card, with how many documents it shows."""
    if subject != COUNTERPARTY or not reaches_counterparty(subject_id, user):
        return []
    can_proposals, can_contracts = has_permission(proposals.READ, user), has_permission(READ, user)
    if not (can_proposals or can_contracts):
        return []
    db = db_session()
    count = 0
    for allowed, model, scope in (
        (can_proposals, Proposal, PROPOSAL),
        (can_contracts, Contract, CONTRACT),
    ):
        if allowed:
            stmt = select(func.count(model.id)).where(model.counterparty_id == int(subject_id))
            count += db.scalar(scope_filter(stmt, scope, model.responsible_id, user)) or 0
    url = url_for("sales.purchase_history", record_id=int(subject_id))
    return [CardTab("sales.purchases", _("Purchase history"), url, order=70, count=count or None)]


# -- printing ---------------------------------------------------------------------------------


def contract_context(record_id: int) -> dict[str, Any]:
    """The printed contract; the record is loaded within the user's scope (404 outside)."""
    record = record_or_404(Contract, record_id, CONTRACT)

    def day(value: date | None) -> str:
        return value.strftime("%d.%m.%Y") if value else "«___» __________ 20__"

    amount = Decimal(record.amount)
    return {
        "title": f"Договір № {record.number}",
        "variant": variant("contract", record.template),
        "record": record,
        "supplier": party(None),
        "buyer": party(record.counterparty_id),
        "amount": money_text(amount, record.currency),
        "words": amount_in_words_uk(amount) if record.currency == "UAH" else "",
        "signed": day(record.signed_on),
        "starts": day(record.starts_on),
        "ends": day(record.ends_on),
    }


# -- expiring contracts -----------------------------------------------------------------------


def expiry_days(db: Session) -> int:
    """The ``sales.contract_expiry_days`` setting (a default for anything unreadable)."""
    raw = db.scalar(select(Setting.value).where(Setting.name == EXPIRY_SETTING))
    try:
        days = int(str(raw).strip()) if raw not in (None, "") else DEFAULT_EXPIRY_DAYS
    except ValueError:
        return DEFAULT_EXPIRY_DAYS
    return min(max(days, 0), MAX_EXPIRY_DAYS)


def expiring(day: date, days: int) -> Any:
    """Active contracts ending from ``day`` to ``day + days`` (the (status, ends_on) index)."""
    return (
        select(
            Contract.id,
            Contract.number,
            Contract.ends_on,
            Contract.responsible_id,
            Counterparty.name,
        )
        .join(Counterparty, Counterparty.id == Contract.counterparty_id)
        .where(
            Contract.status == "active",
            Contract.ends_on >= day,
            Contract.ends_on <= day + timedelta(days=days),
        )
        .order_by(Contract.ends_on, Contract.id)
    )


def scan_expiring_contracts(
    session: Session, day: date, hooks: Any = None, language: str = "uk"
) -> int:
    """Raise ``sales.contract_expiring`` for the contracts ending soon, in the caller's
    transaction; returns how many events were new (each contract and end date once)."""
    from addons.notifications.events import EventSpec, raise_events

    stmt = expiring(day, expiry_days(session)).where(Contract.responsible_id.is_not(None))
    with force_locale(language):
        specs = [
            EventSpec(
                EXPIRING,
                f"contract:{cid}:{ends_on.isoformat()}",
                _(
                    "Contract %(number)s ends on %(day)s",
                    number=number,
                    day=ends_on.strftime("%d.%m.%Y"),
                ),
                name,
                f"/sales/contracts/{cid}",
                (responsible,),
            )
            for cid, number, ends_on, responsible, name in session.execute(stmt)
        ]
    return len(raise_events(session, specs, hooks=hooks))


def expiry_job(app: Any) -> None:
    """The ``sales.contract_expiry`` job: one short writing transaction, when the
    notifications addon is enabled (else there is nobody to tell)."""
    kernel = app.extensions["vitrylo"]
    if not kernel.is_enabled("notifications"):
        return
    from addons.notifications.channels import read_settings
    from addons.notifications.scans import today_in

    with write_intent(), kernel.db.session_factory() as session, session.begin():
        today = today_in(read_settings(session)["notifications.timezone"])
        scan_expiring_contracts(session, today, hooks=kernel.hooks)


def reminders(user: Any, day: date) -> list[Reminder]:
    """The user's active contracts ending within the warning period from ``day``."""
    if not has_permission(READ, user):
        return []
    db = db_session()
    stmt = expiring(day, expiry_days(db)).where(Contract.responsible_id == user.id).limit(200)
    label = _("Contracts expiring")
    return [
        Reminder(
            "sales.contract",
            _("Contract %(number)s ends", number=number),
            ends_on,
            url=url_for("sales.contract", record_id=cid),
            key=f"sales.contract.{cid}",
            kind_label=label,
            detail=name,
        )
        for cid, number, ends_on, _responsible, name in db.execute(stmt)
    ]


# -- hooks (gathered by addons/sales/__init__) ------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read contracts")),
        PermissionDef(CREATE, _l("Create contracts")),
        PermissionDef(UPDATE, _l("Edit contracts")),
        PermissionDef(DELETE, _l("Delete contracts")),
    ]


def menu_items() -> list[MenuItem]:
    return [menu("contracts", _l("Contracts"), READ, 80)]


def printable_documents() -> list[PrintableDocument]:
    return [
        PrintableDocument(
            PRINT_NAME,
            "Договір",
            CONTRACT,
            "sales/print/contract.html",
            contract_context,
            permission=READ,
        )
    ]


def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            EXPIRING,
            _l("A contract ends soon"),
            _l("An active contract ends within the warning period; for its responsible manager."),
            default_channels=("popup", "email"),
        )
    ]


def settings() -> list[SettingDef]:
    return [
        SettingDef(
            EXPIRY_SETTING,
            _l("Warn about contracts ending within (days)"),
            type="int",
            default=DEFAULT_EXPIRY_DAYS,
        )
    ]


def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("sales.contract_expiry", expiry_job, every_seconds=EXPIRY_EVERY_SECONDS)]


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """A counterparty's signed contracts the user reaches."""
    if subject != COUNTERPARTY or not has_permission(READ, user):
        return []
    if not 0 < int(subject_id) <= MAX_ID:
        return []
    stmt = (
        select(Contract.id, Contract.number, Contract.signed_on, Contract.amount, Contract.currency)
        .where(Contract.counterparty_id == int(subject_id), Contract.signed_on.is_not(None))
        .order_by(Contract.signed_on.desc(), Contract.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    rows = db_session().execute(scope_filter(stmt, CONTRACT, Contract.responsible_id, user))
    return [
        TimelineEntry(
            datetime.combine(signed_on, NOON),
            "sales.contract_signed",
            _("Contract %(number)s signed", number=number),
            money_text(Decimal(amount), currency),
            url_for("sales.contract", record_id=cid),
        )
        for cid, number, signed_on, amount, currency in rows
    ]


def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Contracts whose number contains ``query``, within the user's scope."""
    text = " ".join(query.split())[:100]
    if not text or not has_permission(READ, user):
        return []
    stmt = (
        select(Contract.id, Contract.number, Counterparty.name)
        .join(Counterparty, Counterparty.id == Contract.counterparty_id)
        .where(func.lower(Contract.number).like(f"%{escape_like(text.lower())}%", escape="\\"))
        .order_by(Contract.number.desc())
        .limit(limit)
    )
    rows = db_session().execute(scope_filter(stmt, CONTRACT, Contract.responsible_id, user))
    return [
        SearchResult(
            CONTRACT,
            _("Contract %(number)s", number=number),
            url_for("sales.contract", record_id=cid),
            snippet=name,
        )
        for cid, number, name in rows
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Contracts of a merged duplicate counterparty follow the one kept."""
    if subject != COUNTERPARTY:
        return 0
    moved = session.execute(
        update(Contract)
        .where(Contract.counterparty_id == source_id)
        .values(counterparty_id=target_id)
        .execution_options(synchronize_session=False)
    )
    return int(moved.rowcount or 0)


__all__ = ["CONTRACTS", "CONTRACT_FORM", "scan_expiring_contracts"]
