"""The global search's deals: by name, within the user's scope."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from addons.crm_base.models import Counterparty
from addons.sales.funnel.common import READ, status_label
from addons.sales.models import OPPORTUNITY, Opportunity
from addons.sales.views import scoped
from core.hooktypes import SearchResult
from core.security import has_permission
from core.ui.listview import search_condition
from core.web import db_session


def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Deals whose name contains ``query``, within the user's scope."""
    if not has_permission(READ, user) or not query.strip():
        return []
    db = db_session()
    condition = search_condition(
        [Opportunity.name], query.strip(), "contains", db.get_bind().dialect.name
    )
    stmt = (
        select(Opportunity.id, Opportunity.name, Counterparty.name, Opportunity.status)
        .join(Counterparty, Counterparty.id == Opportunity.counterparty_id)
        .where(condition)
        .order_by(Opportunity.name, Opportunity.id)
        .limit(limit)
    )
    return [
        SearchResult(
            OPPORTUNITY,
            name,
            url_for("sales.opportunity", record_id=rid),
            snippet=f"{counterparty} · {status_label(status)}",
        )
        for rid, name, counterparty, status in db.execute(
            scoped(stmt, Opportunity, OPPORTUNITY, user)
        )
    ]
