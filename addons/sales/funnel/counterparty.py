"""Deals on the counterparty's card: the "Opportunities" tab and the chronology of their
moves."""

from __future__ import annotations

from typing import Any

from flask import abort, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select

from addons.crm_base.notes import TIMELINE_LIMIT, counterparty_or_404
from addons.sales.funnel.common import CREATE, READ, STATUS_LABELS, describe_move, stage_moves
from addons.sales.models import OPPORTUNITY, LostReason, Opportunity, PipelineStage, StageMove
from addons.sales.shared import (
    COUNTERPARTY_READ,
    counterparty_tab,
    of_counterparty,
    on_counterparty_card,
)
from addons.sales.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.security import has_permission, require, user_names
from core.ui.timeline import aware
from core.ui.widgets import format_amount
from core.web import db_session

TAB_LIMIT = 200


@bp.get("/counterparties/<int:record_id>/opportunities")
@require(READ)
def counterparty_opportunities(record_id: int) -> ResponseReturnValue:
    """The "Opportunities" tab of a counterparty's card (a fragment for htmx, else a page)."""
    if not has_permission(COUNTERPARTY_READ):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    stmt = select(
        Opportunity.id,
        Opportunity.name,
        Opportunity.status,
        Opportunity.amount,
        Opportunity.currency,
        Opportunity.probability,
        Opportunity.expected_close,
        PipelineStage.name.label("stage"),
        Opportunity.responsible_id,
    ).join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
    stmt = of_counterparty(stmt, Opportunity, OPPORTUNITY, counterparty.id).order_by(
        Opportunity.id.desc()
    )
    rows = db_session().execute(stmt.limit(TAB_LIMIT + 1)).all()
    return counterparty_tab(
        "sales/funnel_tab.html",
        _("Opportunities"),
        counterparty,
        rows=rows[:TAB_LIMIT],
        more=len(rows) > TAB_LIMIT,
        names=user_names(r.responsible_id for r in rows),
        status_labels=STATUS_LABELS,
        format_amount=format_amount,
        can_create=has_permission(CREATE),
    )


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's deals created, moved, won, lost and reopened, newest first,
    for the deals the user may see."""
    if not on_counterparty_card(subject, subject_id, user, READ):
        return []
    stmt = (
        stage_moves(
            Opportunity.id.label("opportunity_id"),
            Opportunity.name,
            Opportunity.lost_note,
            Opportunity.status.label("now"),
            LostReason.name.label("reason"),
        )
        .join(Opportunity, Opportunity.id == StageMove.opportunity_id)
        .outerjoin(LostReason, LostReason.id == Opportunity.lost_reason_id)
        .limit(TIMELINE_LIMIT)
    )
    rows = (
        db_session()
        .execute(of_counterparty(stmt, Opportunity, OPPORTUNITY, int(subject_id), user))
        .all()
    )
    names = user_names(r.user_id for r in rows)
    entries = []
    for row in rows:
        who = names.get(row.user_id or 0, "")
        body = [_("By %(who)s.", who=who)] if who else []
        if row.status == "lost" and row.now == "lost":
            body += [v for v in (row.reason, row.lost_note) if v]
        entries.append(
            TimelineEntry(
                aware(row.moved_at),
                OPPORTUNITY,
                _("Deal “%(name)s”: %(what)s", name=row.name, what=describe_move(row)),
                "\n".join(body),
                url_for("sales.opportunity", record_id=row.opportunity_id),
            )
        )
    return entries


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Opportunities" on a counterparty's card, with how many the user may see."""
    if not on_counterparty_card(subject, subject_id, user, READ):
        return []
    query = of_counterparty(
        select(Opportunity.id), Opportunity, OPPORTUNITY, int(subject_id), user
    ).subquery()
    count = db_session().scalar(select(func.count()).select_from(query)) or 0
    url = url_for("sales.counterparty_opportunities", record_id=int(subject_id))
    return [CardTab("sales.opportunities", _("Opportunities"), url, order=30, count=count)]
