"""The funnel's rules, for the pages here and for other areas and addons (see the package
docstring). None of these functions commits: the caller does."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.sales.funnel.notify import stage_changed
from addons.sales.models import LostReason, Opportunity, Pipeline, PipelineStage, StageMove
from addons.sales.shared import CURRENCIES, MAX_AMOUNT
from core.db import utcnow
from core.ui.widgets import POSITION_STEP, make_room

DEFAULT_PIPELINE = "Продажі"
DEFAULT_STAGES = (("Кваліфікація", 10), ("Потреби", 25), ("Пропозиція", 50), ("Переговори", 75))
STAGE_STEP = 10  # stage sorts are 10, 20, 30…: room to insert without renumbering
CENT = Decimal("0.01")


class FunnelError(ValueError):
    """A move or close the funnel's rules forbid; the message is for the user."""


def pipeline_stages(session: Session, pipeline_id: int) -> list[PipelineStage]:
    """The stages of a pipeline in board order."""
    return list(
        session.scalars(
            select(PipelineStage)
            .where(PipelineStage.pipeline_id == pipeline_id)
            .order_by(PipelineStage.sort, PipelineStage.id)
        )
    )


def default_pipeline(session: Session) -> Pipeline:
    """The first active pipeline; "Продажі" with the usual four stages when there is none
    (an inactive "Продажі" is made active again rather than duplicated)."""
    first = session.scalars(
        select(Pipeline).where(Pipeline.active.is_(True)).order_by(Pipeline.sort, Pipeline.id)
    ).first()
    if first is not None:
        return first
    pipeline = session.scalars(select(Pipeline).where(Pipeline.name == DEFAULT_PIPELINE)).first()
    if pipeline is None:
        pipeline = Pipeline(name=DEFAULT_PIPELINE, sort=0, currency="UAH")
        session.add(pipeline)
        session.flush()
    pipeline.active = True
    if not pipeline_stages(session, pipeline.id):
        session.add_all(
            PipelineStage(
                pipeline_id=pipeline.id, name=name, sort=n * STAGE_STEP, probability=probability
            )
            for n, (name, probability) in enumerate(DEFAULT_STAGES, start=1)
        )
    session.flush()
    return pipeline


def _end_of_column(session: Session, stage_id: int, but: int | None = None) -> int:
    """The position of a card put last among the open cards of a stage (an index seek)."""
    stmt = select(func.max(Opportunity.position)).where(
        Opportunity.stage_id == stage_id, Opportunity.status == "open"
    )
    if but is not None:
        stmt = stmt.where(Opportunity.id != but)
    top = session.scalar(stmt)
    return 0 if top is None else int(top) + POSITION_STEP


def _check_money(amount: Decimal, currency: str) -> None:
    if not Decimal(0) <= amount <= MAX_AMOUNT:
        raise FunnelError(_("The amount must be between 0 and %(max)s.", max=MAX_AMOUNT))
    if currency not in CURRENCIES:
        raise FunnelError(_("Unknown currency %(code)s.", code=currency))


def _start_stage(session: Session, pipeline_id: int | None, stage_id: int | None) -> PipelineStage:
    """Where a new deal starts: ``stage_id``, else the first stage of ``pipeline_id`` (else
    of the default pipeline); a stage of another pipeline is refused."""
    stage = session.get(PipelineStage, stage_id) if stage_id is not None else None
    if stage_id is not None and stage is None:
        raise FunnelError(_("Unknown stage."))
    if pipeline_id is None:
        pipeline_id = stage.pipeline_id if stage is not None else default_pipeline(session).id
    elif session.get(Pipeline, pipeline_id) is None:
        raise FunnelError(_("Unknown pipeline."))
    if stage is None:
        stages = pipeline_stages(session, pipeline_id)
        if not stages:
            raise FunnelError(_("The pipeline has no stages yet."))
        return stages[0]
    if stage.pipeline_id != pipeline_id:
        raise FunnelError(_("This stage belongs to another pipeline."))
    return stage


def create_opportunity(
    session: Session,
    *,
    counterparty_id: int,
    name: str,
    responsible_id: int | None,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    amount: Decimal = Decimal(0),
    currency: str = "UAH",
    source_id: int | None = None,
    campaign_id: int | None = None,
    person_id: int | None = None,
    user_id: int | None = None,
) -> Opportunity:
    """A new open deal; see the package docstring. Raises :class:`FunnelError` for an
    unknown pipeline, a stage of another pipeline or a pipeline without stages."""
    _check_money(Decimal(amount), currency)
    stage = _start_stage(session, pipeline_id, stage_id)
    opp = Opportunity(
        name=name,
        counterparty_id=counterparty_id,
        person_id=person_id,
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        status="open",
        amount=Decimal(amount).quantize(CENT),
        currency=currency,
        probability=stage.probability,
        responsible_id=responsible_id,
        source_id=source_id,
        campaign_id=campaign_id,
        position=_end_of_column(session, stage.id),
        reached_sort=stage.sort,
    )
    session.add(opp)
    session.flush()
    session.add(
        StageMove(opportunity_id=opp.id, to_stage_id=stage.id, status="open", user_id=user_id)
    )
    session.flush()
    return opp


def _make_room(session: Session, opp: Opportunity, stage_id: int, position: int) -> None:
    """If another open card of the stage holds ``position``, shift it (and the cards right
    below it without a gap) down by one. No autoflush: the deal's own changes go out later
    in one UPDATE."""
    at = (
        Opportunity.stage_id == stage_id,
        Opportunity.status == "open",
        Opportunity.id != opp.id,
    )
    with session.no_autoflush:
        make_room(session, Opportunity, Opportunity.position, at, position)


def move_to_stage(
    session: Session,
    opp: Opportunity,
    stage: PipelineStage,
    user_id: int | None,
    position: int | None = None,
    probability: int | None = None,
) -> StageMove | None:
    """Move an open deal to ``stage`` (or to ``position`` in its column); see the package
    docstring. ``probability`` replaces the stage's default (the card's form, where the
    user may have typed one). Returns the recorded move, ``None`` for a reorder inside
    the column."""
    if opp.status != "open":
        raise FunnelError(_("The deal is closed: reopen it before moving it."))
    if stage.pipeline_id != opp.pipeline_id:
        raise FunnelError(_("This stage belongs to another pipeline."))
    if position is None:
        opp.position = _end_of_column(session, stage.id, but=opp.id)
    else:
        _make_room(session, opp, stage.id, position)
        opp.position = position
    if opp.stage_id == stage.id:
        return None  # a new place in the same column: not a stage change
    from_stage = opp.stage_id
    opp.stage_id = stage.id
    opp.probability = stage.probability if probability is None else probability
    opp.reached_sort = max(opp.reached_sort or 0, stage.sort)
    return _record(session, opp, from_stage, "open", user_id)


def _check_open(opp: Opportunity) -> None:
    if opp.status != "open":
        raise FunnelError(_("The deal is already closed."))


def _close(
    session: Session,
    opp: Opportunity,
    status: str,
    user_id: int | None,
    reason_id: int | None = None,
    note: str = "",
) -> StageMove:
    """Won (probability 100) or lost (0), closed now."""
    opp.status, opp.closed_at = status, utcnow()
    opp.probability = 100 if status == "won" else 0
    opp.lost_reason_id, opp.lost_note = reason_id, note
    _reach(session, opp)
    return _record(session, opp, opp.stage_id, status, user_id)


def close_won(session: Session, opp: Opportunity, user_id: int | None) -> StageMove:
    """The deal is won: probability 100, closed now."""
    _check_open(opp)
    return _close(session, opp, "won", user_id)


def close_lost(
    session: Session, opp: Opportunity, reason_id: int | None, note: str, user_id: int | None
) -> StageMove:
    """The deal is lost for ``reason_id`` (a ``sales_lost_reason``) with a note."""
    _check_open(opp)
    if reason_id is not None and session.get(LostReason, reason_id) is None:
        raise FunnelError(_("Unknown lost reason."))
    return _close(session, opp, "lost", user_id, reason_id, note or "")


def reopen(session: Session, opp: Opportunity, user_id: int | None) -> StageMove:
    """A closed deal is open again at its stage, last in the column."""
    if opp.status == "open":
        raise FunnelError(_("The deal is already open."))
    stage = session.get(PipelineStage, opp.stage_id)
    opp.status, opp.closed_at = "open", None
    opp.lost_reason_id, opp.lost_note = None, ""
    opp.probability = stage.probability if stage is not None else opp.probability
    opp.position = _end_of_column(session, opp.stage_id, but=opp.id)
    _reach(session, opp)
    return _record(session, opp, opp.stage_id, "open", user_id)


def _reach(session: Session, opp: Opportunity) -> None:
    stage = session.get(PipelineStage, opp.stage_id)
    if stage is not None:
        opp.reached_sort = max(opp.reached_sort or 0, stage.sort)


def _record(
    session: Session, opp: Opportunity, from_stage: int | None, status: str, user_id: int | None
) -> StageMove:
    move = StageMove(
        opportunity_id=opp.id,
        from_stage_id=from_stage,
        to_stage_id=opp.stage_id,
        status=status,
        user_id=user_id,
    )
    session.add(move)
    stage_changed(session, opp, move, user_id)
    return move
