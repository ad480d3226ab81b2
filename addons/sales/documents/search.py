"""Finding a kind's documents for the hooks: by number (the global search) and by
counterparty (its timeline), always within the user's record scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.models import Counterparty
from addons.sales.documents import DocumentKind
from addons.sales.shared import of_counterparty
from addons.sales.views import scoped
from core.hooktypes import SearchResult
from core.security import has_permission
from core.ui.formview import MAX_ID
from core.ui.listview import escape_like
from core.web import db_session

TIMELINE_LIMIT = 200


def counterparty_rows(
    kind: DocumentKind,
    subject: str,
    subject_id: int,
    user: Any,
    columns: Sequence[Any],
    *where: Any,
    order_by: Sequence[Any],
) -> list[Any]:
    """``columns`` of a counterparty's documents the user reaches (for its timeline), at
    most :data:`TIMELINE_LIMIT`; nothing for another subject, an absurd id or without the
    right to read."""
    if subject != COUNTERPARTY or not has_permission(kind.read, user):
        return []
    if not 0 < int(subject_id) <= MAX_ID:
        return []
    stmt = select(*columns).where(*where).order_by(*order_by).limit(TIMELINE_LIMIT)
    return list(
        db_session().execute(of_counterparty(stmt, kind.model, kind.subject, int(subject_id), user))
    )


def search_by_number(kind: DocumentKind, user: Any, query: str, limit: int) -> list[SearchResult]:
    """Documents whose number contains ``query``, within the user's scope."""
    text = " ".join(query.split())[:100]
    if not text or not has_permission(kind.read, user):
        return []
    model = kind.model
    stmt = (
        select(model.id, model.number, Counterparty.name)
        .join(Counterparty, Counterparty.id == model.counterparty_id)
        .where(func.lower(model.number).like(f"%{escape_like(text.lower())}%", escape="\\"))
        .order_by(model.number.desc())
        .limit(limit)
    )
    rows = db_session().execute(scoped(stmt, model, kind.subject, user))
    return [
        SearchResult(kind.subject, kind.title(number), kind.card_url(rid), snippet=name)
        for rid, number, name in rows
    ]
