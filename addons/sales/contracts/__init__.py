"""sales: contracts (MS-7) and the counterparty's purchase history (CL-5).

The area's routes for creating and its hooks are here; the pieces are submodules:
:mod:`.kind` (rights and statuses), :mod:`.forms` (the form and the choices that follow
the counterparty), :mod:`.card` (the card and the list), :mod:`.pdf` (the printed
contract), :mod:`.expiry` (contracts ending soon: event, job, reminders) and
:mod:`.history` (the purchase history tab). What contracts share with proposals is in
:mod:`addons.sales.documents`.

Why it works the way it does:

- **The number is typed** and unique: a free one is suggested (``ДГ-2026-0001``), a taken
  number is the field's message, and a save that loses a race for it saves nothing.
- **"Contract from a proposal"** takes the proposal's counterparty, opportunity, amount
  (with VAT) and subject (what its lines offer).
- **Scope first**: the list, the card, the PDF and the history load records with the
  record scope of ``sales.contract`` (``sales.proposal`` for proposals): another
  manager's contract answers 404, like one that does not exist.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from flask import abort, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.persons import local_today
from addons.sales.contracts.card import CONTRACT_FORM, CONTRACTS
from addons.sales.contracts.expiry import (
    DEFAULT_EXPIRY_DAYS,
    EXPIRING,
    EXPIRY_EVERY_SECONDS,
    EXPIRY_JOB,
    EXPIRY_SETTING,
    ending_soon,
    expiry_job,
    scan_expiring_contracts,
)
from addons.sales.contracts.forms import FIELDS, ContractForm, prepare
from addons.sales.contracts.history import purchases_tab
from addons.sales.contracts.kind import CREATE, DELETE, KIND, READ, STATUS_LABELS, UPDATE
from addons.sales.contracts.pdf import contract_context
from addons.sales.documents.amounts import money_text
from addons.sales.documents.fields import refresh_requested
from addons.sales.documents.numbering import next_number
from addons.sales.documents.pages import created, render_list, render_new
from addons.sales.documents.search import counterparty_rows, search_by_number
from addons.sales.models import PROPOSAL, Contract, Proposal
from addons.sales.proposals import kind as proposal_kind
from addons.sales.proposals.lines import load_lines
from addons.sales.shared import repoint, requested_id
from addons.sales.views import bp, record_or_404
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
from core.security import has_permission, require
from core.ui.timeline import register_icon
from core.web import db_session

NUMBER_PREFIX = "ДГ"
#: A signing date becomes a moment of the chronology at noon UTC: the same calendar day
#: in every time zone from UTC-11 to UTC+11.
NOON = time(12, 0, tzinfo=UTC)
register_icon("sales.contract_signed", "pen")


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
    lines = load_lines(db_session(), record.id)
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
    if not has_permission(proposal_kind.READ):
        abort(403)
    record = record_or_404(Proposal, record_id, PROPOSAL)
    action = url_for("sales.contract_from_proposal", record_id=record.id)
    return handle_new(from_proposal(record), action)


@bp.route("/contracts/<int:record_id>")
@require(READ)
def contract(record_id: int) -> ResponseReturnValue:
    return CONTRACT_FORM.show(record_id)


CONTRACT_FORM.add_routes(bp, "/contracts", update=UPDATE, delete=DELETE)


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


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Purchase history" on a counterparty's card (:mod:`.history`)."""
    return purchases_tab(subject, subject_id, user)


def reminders(user: Any, day: date) -> list[Reminder]:
    """The user's active contracts ending soon (:mod:`.expiry`)."""
    return ending_soon(user, day)


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
    return [ScheduledJob(EXPIRY_JOB, expiry_job, every_seconds=EXPIRY_EVERY_SECONDS)]


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


__all__ = [  # what the tests and the other areas take from the area
    "CONTRACTS",
    "CONTRACT_FORM",
    "EXPIRING",
    "EXPIRY_SETTING",
    "KIND",
    "STATUS_LABELS",
    "expiry_job",
    "scan_expiring_contracts",
]
