"""The contract's card (a form view with optimistic locking) and the list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from addons.sales.contracts.forms import FIELDS, ContractForm, prepare
from addons.sales.contracts.kind import DELETE, KIND, UPDATE
from addons.sales.documents.fields import refresh_requested
from addons.sales.documents.pages import (
    amount_column,
    card_context,
    counterparty_column,
    currency_column,
    document_form_view,
    document_list,
    number_column,
    status_column,
)
from addons.sales.models import Contract
from addons.sales.proposals.kind import KIND as PROPOSAL_KIND
from core.ui import Column
from core.ui.formview import FormView
from core.web import db_session


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
    proposal_url = PROPOSAL_KIND.card_url(record.proposal_id) if record.proposal_id else ""
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
