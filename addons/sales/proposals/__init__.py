"""sales: commercial proposals (MS-7) — the list, the card with its lines, numbering,
"from an opportunity", sending, and the printed proposal.

The area's routes and hooks are here; the pieces are submodules: :mod:`.kind` (rights
and statuses), :mod:`.totals` (line sums and VAT), :mod:`.forms` (the header and the
lines), :mod:`.lines` (the stored lines and totals), :mod:`.card` (the card and the list),
:mod:`.pdf` (the printed proposal), :mod:`.sending` (the e-mail on "Send").
What proposals share with contracts is in :mod:`addons.sales.documents`.

Why it works the way it does:

- **Numbers are unique per year** (``КП-2026-0001``), given when the proposal is saved;
  two saves at the same instant do not get the same one (:func:`insert_numbered`).
- **The header, the lines and the totals are saved in one transaction**; a row that is
  wrong stops the whole save (nothing is half-saved).
- **Scope first**: the list, the card, the PDF and "from an opportunity" load records with
  the record scope of ``sales.proposal`` (``sales.opportunity`` for the opportunity):
  another manager's proposal answers 404, like one that does not exist. A counterparty is
  chosen among those the user may see (typed, with crm_base's suggestions).
- **Only a draft is edited**; "Send" marks it sent (and, with the notifications addon,
  queues an e-mail with the PDF's link to the contact person), then it is accepted or
  rejected, or taken back to draft.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from addons.crm_base.models import PERSON_SUBJECT
from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.persons import local_today
from addons.sales.documents.amounts import money_text
from addons.sales.documents.numbering import NumberingError, insert_numbered, next_number
from addons.sales.documents.pages import created, render_list, render_new
from addons.sales.documents.search import counterparty_rows, search_by_number
from addons.sales.models import OPPORTUNITY, Opportunity, Proposal
from addons.sales.proposals.card import PROPOSAL_FORM, PROPOSALS
from addons.sales.proposals.forms import FIELDS, LineData, ProposalForm, prepare, wanted_lines
from addons.sales.proposals.kind import (
    CREATE,
    DELETE,
    KIND,
    OPPORTUNITY_READ,
    READ,
    STATUS_LABELS,
    TRANSITIONS,
    UPDATE,
)
from addons.sales.proposals.lines import (
    add_row,
    fill_lines,
    load_lines,
    rows_requested,
    set_totals,
    sync_lines,
)
from addons.sales.proposals.pdf import proposal_context
from addons.sales.proposals.sending import person_email, queue_offer_email
from addons.sales.proposals.totals import compute_totals, line_amount
from addons.sales.shared import CURRENCIES, repoint, requested_id
from addons.sales.views import bp, record_or_404
from core.db import utcnow
from core.hooktypes import MenuItem, PermissionDef, PrintableDocument, SearchResult, TimelineEntry
from core.security import has_permission, require
from core.ui.formview import LockFields, commit_unless_changed, is_stale
from core.ui.timeline import aware, register_icon
from core.web import db_session

NUMBER_PREFIX = "КП"
VALID_DAYS = 14
register_icon("sales.proposal_created", "file-earmark-plus")
register_icon("sales.proposal_sent", "send")


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
    year = form.issued_on.data.year
    insert_numbered(db, record, lambda: next_number(db, Proposal, NUMBER_PREFIX, year))
    sync_lines(db, record.id, rows)
    db.commit()
    return record


def handle_new(
    prefill: Prefill | None, action: str, opportunity_id: int | None = None
) -> ResponseReturnValue:
    """GET shows the new form; POST adds a row, or validates and creates."""
    form = new_form(prefill)
    if request.method == "GET":
        return render_new(KIND, form, action)
    if rows_requested():
        add_row(form)
        return render_new(KIND, form, action)
    if not form.validate_on_submit():
        return render_new(KIND, form, action, 400)
    try:
        record = create_proposal(form, opportunity_id)
    except NumberingError:
        db_session().rollback()
        flash(_("No free number right now; nothing was saved. Try again."), "danger")
        return render_new(KIND, form, action, 409)
    message = _("Created: proposal %(number)s.", number=record.number)
    return created(PROPOSAL_FORM, record, message)


# -- routes -----------------------------------------------------------------------------------


@bp.route("/proposals")
@require(READ)
def proposals() -> ResponseReturnValue:
    return render_list(KIND, PROPOSALS, can_create=has_permission(CREATE))


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
    back = redirect(KIND.card_url(record.id), 303)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    target = request.form.get("to", "")
    if target not in TRANSITIONS.get(record.status, ()):
        flash(_("This proposal cannot go to that status now."), "warning")
        return back
    db = db_session()
    queued: list[bool] = []

    def change() -> None:
        record.status = target
        if target == "sent":
            record.sent_at = utcnow()
            queued.append(queue_offer_email(db, record))

    # UPDATE … WHERE version = :loaded: a simultaneous change saves nothing
    if is_stale(form.version.data, record) or not commit_unless_changed(db, change):
        flash(_("Someone changed this record meanwhile; look at it again."), "warning")
        return back
    flash(_("Status: %(status)s.", status=STATUS_LABELS[target]), "success")
    if any(queued):
        flash(_("An e-mail with the proposal's link is queued for the contact person."), "info")
    return back


# -- hooks (gathered by addons/sales/__init__) ------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read commercial proposals")),
        PermissionDef(CREATE, _l("Create commercial proposals")),
        PermissionDef(UPDATE, _l("Edit, send and close commercial proposals")),
        PermissionDef(DELETE, _l("Delete commercial proposals")),
    ]


def menu_items() -> list[MenuItem]:
    return [KIND.menu_item(70)]


def printable_documents() -> list[PrintableDocument]:
    return [KIND.printable("Комерційна пропозиція", proposal_context)]


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """A counterparty's proposals the user reaches: created, and sent."""
    rows = counterparty_rows(
        KIND,
        subject,
        subject_id,
        user,
        (
            Proposal.id,
            Proposal.number,
            Proposal.created_at,
            Proposal.sent_at,
            Proposal.total,
            Proposal.currency,
        ),
        order_by=(Proposal.id.desc(),),
    )
    entries = []
    for pid, number, created_at, sent_at, total, currency in rows:
        url = KIND.card_url(pid)
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
    return search_by_number(KIND, user, query, limit)


def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Proposals of a merged duplicate counterparty (or contact person) follow the survivor."""
    columns = {COUNTERPARTY: Proposal.counterparty_id, PERSON_SUBJECT: Proposal.person_id}
    return repoint(session, columns, subject, source_id, target_id)


__all__ = [  # what contracts and the tests take from the area
    "CREATE",
    "KIND",
    "OPPORTUNITY_READ",
    "PROPOSALS",
    "PROPOSAL_FORM",
    "READ",
    "STATUS_LABELS",
    "compute_totals",
    "line_amount",
    "load_lines",
    "next_number",
    "person_email",
]
