"""The sales board: a pipeline's open deals as kanban columns by stage, dragged from stage
to stage (see the package docstring for why it scales)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select, tuple_
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.sales.funnel.api import (
    POSITION_STEP,
    FunnelError,
    default_pipeline,
    move_to_stage,
    pipeline_stages,
)
from addons.sales.funnel.common import CONFIGURE, CREATE, READ, UPDATE
from addons.sales.models import OPPORTUNITY, Opportunity, Pipeline, PipelineStage
from addons.sales.shared import id_or_none, row_or_404
from addons.sales.views import bp, scoped
from core.security import has_permission, require
from core.ui.formview import commit_unless_changed
from core.ui.widgets import (
    Kanban,
    KanbanCard,
    KanbanColumn,
    KanbanRefused,
    KanbanTotal,
    drop_position,
)
from core.web import db_session

BOARD_PAGE = 25
MAX_DROP_INDEX = 100_000  # a drop "below card N": no board shows more cards than this


@dataclass(frozen=True)
class OpportunityCard(KanbanCard):
    """A deal on the board: its card also shows the currency and the expected close."""

    currency: str = ""
    expected_close: date | None = None


@dataclass
class OpportunityBoard:
    """The open deals of one pipeline as a :class:`core.ui.widgets.KanbanSource`: columns
    are the stages (keys: stage ids as text), cards are read with their counterparty's
    name in the same query, and a drop goes through :func:`move_to_stage`."""

    pipeline: Pipeline
    stages: Sequence[PipelineStage]

    def _stage(self, column: str) -> PipelineStage | None:
        return next((s for s in self.stages if str(s.id) == column), None)

    def _open(self, stmt: Any) -> Any:
        """Open deals of the pipeline that the user reaches."""
        stmt = stmt.where(Opportunity.status == "open", Opportunity.pipeline_id == self.pipeline.id)
        return scoped(stmt, Opportunity, OPPORTUNITY)

    def columns(self) -> Sequence[KanbanColumn]:
        return [KanbanColumn(str(s.id), s.name, "kanban-accent-primary") for s in self.stages]

    def totals(self) -> dict[str, KanbanTotal]:
        """Per stage: all open deals, and the sum of those in the pipeline's currency."""
        in_currency = case(
            (Opportunity.currency == self.pipeline.currency, Opportunity.amount), else_=None
        )
        stmt = self._open(
            select(Opportunity.stage_id, func.count(), func.sum(in_currency))
            .where(Opportunity.stage_id.in_([s.id for s in self.stages]))
            .group_by(Opportunity.stage_id)
        )
        return {
            str(stage_id): KanbanTotal(count, Decimal(total or 0))
            for stage_id, count, total in db_session().execute(stmt)
        }

    def _select(self) -> Any:
        return self._open(
            select(
                Opportunity.id,
                Opportunity.name,
                Opportunity.stage_id,
                Opportunity.position,
                Opportunity.amount,
                Opportunity.currency,
                Opportunity.expected_close,
                Counterparty.name.label("counterparty"),
            ).join(Counterparty, Counterparty.id == Opportunity.counterparty_id)
        )

    @staticmethod
    def _card(row: Any) -> OpportunityCard:
        return OpportunityCard(
            id=row.id,
            column=str(row.stage_id),
            title=row.name,
            key=(row.position, row.id),
            text=row.counterparty,
            amount=row.amount,
            url=url_for("sales.opportunity", record_id=row.id),
            currency=row.currency,
            expected_close=row.expected_close,
        )

    def cards(
        self, column: str, after: tuple[Any, ...] | None, limit: int
    ) -> list[OpportunityCard]:
        stage = self._stage(column)
        if stage is None:
            return []
        stmt = self._select().where(Opportunity.stage_id == stage.id)
        if after is not None:
            stmt = stmt.where(tuple_(Opportunity.position, Opportunity.id) > tuple_(*after[:2]))
        stmt = stmt.order_by(Opportunity.position, Opportunity.id).limit(limit)
        return [self._card(row) for row in db_session().execute(stmt)]

    def get(self, card_id: str) -> OpportunityCard | None:
        record_id = id_or_none(card_id)
        if record_id is None:
            return None
        row = db_session().execute(self._select().where(Opportunity.id == record_id)).first()
        return None if row is None else self._card(row)

    def _slot(self, db: Session, stage: PipelineStage, opp: Opportunity, index: int) -> int | None:
        """The position for a card dropped with ``index`` visible cards above it: between
        its neighbours, above the first card, or ``None`` (last)."""
        others = self._open(
            select(Opportunity.position).where(
                Opportunity.stage_id == stage.id, Opportunity.id != opp.id
            )
        ).order_by(Opportunity.position, Opportunity.id)
        return drop_position(db, others, index, POSITION_STEP)

    def move(self, card: KanbanCard, column: str, position: int) -> None:
        """Put the deal between the cards the user dropped it between (among those of the
        column they see), then save through the API."""
        db = db_session()
        stage = self._stage(column)
        opp = db.get(Opportunity, card.id)
        if stage is None or opp is None:
            raise KanbanRefused(_("This card no longer exists."))
        at = self._slot(db, stage, opp, min(position, MAX_DROP_INDEX))
        try:
            saved = commit_unless_changed(
                db, lambda: move_to_stage(db, opp, stage, current_user.id, position=at)
            )
        except FunnelError as exc:
            db.rollback()
            raise KanbanRefused(str(exc)) from exc
        if not saved:
            raise KanbanRefused(
                _("Someone changed this deal meanwhile; reload the board and try again.")
            )


def pipeline_board(pipeline: Pipeline) -> Kanban:
    """The board of one pipeline (cards and moves go to its own URLs)."""
    source = OpportunityBoard(pipeline, pipeline_stages(db_session(), pipeline.id))
    return Kanban(
        name="sales_board",
        source=source,
        page_endpoint="sales.board_cards",
        move_endpoint="sales.board_move",
        move_permission=UPDATE,
        page_size=BOARD_PAGE,
        show_amounts=True,
        url_args={"pipeline_id": pipeline.id},
        card_template="sales/funnel_board_card.html",
    )


@bp.get("/board")
@require(READ)
def board() -> ResponseReturnValue:
    """The board of the default pipeline (made on first use)."""
    db = db_session()
    pipeline = default_pipeline(db)
    db.commit()
    return redirect(url_for("sales.board_pipeline", pipeline_id=pipeline.id))


@bp.get("/board/<int:pipeline_id>")
@require(READ)
def board_pipeline(pipeline_id: int) -> ResponseReturnValue:
    """One pipeline's open deals by stage, with a switcher to the other pipelines."""
    pipeline = row_or_404(Pipeline, pipeline_id)
    active = select(Pipeline).where(Pipeline.active.is_(True)).order_by(Pipeline.sort, Pipeline.id)
    return render_template(
        "sales/funnel_board.html",
        pipeline=pipeline,
        pipelines=list(db_session().scalars(active)),
        board=pipeline_board(pipeline),
        can_create=has_permission(CREATE),
        can_configure=has_permission(CONFIGURE),
        breadcrumbs=[(_("Sales board"), None)],
    )


@bp.get("/board/<int:pipeline_id>/cards")
@require(READ)
def board_cards(pipeline_id: int) -> ResponseReturnValue:
    """The next cards of a column ("Show more")."""
    return pipeline_board(row_or_404(Pipeline, pipeline_id)).page()


@bp.post("/board/<int:pipeline_id>/move")
@require(READ)
def board_move(pipeline_id: int) -> ResponseReturnValue:
    """A drop on the board (the kanban checks ``sales.opportunity.update`` itself)."""
    return pipeline_board(row_or_404(Pipeline, pipeline_id)).move()
