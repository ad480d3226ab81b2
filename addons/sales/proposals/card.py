"""A proposal's card and the list of proposals. The card is a form view whose save also
writes the lines and the totals, in one transaction; only a draft is edited."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from addons.crm_base.contacts import bump_version
from addons.sales.documents.pages import (
    amount_column,
    card_context,
    counterparty_column,
    currency_column,
    document_form_view,
    document_list,
    number_column,
    safe_url,
    status_column,
)
from addons.sales.models import Proposal
from addons.sales.proposals.forms import FIELDS, ProposalForm, prepare, wanted_lines
from addons.sales.proposals.kind import DELETE, KIND, TRANSITIONS, UPDATE
from addons.sales.proposals.lines import (
    add_row,
    fill_lines,
    load_lines,
    rows_requested,
    set_totals,
    sync_lines,
)
from core.security import has_permission
from core.ui import Column
from core.ui.formview import FormView
from core.web import db_session


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


def transition_label(status: str) -> str:
    """The card's button that moves a proposal to ``status``."""
    return {
        "sent": _("Send"),
        "accepted": _("Accepted"),
        "rejected": _("Rejected"),
        "draft": _("Back to draft"),
    }[status]


def proposal_card(record: Proposal) -> dict[str, Any]:
    """The card's extras: status and its actions, links, the saved totals."""
    return {
        **card_context(KIND, record),
        "can_update": has_permission(UPDATE) and record.status == "draft",
        "can_change_status": has_permission(UPDATE),
        "transitions": [(s, transition_label(s)) for s in TRANSITIONS.get(record.status, ())],
        "opportunity_url": (
            safe_url("sales.opportunity", record_id=record.opportunity_id)
            if record.opportunity_id
            else ""
        ),
        "contract_url": (
            safe_url("sales.contract_from_proposal", record_id=record.id)
            if has_permission("sales.contract.create")
            else ""
        ),
        "net": Decimal(record.total) - Decimal(record.vat_total),
    }


PROPOSAL_FORM = document_form_view(
    ProposalFormView,
    KIND,
    ProposalForm,
    FIELDS,
    update=UPDATE,
    delete=DELETE,
    prepare=prepare,
    context=proposal_card,
)
PROPOSALS = document_list(
    KIND,
    [
        number_column(KIND),
        Column("issued_on", _l("Date"), Proposal.issued_on),
        counterparty_column(),
        amount_column("total", _l("Total"), Proposal.total),
        currency_column(KIND),
        status_column(KIND),
    ],
    empty_message=_l("No proposals yet."),
)
