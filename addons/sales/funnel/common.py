"""What every part of the funnel area uses: the rights, the deal statuses, and the words
for a recorded stage move (the card's history and the counterparty's chronology)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from addons.sales.models import OPPORTUNITY, PipelineStage, StageMove
from core.ui.timeline import register_icon

READ = "sales.opportunity.read"
CREATE = "sales.opportunity.create"
UPDATE = "sales.opportunity.update"
DELETE = "sales.opportunity.delete"
EXPORT = "sales.opportunity.export"
CONFIGURE = "sales.pipeline.update"

STATUS_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}

register_icon(OPPORTUNITY, "funnel")


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def stage_moves(*columns: Any) -> Select[Any]:
    """Recorded moves, newest first, with what :func:`describe_move` reads: the status,
    who, and the names of the stages moved from and to (plus ``columns``)."""
    old, new = aliased(PipelineStage), aliased(PipelineStage)
    return (
        select(
            StageMove.moved_at,
            StageMove.status,
            StageMove.user_id,
            StageMove.from_stage_id,
            StageMove.to_stage_id,
            old.name.label("from_name"),
            new.name.label("to_name"),
            *columns,
        )
        .outerjoin(old, old.id == StageMove.from_stage_id)
        .outerjoin(new, new.id == StageMove.to_stage_id)
        .order_by(StageMove.moved_at.desc(), StageMove.id.desc())
    )


def describe_move(row: Any) -> str:
    """What a recorded move did, in words (card history, chronology)."""
    if row.status == "won":
        return _("Won")
    if row.status == "lost":
        return _("Lost")
    if row.from_stage_id is None:
        return _("Created at the stage %(stage)s", stage=row.to_name or "—")
    if row.from_stage_id == row.to_stage_id:
        return _("Reopened at the stage %(stage)s", stage=row.to_name or "—")
    return _("Moved from %(old)s to %(new)s", old=row.from_name or "—", new=row.to_name or "—")
