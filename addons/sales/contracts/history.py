"""The counterparty's purchase history (CL-5), a tab of its card: its proposals and
contracts the user reaches, with the totals of accepted proposals and active contracts
per currency."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask import abort, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select

from addons.crm_base.notes import counterparty_or_404
from addons.sales.contracts.kind import CREATE, KIND, READ, STATUS_LABELS
from addons.sales.documents import DocumentKind
from addons.sales.documents.amounts import money_text
from addons.sales.models import Contract, Proposal
from addons.sales.proposals import kind as proposal_kind
from addons.sales.shared import (
    COUNTERPARTY_READ,
    counterparty_tab,
    of_counterparty,
    on_reached_card,
)
from addons.sales.views import bp
from core.hooktypes import CardTab
from core.security import has_permission, require
from core.web import db_session

HISTORY_LIMIT = 100


def purchases(
    kind: DocumentKind, counterparty_id: int, order_by: Sequence[Any], amount: Any, counted: str
) -> tuple[list[Any], list[tuple[str, Decimal]]]:
    """The counterparty's documents of ``kind`` the user reaches, newest first (at most
    :data:`HISTORY_LIMIT`), and the sums of ``amount`` of those in status ``counted``
    per currency."""
    db = db_session()
    model = kind.model
    stmt = select(model).order_by(*order_by).limit(HISTORY_LIMIT)
    records = list(db.scalars(of_counterparty(stmt, model, kind.subject, counterparty_id)))
    sums = select(model.currency, func.sum(amount)).where(model.status == counted)
    sums = of_counterparty(sums.group_by(model.currency), model, kind.subject, counterparty_id)
    rows = db.execute(sums)
    return records, [(currency, Decimal(total or 0)) for currency, total in rows]


def history_rows(counterparty_id: int) -> dict[str, Any]:
    """The counterparty's proposals and contracts the user may read (``None`` for a kind
    they may not), with the accepted / active totals per currency."""
    found: dict[str, Any] = {"proposals": None, "contracts": None}
    if has_permission(proposal_kind.READ):
        order = (Proposal.issued_on.desc(), Proposal.id.desc())
        found["proposals"], found["accepted"] = purchases(
            proposal_kind.KIND, counterparty_id, order, Proposal.total, "accepted"
        )
    if has_permission(READ):
        order = (Contract.id.desc(),)
        found["contracts"], found["active"] = purchases(
            KIND, counterparty_id, order, Contract.amount, "active"
        )
    return found


@bp.get("/counterparties/<int:record_id>/purchases")
@require(COUNTERPARTY_READ)
def purchase_history(record_id: int) -> ResponseReturnValue:
    """The "Purchase history" tab of a counterparty's card (CL-5): a fragment for the
    card's htmx load, a page of its own otherwise."""
    if not (has_permission(proposal_kind.READ) or has_permission(READ)):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    return counterparty_tab(
        "sales/contract_history_tab.html",
        _("Purchase history"),
        counterparty,
        **history_rows(counterparty.id),
        proposal_labels=proposal_kind.STATUS_LABELS,
        contract_labels=STATUS_LABELS,
        money=money_text,
        can_create_proposal=has_permission(proposal_kind.CREATE),
        can_create_contract=has_permission(CREATE),
    )


def purchases_tab(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Purchase history" on a counterparty's card, with how many documents it shows."""
    readable = [kind for kind in (proposal_kind.KIND, KIND) if has_permission(kind.read, user)]
    if not readable or not on_reached_card(subject, subject_id, user):
        return []
    counts = [
        of_counterparty(
            select(func.count(kind.model.id)), kind.model, kind.subject, int(subject_id), user
        ).scalar_subquery()
        for kind in readable
    ]
    count = sum(n or 0 for n in db_session().execute(select(*counts)).one())  # one query
    url = url_for("sales.purchase_history", record_id=int(subject_id))
    return [CardTab("sales.purchases", _("Purchase history"), url, order=70, count=count or None)]
