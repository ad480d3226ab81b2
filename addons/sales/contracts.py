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

What contracts share with proposals is in :mod:`addons.sales.documents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.models import Counterparty
from addons.crm_base.notes import counterparty_or_404, reaches_counterparty
from addons.crm_base.persons import local_today
from addons.sales import proposals
from addons.sales.documents import DocumentKind
from addons.sales.documents.amounts import MAX_AMOUNT, money_text
from addons.sales.documents.fields import (
    DocumentForm,
    NumberField,
    choice_list,
    optional_id,
    refresh_requested,
    requested_id,
)
from addons.sales.documents.numbering import next_number, number_taken
from addons.sales.documents.pages import (
    amount_column,
    card_context,
    counterparty_column,
    created,
    currency_column,
    document_form_view,
    document_list,
    number_column,
    render_list,
    render_new,
    status_column,
)
from addons.sales.documents.printing import party, print_template, printed_day
from addons.sales.documents.search import counterparty_rows, search_by_number
from addons.sales.models import (
    CONTRACT,
    OPPORTUNITY,
    PROPOSAL,
    Contract,
    Opportunity,
    Proposal,
)
from addons.sales.shared import (
    BLANK,
    CHOICES_LIMIT,
    counterparty_tab,
    kept_choices,
    repoint,
    stored_name,
)
from addons.sales.views import bp, record_or_404, scoped
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
from core.security import has_permission, require
from core.ui import Column
from core.ui.formview import FormView
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
KIND = DocumentKind(
    key="contract",
    model=Contract,
    subject=CONTRACT,
    read=READ,
    statuses=STATUS_LABELS,
    plural=_l("Contracts"),
    new_label=_l("New contract"),
    title=lambda number: _("Contract %(number)s", number=number),
    print_name=PRINT_NAME,
)
HISTORY_LIMIT = 100
#: A signing date becomes a moment of the chronology at noon UTC: the same calendar day
#: in every time zone from UTC-11 to UTC+11.
NOON = time(12, 0, tzinfo=UTC)
#: The blank a printed contract leaves for a date not known yet.
NO_DAY = "«___» __________ 20__"
register_icon("sales.contract_signed", "pen")


# -- the form ---------------------------------------------------------------------------------


def _not_before_start(form: Any, field: DateField) -> None:
    start = form.starts_on.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(_("The contract cannot end before it starts."))


class ContractForm(DocumentForm):
    number = StringField(
        _l("Number"), filters=[clean_text], validators=[DataRequired(), Length(max=40)]
    )
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
    status = SelectField(_l("Status"), choices=choice_list(STATUS_LABELS.items()), default="draft")

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
        if field.data > MAX_AMOUNT:
            raise ValidationError(_("The amount is too large."))


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


def related_choices(
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
        rows = [(rid, text) for rid, text in db.execute(scoped(stmt, model, subject))]

    return [BLANK, *kept_choices(rows, current, stored_name(label, model.id))]


def prepare(form: ContractForm, record: Contract | None) -> None:
    """Choices: the opportunities and proposals of the counterparty typed so far (within
    their own scopes), responsible users."""
    form.prepare_for(record)
    if record is not None:
        form.record_id = record.id
    chosen = form.counterparty_id.chosen()
    form.opportunity_id.choices = related_choices(
        Opportunity,
        Opportunity.name,
        OPPORTUNITY,
        proposals.OPPORTUNITY_READ,
        chosen,
        record.opportunity_id if record else None,
    )
    form.proposal_id.choices = related_choices(
        Proposal,
        Proposal.number,
        PROPOSAL,
        proposals.READ,
        chosen,
        record.proposal_id if record else None,
    )


# -- the card and the list --------------------------------------------------------------------


@dataclass
class ContractFormView(FormView):
    """The contract's card; "Show its opportunities and proposals" re-renders the posted
    form, and a number taken by a save at the same instant saves nothing."""

    def save(self, record_id: int) -> ResponseReturnValue:
        if refresh_requested():
            record = self.load(record_id)
            return self.render(record, self.make_form(record))
        try:
            return super().save(record_id)
        except IntegrityError:
            db_session().rollback()
            flash(_("Nothing was saved: a contract with this number exists already."), "danger")
            return redirect(url_for(self.endpoint, record_id=record_id), 303)


def contract_card(record: Contract) -> dict[str, Any]:
    """The card's extras: the status, links to the counterparty, proposal and PDF."""
    proposal_url = proposals.KIND.card_url(record.proposal_id) if record.proposal_id else ""
    return {**card_context(KIND, record), "proposal_url": proposal_url}


CONTRACT_FORM = document_form_view(
    ContractFormView,
    KIND,
    ContractForm,
    FIELDS,
    update=UPDATE,
    delete=DELETE,
    prepare=prepare,
    context=contract_card,
)
CONTRACTS = document_list(
    KIND,
    [
        number_column(KIND),
        counterparty_column(),
        Column("signed_on", _l("Signed on"), Contract.signed_on),
        Column("ends_on", _l("Ends"), Contract.ends_on),
        amount_column("amount", _l("Amount"), Contract.amount),
        currency_column(KIND),
        status_column(KIND),
    ],
    empty_message=_l("No contracts yet."),
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


def handle_new(prefill: dict[str, Any], action: str) -> ResponseReturnValue:
    """GET shows the form; POST refreshes the choices, or validates and creates."""
    form = new_form(prefill)
    if request.method == "GET" or refresh_requested():
        return render_new(KIND, form, action)
    if not form.validate_on_submit():
        return render_new(KIND, form, action, 400)
    db = db_session()
    record = Contract(**{name: form[name].data for name in FIELDS})
    try:
        db.add(record)
        db.flush()
        db.commit()
    except IntegrityError:
        db.rollback()
        form.number.errors = [_("A contract with this number exists already.")]
        return render_new(KIND, form, action, 400)
    return created(CONTRACT_FORM, record, _("Created: contract %(number)s.", number=record.number))


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
    return render_list(KIND, CONTRACTS, can_create=has_permission(CREATE))


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


def purchases(
    kind: DocumentKind, counterparty_id: int, order_by: Sequence[Any], amount: Any, counted: str
) -> tuple[list[Any], list[tuple[str, Decimal]]]:
    """The counterparty's documents of ``kind`` the user reaches, newest first (at most
    :data:`HISTORY_LIMIT`), and the sums of ``amount`` of those in status ``counted``
    per currency."""
    db = db_session()
    model = kind.model
    stmt = (
        select(model)
        .where(model.counterparty_id == counterparty_id)
        .order_by(*order_by)
        .limit(HISTORY_LIMIT)
    )
    records = list(db.scalars(scoped(stmt, model, kind.subject)))
    sums = (
        select(model.currency, func.sum(amount))
        .where(model.counterparty_id == counterparty_id, model.status == counted)
        .group_by(model.currency)
    )
    rows = db.execute(scoped(sums, model, kind.subject))
    return records, [(currency, Decimal(total or 0)) for currency, total in rows]


def history_rows(counterparty_id: int) -> dict[str, Any]:
    """The counterparty's proposals and contracts the user may read (``None`` for a kind
    they may not), with the accepted / active totals per currency."""
    found: dict[str, Any] = {"proposals": None, "contracts": None}
    if has_permission(proposals.READ):
        order = (Proposal.issued_on.desc(), Proposal.id.desc())
        found["proposals"], found["accepted"] = purchases(
            proposals.KIND, counterparty_id, order, Proposal.total, "accepted"
        )
    if has_permission(READ):
        order = (Contract.id.desc(),)
        found["contracts"], found["active"] = purchases(
            KIND, counterparty_id, order, Contract.amount, "active"
        )
    return found


@bp.get("/counterparties/<int:record_id>/purchases")
@require("crm_base.counterparty.read")
def purchase_history(record_id: int) -> ResponseReturnValue:
    """The "Purchase history" tab of a counterparty's card (CL-5): a fragment for the
    card's htmx load, a page of its own otherwise."""
    if not (has_permission(proposals.READ) or has_permission(READ)):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    return counterparty_tab(
        "sales/contract_history_tab.html",
        _("Purchase history"),
        counterparty,
        **history_rows(counterparty.id),
        proposal_labels=proposals.STATUS_LABELS,
        contract_labels=STATUS_LABELS,
        money=money_text,
        can_create_proposal=has_permission(proposals.CREATE),
        can_create_contract=has_permission(CREATE),
    )


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Purchase history" on a counterparty's card, with how many documents it shows."""
    if subject != COUNTERPARTY or not reaches_counterparty(subject_id, user):
        return []
    readable = [kind for kind in (proposals.KIND, KIND) if has_permission(kind.read, user)]
    if not readable:
        return []
    db = db_session()
    count = 0
    for kind in readable:
        model = kind.model
        stmt = select(func.count(model.id)).where(model.counterparty_id == int(subject_id))
        count += db.scalar(scoped(stmt, model, kind.subject, user)) or 0
    url = url_for("sales.purchase_history", record_id=int(subject_id))
    return [CardTab("sales.purchases", _("Purchase history"), url, order=70, count=count or None)]


# -- printing ---------------------------------------------------------------------------------


def contract_context(record_id: int) -> dict[str, Any]:
    """The printed contract; the record is loaded within the user's scope (404 outside)."""
    record = record_or_404(Contract, record_id, CONTRACT)
    amount = Decimal(record.amount)
    return {
        "title": f"Договір № {record.number}",
        "variant": print_template("contract", record.template),
        "record": record,
        "supplier": party(None),
        "buyer": party(record.counterparty_id),
        "amount": money_text(amount, record.currency),
        "words": amount_in_words_uk(amount) if record.currency == "UAH" else "",
        "signed": printed_day(record.signed_on, NO_DAY),
        "starts": printed_day(record.starts_on, NO_DAY),
        "ends": printed_day(record.ends_on, NO_DAY),
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
                    day=printed_day(ends_on),
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
            url=KIND.card_url(cid),
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
    return [KIND.menu_item(80)]


def printable_documents() -> list[PrintableDocument]:
    return [KIND.printable("Договір", contract_context)]


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
    rows = counterparty_rows(
        KIND,
        subject,
        subject_id,
        user,
        (Contract.id, Contract.number, Contract.signed_on, Contract.amount, Contract.currency),
        Contract.signed_on.is_not(None),
        order_by=(Contract.signed_on.desc(), Contract.id.desc()),
    )
    return [
        TimelineEntry(
            datetime.combine(signed_on, NOON),
            "sales.contract_signed",
            _("Contract %(number)s signed", number=number),
            money_text(Decimal(amount), currency),
            KIND.card_url(cid),
        )
        for cid, number, signed_on, amount, currency in rows
    ]


def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Contracts whose number contains ``query``, within the user's scope."""
    return search_by_number(KIND, user, query, limit)


def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Contracts of a merged duplicate counterparty follow the one kept."""
    return repoint(session, {COUNTERPARTY: Contract.counterparty_id}, subject, source_id, target_id)


__all__ = ["CONTRACTS", "CONTRACT_FORM", "KIND", "scan_expiring_contracts"]
