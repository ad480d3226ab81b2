"""``sales.stage_changed``: the responsible manager hears of a deal someone else moved,
closed or reopened (when the notifications addon is on: a soft dependency)."""

from __future__ import annotations

from flask import has_app_context, has_request_context, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from addons.sales.models import Opportunity, PipelineStage, StageMove
from core.models import User
from core.web import kernel

STAGE_CHANGED = "sales.stage_changed"


def _notifications_on() -> bool:
    return has_app_context() and kernel().is_enabled("notifications")


def _title(opp: Opportunity, move: StageMove, stage_name: str) -> str:
    if move.status == "won":
        return _("Deal “%(name)s” is won", name=opp.name)
    if move.status == "lost":
        return _("Deal “%(name)s” is lost", name=opp.name)
    if move.from_stage_id == move.to_stage_id:
        return _("Deal “%(name)s” is reopened", name=opp.name)
    return _("Deal “%(name)s” moved to %(stage)s", name=opp.name, stage=stage_name)


def stage_changed(session: Session, opp: Opportunity, move: StageMove, user_id: int | None) -> None:
    """Tell the responsible manager, unless they moved the deal themselves."""
    if not opp.responsible_id or opp.responsible_id == user_id or not _notifications_on():
        return
    from addons.notifications.events import raise_event

    session.flush()  # the move's id keys the event
    stage = session.get(PipelineStage, opp.stage_id)
    title = _title(opp, move, stage.name if stage is not None else "—")
    actor = session.get(User, user_id) if user_id else None
    who = (actor.name or actor.login) if actor is not None else ""
    body = _("By %(who)s.", who=who) if who else ""
    url = (
        url_for("sales.opportunity", record_id=opp.id)
        if has_request_context()
        else f"/sales/opportunities/{opp.id}"
    )
    raise_event(
        session,
        STAGE_CHANGED,
        f"{opp.id}:{move.id}",
        title,
        body,
        url,
        recipients=[opp.responsible_id],
    )
