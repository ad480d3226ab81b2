"""sales: the sales funnel (MS-2) — opportunities moving through the ordered stages of a
pipeline, won or lost with a reason; a list, a card, a kanban board per pipeline, a tab and
chronology entries on the counterparty's card.

Public API (other areas and addons call these; none of them commits — the caller does):

- ``default_pipeline(session) -> Pipeline``: the first active pipeline (by ``sort``, id);
  when there is none, creates "Продажі" with the stages Кваліфікація 10 %, Потреби 25 %,
  Пропозиція 50 %, Переговори 75 %.
- ``create_opportunity(session, *, counterparty_id, name, responsible_id, pipeline_id=None,
  stage_id=None, amount=Decimal(0), currency="UAH", source_id=None, campaign_id=None,
  person_id=None, user_id=None) -> Opportunity``: at the pipeline's first stage (or
  ``stage_id``), its probability taken from the stage, last in the board's column, with
  ``reached_sort`` = the stage's sort and a first :class:`StageMove` (``from`` empty).
- ``move_to_stage(session, opp, stage, user_id, position=None)``: an open deal to another
  stage of its pipeline (probability = the stage's default), or to another place in the
  same column. ``position`` is the card's new ``position`` value; only if another open
  card of the stage holds it do the cards from there down shift by one (one UPDATE);
  ``None`` puts it last.
- ``close_won(session, opp, user_id)``, ``close_lost(session, opp, reason_id, note,
  user_id)``, ``reopen(session, opp, user_id)``: close (probability 100 / 0, ``closed_at``)
  or reopen (at its stage, last in the column, the stage's probability).

Each of the last four records a :class:`StageMove` when the stage or the status changes
(a reorder inside a column records nothing), keeps ``reached_sort = max(reached_sort,
stage.sort)``, and, when the notifications addon is enabled (a soft dependency), raises
``sales.stage_changed`` to the responsible manager unless they made the change
themselves. Rule breaks (a stage of another pipeline, moving a closed deal, closing one
twice) raise :class:`FunnelError` with a message for the user.

Why the board is the way it is: a column is a keyset scan of the index
``ix_sales_opportunity_board (stage_id, status, position, id)``, so a stage holding 10,000
deals costs what one holding 20 costs; the column headers are one GROUP BY. Positions are
spaced ``POSITION_STEP`` apart, so a drop usually lands between its two neighbours (or
above the first card) without renumbering the column; only a drop between two adjacent
positions shifts the cards below it. Sums are of
the deals in the pipeline's currency only (amounts in different currencies do not add
up); the other deals are counted. Record scope (own / team / all through
``responsible_id``) applies to the list, the board, the card, the tab, the chronology and
search alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import (
    abort,
    flash,
    has_app_context,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import case, func, select, tuple_, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
    ValidationError,
)

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import Counterparty
from addons.crm_base.notes import counterparty_or_404, reaches_counterparty, wants_fragment
from addons.crm_base.persons import counterparty_ref, resolve_counterparty
from addons.sales.models import (
    OPPORTUNITY,
    LostReason,
    Opportunity,
    Pipeline,
    PipelineStage,
    Source,
    StageMove,
)
from addons.sales.sources import source_choices
from addons.sales.views import active_users, bp, menu, record_or_404, scoped
from core.db import utcnow
from core.hooktypes import (
    CardTab,
    MenuItem,
    NotificationEventType,
    PermissionDef,
    SearchResult,
    TimelineEntry,
)
from core.models import User
from core.security import has_permission, require, user_names
from core.ui import ChoiceFilter, Column, DateRangeFilter, ListView, RelatedFilter
from core.ui.formview import MAX_ID, FormView, LockFields, plain
from core.ui.listview import search_condition
from core.ui.timeline import aware, register_icon
from core.ui.widgets import (
    Kanban,
    KanbanCard,
    KanbanColumn,
    KanbanRefused,
    KanbanTotal,
    format_amount,
)
from core.web import db_session, kernel

READ = "sales.opportunity.read"
CREATE = "sales.opportunity.create"
UPDATE = "sales.opportunity.update"
DELETE = "sales.opportunity.delete"
EXPORT = "sales.opportunity.export"
COUNTERPARTY_READ = "crm_base.counterparty.read"
COUNTERPARTY_SUBJECT = "crm_base.counterparty"
PERSON_SUBJECT = "crm_base.person"
STAGE_CHANGED = "sales.stage_changed"

CURRENCIES = ("UAH", "USD", "EUR")
DEFAULT_PIPELINE = "Продажі"
DEFAULT_STAGES = (("Кваліфікація", 10), ("Потреби", 25), ("Пропозиція", 50), ("Переговори", 75))
STAGE_STEP = 10  # stage sorts are 10, 20, 30…: room to insert without renumbering
MAX_AMOUNT = Decimal("99999999999999.99")  # Numeric(16, 2)
CENT = Decimal("0.01")
TIMELINE_LIMIT = 500
TAB_LIMIT = 200
HISTORY_LIMIT = 200
BOARD_PAGE = 25
MAX_DROP_INDEX = 100_000  # a drop "below card N": no board shows more cards than this
POSITION_STEP = 64  # room between cards: most drops need no renumbering
STATUS_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
FIELDS = (
    "name",
    "counterparty_id",
    "pipeline_id",
    "stage_id",
    "amount",
    "currency",
    "probability",
    "expected_close",
    "responsible_id",
    "source_id",
    "notes",
)

register_icon(OPPORTUNITY, "funnel")


class FunnelError(ValueError):
    """A move or close the funnel's rules forbid; the message is for the user."""


# -- the public API ------------------------------------------------------------------------


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
    """A new open deal; see the module docstring. Raises :class:`FunnelError` for an
    unknown pipeline, a stage of another pipeline or a pipeline without stages."""
    _check_money(Decimal(amount), currency)
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
        stage = stages[0]
    elif stage.pipeline_id != pipeline_id:
        raise FunnelError(_("This stage belongs to another pipeline."))
    opp = Opportunity(
        name=name,
        counterparty_id=counterparty_id,
        person_id=person_id,
        pipeline_id=pipeline_id,
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
    """If another open card of the stage holds ``position``, shift it and the cards below
    it down by one (one UPDATE). No autoflush: the deal's own changes go out later in one
    UPDATE."""
    at = (
        Opportunity.stage_id == stage_id,
        Opportunity.status == "open",
        Opportunity.id != opp.id,
    )
    with session.no_autoflush:
        taken = select(Opportunity.id).where(*at, Opportunity.position == position).limit(1)
        if session.scalar(taken) is None:
            return
        session.execute(
            update(Opportunity)
            .where(*at, Opportunity.position >= position)
            .values(position=Opportunity.position + 1)
            .execution_options(synchronize_session=False)
        )


def _move(
    session: Session,
    opp: Opportunity,
    stage: PipelineStage,
    user_id: int | None,
    position: int | None = None,
    probability: int | None = None,
) -> StageMove | None:
    """:func:`move_to_stage`, with an explicit probability (the card's form, where the
    user may have typed one) instead of the stage's default."""
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


def move_to_stage(
    session: Session,
    opp: Opportunity,
    stage: PipelineStage,
    user_id: int | None,
    position: int | None = None,
) -> StageMove | None:
    """Move an open deal to ``stage`` (or to ``position`` in its column); see the module
    docstring. Returns the recorded move, ``None`` for a reorder inside the column."""
    return _move(session, opp, stage, user_id, position)


def close_won(session: Session, opp: Opportunity, user_id: int | None) -> StageMove:
    """The deal is won: probability 100, closed now."""
    if opp.status != "open":
        raise FunnelError(_("The deal is already closed."))
    opp.status, opp.probability, opp.closed_at = "won", 100, utcnow()
    opp.lost_reason_id, opp.lost_note = None, ""
    _reach(session, opp)
    return _record(session, opp, opp.stage_id, "won", user_id)


def close_lost(
    session: Session, opp: Opportunity, reason_id: int | None, note: str, user_id: int | None
) -> StageMove:
    """The deal is lost for ``reason_id`` (a ``sales_lost_reason``) with a note."""
    if opp.status != "open":
        raise FunnelError(_("The deal is already closed."))
    if reason_id is not None and session.get(LostReason, reason_id) is None:
        raise FunnelError(_("Unknown lost reason."))
    opp.status, opp.probability, opp.closed_at = "lost", 0, utcnow()
    opp.lost_reason_id, opp.lost_note = reason_id, note or ""
    _reach(session, opp)
    return _record(session, opp, opp.stage_id, "lost", user_id)


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
    _notify(session, opp, move, user_id)
    return move


def _notifications_on() -> bool:
    return has_app_context() and kernel().is_enabled("notifications")


def _notify(session: Session, opp: Opportunity, move: StageMove, user_id: int | None) -> None:
    """Tell the responsible manager, unless they moved the deal themselves."""
    if not opp.responsible_id or opp.responsible_id == user_id or not _notifications_on():
        return
    from addons.notifications.events import raise_event

    session.flush()  # the move's id keys the event
    stage = session.get(PipelineStage, opp.stage_id)
    stage_name = stage.name if stage is not None else "—"
    titles = {
        "won": _("Deal “%(name)s” is won", name=opp.name),
        "lost": _("Deal “%(name)s” is lost", name=opp.name),
    }
    if move.status in titles:
        title = titles[move.status]
    elif move.from_stage_id == move.to_stage_id:
        title = _("Deal “%(name)s” is reopened", name=opp.name)
    else:
        title = _("Deal “%(name)s” moved to %(stage)s", name=opp.name, stage=stage_name)
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


# -- the kanban board ----------------------------------------------------------------------


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
        if not card_id.isdigit() or not 0 < int(card_id) <= MAX_ID:
            return None
        row = db_session().execute(self._select().where(Opportunity.id == int(card_id))).first()
        return None if row is None else self._card(row)

    def _slot(self, db: Session, stage: PipelineStage, opp: Opportunity, index: int) -> int | None:
        """The position for a card dropped with ``index`` visible cards above it: between
        its neighbours, above the first card, or ``None`` (last)."""
        others = self._open(
            select(Opportunity.position).where(
                Opportunity.stage_id == stage.id, Opportunity.id != opp.id
            )
        ).order_by(Opportunity.position, Opportunity.id)
        near = list(db.scalars(others.offset(max(index - 1, 0)).limit(2)))
        above = near.pop(0) if index > 0 and near else None
        below = near[0] if near else None
        if below is None:
            return None
        if above is None:
            return below - POSITION_STEP
        return (above + below) // 2 if below - above > 1 else below

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
            move_to_stage(db, opp, stage, current_user.id, position=at)
            db.commit()
        except FunnelError as exc:
            db.rollback()
            raise KanbanRefused(str(exc)) from exc
        except StaleDataError as exc:
            db.rollback()
            raise KanbanRefused(
                _("Someone changed this deal meanwhile; reload the board and try again.")
            ) from exc


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


def _pipeline_or_404(pipeline_id: int) -> Pipeline:
    pipeline = db_session().get(Pipeline, pipeline_id) if 0 < pipeline_id <= MAX_ID else None
    if pipeline is None:
        abort(404)
    return pipeline


def _active_pipelines() -> list[Pipeline]:
    return list(
        db_session().scalars(
            select(Pipeline).where(Pipeline.active.is_(True)).order_by(Pipeline.sort, Pipeline.id)
        )
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
    pipeline = _pipeline_or_404(pipeline_id)
    return render_template(
        "sales/funnel_board.html",
        pipeline=pipeline,
        pipelines=_active_pipelines(),
        board=pipeline_board(pipeline),
        can_create=has_permission(CREATE),
        can_configure=has_permission("sales.pipeline.update"),
        breadcrumbs=[(_("Sales board"), None)],
    )


@bp.get("/board/<int:pipeline_id>/cards")
@require(READ)
def board_cards(pipeline_id: int) -> ResponseReturnValue:
    """The next cards of a column ("Show more")."""
    return pipeline_board(_pipeline_or_404(pipeline_id)).page()


@bp.post("/board/<int:pipeline_id>/move")
@require(READ)
def board_move(pipeline_id: int) -> ResponseReturnValue:
    """A drop on the board (the kanban checks ``sales.opportunity.update`` itself)."""
    return pipeline_board(_pipeline_or_404(pipeline_id)).move()


# -- the list --------------------------------------------------------------------------------

RESPONSIBLE = aliased(User)
RESPONSIBLE_NAME = func.coalesce(func.nullif(RESPONSIBLE.name, ""), RESPONSIBLE.login)


def _pipeline_choices() -> list[tuple[int, str]]:
    stmt = select(Pipeline.id, Pipeline.name).order_by(Pipeline.sort, Pipeline.id)
    return [(pid, name) for pid, name in db_session().execute(stmt)]


def _stage_choices() -> list[tuple[int, str]]:
    stmt = (
        select(PipelineStage.id, Pipeline.name, PipelineStage.name)
        .join(Pipeline, Pipeline.id == PipelineStage.pipeline_id)
        .order_by(Pipeline.sort, Pipeline.id, PipelineStage.sort, PipelineStage.id)
    )
    return [(sid, f"{pipe}: {name}") for sid, pipe, name in db_session().execute(stmt)]


def _source_choices() -> list[tuple[int, str]]:
    stmt = select(Source.id, Source.name).order_by(Source.sort, Source.name)
    return [(sid, name) for sid, name in db_session().execute(stmt)]


def _status(value: str) -> Any:
    return None if value == "all" else Opportunity.status == value


def _whose(value: str) -> Any:
    return Opportunity.responsible_id == current_user.id if value == "mine" else None


def _opportunity_link(row: Any) -> str:
    return url_for("sales.opportunity", record_id=row.id)


OPPORTUNITIES = ListView(
    name="sales_opportunities",
    endpoint="sales.opportunities",
    model=Opportunity,
    title=_l("Opportunities"),
    columns=[
        Column("number", _l("No."), Opportunity.id, sortable=True, css="text-nowrap"),
        Column("name", _l("Name"), Opportunity.name, sortable=True, link=_opportunity_link),
        Column("counterparty", _l("Counterparty"), Counterparty.name, nullable=True),
        Column("pipeline", _l("Pipeline"), Pipeline.name, nullable=True),
        Column("stage", _l("Stage"), PipelineStage.name, nullable=True),
        Column(
            "amount",
            _l("Amount"),
            Opportunity.amount,
            sortable=True,
            format=format_amount,
            css="text-end text-nowrap",
        ),
        Column("currency", _l("Currency"), Opportunity.currency),
        Column(
            "probability",
            _l("Probability"),
            Opportunity.probability,
            css="text-end",
        ),
        Column("expected_close", _l("Expected close"), Opportunity.expected_close, sortable=True),
        Column("responsible", _l("Responsible"), RESPONSIBLE_NAME, nullable=True),
        Column(
            "status",
            _l("Status"),
            Opportunity.status,
            format=lambda v: str(STATUS_LABELS.get(v, v)),
            export_format=lambda v: str(STATUS_LABELS.get(v, v)),
        ),
    ],
    joins=[
        (Counterparty, Counterparty.id == Opportunity.counterparty_id),
        (Pipeline, Pipeline.id == Opportunity.pipeline_id),
        (PipelineStage, PipelineStage.id == Opportunity.stage_id),
        (RESPONSIBLE, RESPONSIBLE.id == Opportunity.responsible_id),
    ],
    search=[Opportunity.name, Counterparty.name],
    filters=[
        ChoiceFilter(
            "status",
            _l("Status"),
            [*STATUS_LABELS.items(), ("all", _l("All"))],
            where=_status,
            default="open",
        ),
        ChoiceFilter(
            "whose",
            _l("Whose"),
            [("all", _l("All I may see")), ("mine", _l("Mine"))],
            where=_whose,
            default="all",
        ),
        ChoiceFilter(
            "pipeline", _l("Pipeline"), _pipeline_choices, Opportunity.pipeline_id, coerce=int
        ),
        RelatedFilter("stage", _l("Stage"), Opportunity.stage_id, choices=_stage_choices),
        RelatedFilter("responsible", _l("Responsible"), Opportunity.responsible_id, active_users),
        ChoiceFilter("source", _l("Source"), _source_choices, Opportunity.source_id, coerce=int),
        DateRangeFilter("expected_close", _l("Expected close"), Opportunity.expected_close),
        RelatedFilter("counterparty", _l("Counterparty"), Opportunity.counterparty_id),
    ],
    default_sort="-number",
    subject=OPPORTUNITY,
    owner=Opportunity.responsible_id,
    export_permission=EXPORT,
    export_endpoint="sales.opportunities_export",
    empty_message=_l("No opportunities yet."),
    template="sales/funnel_list.html",
)


@bp.get("/opportunities")
@require(READ)
def opportunities() -> ResponseReturnValue:
    return OPPORTUNITIES.render(can_create=has_permission(CREATE))


@bp.get("/opportunities/export.<fmt>")
@require(EXPORT)
def opportunities_export(fmt: str) -> ResponseReturnValue:
    return OPPORTUNITIES.export(fmt)


# -- the form --------------------------------------------------------------------------------

COUNTERPARTY_REF = re.compile(r"#(\d{1,10})\)?\s*$")


class CounterpartyField(StringField):
    """A counterparty typed by name (suggested by crm_base's datalist) or ``#id``; its data
    is the id, found within the user's counterparty scope. ``current`` (the record's own
    counterparty) is accepted as it is even if the user no longer reaches it."""

    current: int | None = None
    typed: str | None = None

    def process(self, formdata: Any, data: Any = None, extra_filters: Any = None) -> None:
        self.typed = None
        if data is None:
            super().process(formdata, extra_filters=extra_filters)
        else:
            super().process(formdata, data, extra_filters)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.typed = clean_text(valuelist[0]) if valuelist else ""
        self.data = None

    def pre_validate(self, form: Any) -> None:
        if self.typed is None:
            return
        if not self.typed:
            raise StopValidation(_("Choose a counterparty."))
        ref = COUNTERPARTY_REF.search(self.typed)
        if ref is not None and self.current is not None and int(ref.group(1)) == self.current:
            self.data = self.current
            return
        self.data = resolve_counterparty(self.typed)

    def _value(self) -> str:
        if self.typed is not None:
            return self.typed
        if not self.data:
            return ""
        stmt = select(Counterparty.name).where(Counterparty.id == self.data)
        return counterparty_ref(self.data, db_session().scalar(stmt) or "")


class MoneyField(DecimalField):
    """An amount from 0 with at most two decimals; "1 234,50" is read as typed in Ukraine."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        text = re.sub(r"[\s\u00a0\u202f]", "", str(valuelist[0])).replace(",", ".")
        try:
            value = Decimal(text)
        except (InvalidOperation, ValueError):
            self.data = None
            raise ValueError(_("Enter an amount, e.g. 1500.00.")) from None
        if not value.is_finite():
            self.data = None
            raise ValueError(_("Enter an amount, e.g. 1500.00."))
        self.data = value

    def pre_validate(self, form: Any) -> None:
        if self.process_errors:
            raise StopValidation()

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        if not self.errors and self.data is not None:
            self.data = self.data.quantize(CENT)


def _two_decimals(form: Any, field: Any) -> None:
    data = field.data
    if data is not None and data.is_finite() and data.normalize().as_tuple().exponent < -2:
        raise ValidationError(_("At most two decimal places."))


def _optional_id(value: Any) -> int | None:
    return None if value in (None, "", "None") else int(value)


class OpportunityForm(FlaskForm):
    """A deal's own fields; the stage must be one of the chosen pipeline's."""

    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    counterparty_id = CounterpartyField(_l("Counterparty"), name="counterparty")
    pipeline_id = SelectField(_l("Pipeline"), coerce=int)
    stage_id = SelectField(_l("Stage"), coerce=_optional_id)
    amount = MoneyField(
        _l("Amount"),
        places=2,
        default=Decimal("0.00"),
        validators=[InputRequired(), NumberRange(min=0, max=MAX_AMOUNT), _two_decimals],
    )
    currency = SelectField(
        _l("Currency"), choices=[SelectChoice(c, c) for c in CURRENCIES], default="UAH"
    )
    probability = IntegerField(
        _l("Probability"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    expected_close = DateField(_l("Expected close"), validators=[Optional()])
    responsible_id = SelectField(_l("Responsible"), coerce=_optional_id)
    source_id = SelectField(_l("Source"), coerce=_optional_id)
    notes = TextAreaField(
        _l("Notes"), filters=[clean_text], validators=[Length(max=10_000)], render_kw={"rows": 3}
    )

    # Filled by _prepare: which pipeline each stage belongs to; the stage of a closed deal.
    stage_pipeline: Mapping[int, int] = {}
    closed_at_stage: int | None = None

    def validate_stage_id(self, field: SelectField) -> None:
        if field.data is None:
            return
        if self.stage_pipeline.get(field.data) != self.pipeline_id.data:
            raise ValidationError(_("This stage belongs to another pipeline."))
        if self.closed_at_stage is not None and field.data != self.closed_at_stage:
            raise ValidationError(_("The deal is closed: reopen it before moving it."))

    def validate_expected_close(self, field: DateField) -> None:
        if field.data is not None and not 2000 <= field.data.year <= 2100:
            raise ValidationError(_("Enter a date between 2000 and 2100."))


class NewOpportunityForm(OpportunityForm):
    """A new deal: the stage and the probability may be left to the pipeline."""

    probability = IntegerField(
        _l("Probability"), validators=[Optional(), NumberRange(min=0, max=100)]
    )


def _user_choices(keep: int | None) -> list[SelectChoice]:
    users = active_users()
    if keep and keep not in {uid for uid, _name in users}:
        users.append((keep, user_names([keep]).get(keep, str(keep))))
    return [SelectChoice("", "—"), *(SelectChoice(uid, name) for uid, name in users)]


def _prepare(form: FlaskForm, record: Opportunity | None) -> None:
    """Choices: active pipelines (and the deal's own), their stages grouped by pipeline,
    users, sources; what the stage check needs."""
    db = db_session()
    own = record.pipeline_id if record is not None else None
    pipelines = [
        p
        for p in db.scalars(select(Pipeline).order_by(Pipeline.sort, Pipeline.id))
        if p.active or p.id == own
    ]
    stages = db.scalars(
        select(PipelineStage)
        .where(PipelineStage.pipeline_id.in_([p.id for p in pipelines]))
        .order_by(PipelineStage.sort, PipelineStage.id)
    ).all()
    form.pipeline_id.choices = [SelectChoice(p.id, p.name) for p in pipelines]
    grouped: dict[str, list[SelectChoice]] = {}
    if record is None:
        grouped["—"] = [SelectChoice("", _("First stage of the pipeline"))]
    for pipeline in pipelines:
        grouped[pipeline.name] = [
            SelectChoice(s.id, s.name) for s in stages if s.pipeline_id == pipeline.id
        ]
    form.stage_id.choices = grouped
    form.stage_pipeline = {s.id: s.pipeline_id for s in stages}
    form.responsible_id.choices = _user_choices(record.responsible_id if record else None)
    form.source_id.choices = [
        SelectChoice("", "—"),
        *(
            SelectChoice(sid, name)
            for sid, name in source_choices(db, keep=record.source_id if record else None)
        ),
    ]
    if record is not None:
        form.counterparty_id.current = record.counterparty_id
        form.closed_at_stage = record.stage_id if record.status != "open" else None


@dataclass
class OpportunityFormView(FormView):
    """The deal's card: a stage or pipeline change goes through the funnel (a recorded
    move, the stage's probability unless the user typed one, the notification)."""

    def apply(self, form: FlaskForm, record: Any) -> None:
        typed = form.probability.data
        touched = typed != record.probability  # else the stage's default follows the stage
        for name in self.field_names(form):
            value = form[name].data
            if name not in ("stage_id", "pipeline_id") and plain(getattr(record, name)) != plain(
                value
            ):
                setattr(record, name, value)
        stage_id, pipeline_id = form.stage_id.data, form.pipeline_id.data
        if stage_id == record.stage_id and pipeline_id == record.pipeline_id:
            return
        db = db_session()
        if pipeline_id != record.pipeline_id:
            record.pipeline_id = pipeline_id
            record.reached_sort = 0  # another pipeline's sorts mean nothing here
        stage = db.get(PipelineStage, stage_id)
        _move(db, record, stage, current_user.id, probability=typed if touched else None)


def _stage_history(opportunity_id: int) -> list[dict[str, Any]]:
    """The deal's recorded moves, newest first, described for people."""
    old, new = aliased(PipelineStage), aliased(PipelineStage)
    rows = (
        db_session()
        .execute(
            select(
                StageMove.moved_at,
                StageMove.status,
                StageMove.user_id,
                StageMove.from_stage_id,
                StageMove.to_stage_id,
                old.name.label("from_name"),
                new.name.label("to_name"),
            )
            .outerjoin(old, old.id == StageMove.from_stage_id)
            .outerjoin(new, new.id == StageMove.to_stage_id)
            .where(StageMove.opportunity_id == opportunity_id)
            .order_by(StageMove.moved_at.desc(), StageMove.id.desc())
            .limit(HISTORY_LIMIT)
        )
        .all()
    )
    names = user_names(r.user_id for r in rows)
    return [
        {"when": aware(r.moved_at), "what": describe_move(r), "who": names.get(r.user_id or 0, "")}
        for r in rows
    ]


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


def _lost_reasons() -> list[SelectChoice]:
    stmt = select(LostReason.id, LostReason.name).where(LostReason.active.is_(True))
    rows = db_session().execute(stmt.order_by(LostReason.name))
    return [SelectChoice(rid, name) for rid, name in rows]


class LostForm(FlaskForm):
    """Why the deal was lost; the version guards against closing a deal changed meanwhile."""

    reason_id = SelectField(_l("Reason"), coerce=_optional_id)
    note = TextAreaField(
        _l("Comment"), filters=[clean_text], validators=[Length(max=2000)], render_kw={"rows": 2}
    )
    version = HiddenField()

    def validate_reason_id(self, field: SelectField) -> None:
        if field.data is None and len(field.choices or []) > 1:
            raise ValidationError(_("Choose why the deal was lost."))


def _lost_form(record: Opportunity, posted: bool = False) -> LostForm:
    """The "lost" form: from the request when ``posted``, else blank at the deal's version."""
    form = LostForm() if posted else LostForm(formdata=None)
    form.reason_id.choices = [SelectChoice("", "—"), *_lost_reasons()]
    if not posted:
        form.version.data = str(record.version)
    return form


def _card_context(record: Opportunity) -> dict[str, Any]:
    db = db_session()
    counterparty = db.get(Counterparty, record.counterparty_id)
    reason = db.get(LostReason, record.lost_reason_id) if record.lost_reason_id else None
    return {
        "breadcrumbs": [
            (_("Opportunities"), url_for("sales.opportunities")),
            (record.name, None),
        ],
        "counterparty": counterparty,
        "counterparty_url": url_for("crm_base.counterparty", record_id=record.counterparty_id),
        "status_label": STATUS_LABELS.get(record.status, record.status),
        "lost_reason": reason.name if reason else "",
        "moves": _stage_history(record.id),
        "lost_form": _lost_form(record),
        "board_url": url_for("sales.board_pipeline", pipeline_id=record.pipeline_id),
        "format_amount": format_amount,
    }


OPPORTUNITY_FORM = OpportunityFormView(
    model=Opportunity,
    form=OpportunityForm,
    fields=FIELDS,
    subject=OPPORTUNITY,
    owner=Opportunity.responsible_id,
    template="sales/funnel_opportunity.html",
    endpoint="sales.opportunity",
    save_endpoint="sales.opportunity_edit",
    delete_endpoint="sales.opportunity_delete",
    index_endpoint="sales.opportunities",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: record.name,
    prepare=_prepare,
    context=_card_context,
)


# -- creating, closing, reopening ------------------------------------------------------------


def _prefill(form: NewOpportunityForm) -> None:
    """A new deal's defaults: ``?counterparty=`` (if the user reaches it), ``?pipeline=``
    or the default pipeline with its currency, the user as responsible."""
    db = db_session()
    raw = request.args.get("counterparty", "")
    if raw.isdigit() and 0 < int(raw) <= MAX_ID and reaches_counterparty(int(raw), current_user):
        form.counterparty_id.data = int(raw)
    raw = request.args.get("pipeline", "")
    pipeline = db.get(Pipeline, int(raw)) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None
    if pipeline is None or not pipeline.active:
        pipeline = default_pipeline(db)
        db.commit()
        _prepare(form, None)  # the pipeline may be new
    form.pipeline_id.data = pipeline.id
    form.currency.data = pipeline.currency
    form.responsible_id.data = current_user.id


def _create(form: NewOpportunityForm) -> Opportunity:
    db = db_session()
    record = create_opportunity(
        db,
        counterparty_id=form.counterparty_id.data,
        name=form.name.data,
        responsible_id=form.responsible_id.data,
        pipeline_id=form.pipeline_id.data,
        stage_id=form.stage_id.data,
        amount=form.amount.data,
        currency=form.currency.data,
        source_id=form.source_id.data,
        user_id=current_user.id,
    )
    if form.probability.data is not None:
        record.probability = form.probability.data
    record.expected_close = form.expected_close.data
    record.notes = form.notes.data or ""
    db.commit()
    return record


@bp.route("/opportunities/new", methods=["GET", "POST"])
@require(CREATE)
def opportunity_new() -> ResponseReturnValue:
    """A new deal; ``?counterparty=<id>`` and ``?pipeline=<id>`` prefill the form."""
    form = NewOpportunityForm()
    _prepare(form, None)
    status = 200
    if request.method == "GET":
        _prefill(form)
    elif form.validate_on_submit():
        try:
            record = _create(form)
        except FunnelError as exc:
            db_session().rollback()
            form.stage_id.errors = [*form.stage_id.errors, str(exc)]
            status = 400
        else:
            flash(_("Created: %(name)s.", name=record.name), "success")
            if not OPPORTUNITY_FORM.reachable(record.id):
                flash(_("The record is no longer among those you can see."), "info")
                return redirect(url_for("sales.opportunities"), 303)
            return redirect(url_for("sales.opportunity", record_id=record.id), 303)
    else:
        status = 400
    breadcrumbs = [
        (_("Opportunities"), url_for("sales.opportunities")),
        (_("New opportunity"), None),
    ]
    body = render_template(
        "sales/funnel_new.html",
        form=form,
        invalid=status == 400,
        breadcrumbs=breadcrumbs,
        save_url=url_for("sales.opportunity_new"),
        can_update=True,
    )
    return body, status


@bp.get("/opportunities/<int:record_id>")
@require(READ)
def opportunity(record_id: int) -> ResponseReturnValue:
    return OPPORTUNITY_FORM.show(record_id)


OPPORTUNITY_FORM.add_routes(bp, "/opportunities", update=UPDATE, delete=DELETE)


def _stale(posted: str | None, record: Opportunity) -> bool:
    return not (posted or "").isdigit() or int(posted or "") != record.version


def _close(record: Opportunity, action: Any) -> ResponseReturnValue:
    """Run a close / reopen on the deal and commit; a rule break or a concurrent change
    saves nothing and says so."""
    db = db_session()
    card = url_for("sales.opportunity", record_id=record.id)
    try:
        action(db)
        db.commit()
    except FunnelError as exc:
        db.rollback()
        flash(str(exc), "danger")
        return redirect(card, 303)
    except StaleDataError:
        db.rollback()
        flash(_("Someone changed this deal meanwhile; look at it again."), "warning")
        return redirect(card, 303)
    flash(_("Saved."), "success")
    return redirect(card, 303)


def _changed_meanwhile(record: Opportunity) -> ResponseReturnValue:
    flash(_("Someone changed this deal meanwhile; look at it again."), "warning")
    return redirect(url_for("sales.opportunity", record_id=record.id), 303)


@bp.post("/opportunities/<int:record_id>/won")
@require(UPDATE)
def opportunity_won(record_id: int) -> ResponseReturnValue:
    record = record_or_404(Opportunity, record_id, OPPORTUNITY)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    if _stale(form.version.data, record):
        return _changed_meanwhile(record)
    return _close(record, lambda db: close_won(db, record, current_user.id))


@bp.route("/opportunities/<int:record_id>/lost", methods=["GET", "POST"])
@require(UPDATE)
def opportunity_lost(record_id: int) -> ResponseReturnValue:
    """Ask why the deal was lost (also a page of its own, without JavaScript), then close it."""
    record = record_or_404(Opportunity, record_id, OPPORTUNITY)
    form = _lost_form(record, posted=request.method == "POST")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            if _stale(form.version.data, record):
                return _changed_meanwhile(record)
            reason, note = form.reason_id.data, form.note.data or ""
            return _close(record, lambda db: close_lost(db, record, reason, note, current_user.id))
        status = 400
    card = url_for("sales.opportunity", record_id=record.id)
    breadcrumbs = [
        (_("Opportunities"), url_for("sales.opportunities")),
        (record.name, card),
        (_("Lost"), None),
    ]
    body = render_template(
        "sales/funnel_lost.html",
        record=record,
        lost_form=form,
        invalid=status == 400,
        breadcrumbs=breadcrumbs,
        card_url=card,
    )
    return body, status


@bp.post("/opportunities/<int:record_id>/reopen")
@require(UPDATE)
def opportunity_reopen(record_id: int) -> ResponseReturnValue:
    record = record_or_404(Opportunity, record_id, OPPORTUNITY)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    if _stale(form.version.data, record):
        return _changed_meanwhile(record)
    return _close(record, lambda db: reopen(db, record, current_user.id))


# -- the counterparty's card -----------------------------------------------------------------


def _of_counterparty(counterparty_id: int, user: Any = None) -> Any:
    """The counterparty's deals that ``user`` may see (the deals' own scope)."""
    stmt = select(Opportunity.id).where(Opportunity.counterparty_id == counterparty_id)
    return scoped(stmt, Opportunity, OPPORTUNITY, user)


@bp.get("/counterparties/<int:record_id>/opportunities")
@require(READ)
def counterparty_opportunities(record_id: int) -> ResponseReturnValue:
    """The "Opportunities" tab of a counterparty's card (a fragment for htmx, else a page)."""
    if not has_permission(COUNTERPARTY_READ):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    stmt = (
        _of_counterparty(counterparty.id)
        .with_only_columns(
            Opportunity.id,
            Opportunity.name,
            Opportunity.status,
            Opportunity.amount,
            Opportunity.currency,
            Opportunity.probability,
            Opportunity.expected_close,
            PipelineStage.name.label("stage"),
            Opportunity.responsible_id,
        )
        .join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
        .order_by(Opportunity.id.desc())
        .limit(TAB_LIMIT + 1)
    )
    rows = db_session().execute(stmt).all()
    context = {
        "counterparty": counterparty,
        "rows": rows[:TAB_LIMIT],
        "more": len(rows) > TAB_LIMIT,
        "names": user_names(r.responsible_id for r in rows),
        "status_labels": STATUS_LABELS,
        "format_amount": format_amount,
        "can_create": has_permission(CREATE),
        "card_url": url_for("crm_base.counterparty", record_id=counterparty.id),
    }
    if wants_fragment():
        return render_template("sales/funnel_tab.html", **context)
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, context["card_url"]),
        (_("Opportunities"), None),
    ]
    return render_template("sales/funnel_tab_page.html", breadcrumbs=breadcrumbs, **context)


# -- hooks -----------------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read opportunities")),
        PermissionDef(CREATE, _l("Create opportunities")),
        PermissionDef(UPDATE, _l("Edit, move and close opportunities")),
        PermissionDef(DELETE, _l("Delete opportunities")),
        PermissionDef(EXPORT, _l("Export opportunities")),
    ]


def menu_items() -> list[MenuItem]:
    return [
        menu("opportunities", _l("Opportunities"), READ, 20),
        menu("board", _l("Sales board"), READ, 21),
    ]


def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            STAGE_CHANGED,
            _l("Deal moved, won or lost"),
            _l("Someone else moved a deal you are responsible for, closed it or reopened it."),
            default_channels=("popup",),
        )
    ]


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's deals created, moved, won, lost and reopened, newest first,
    for the deals the user may see."""
    if subject != COUNTERPARTY_SUBJECT or not has_permission(READ, user):
        return []
    if not reaches_counterparty(subject_id, user):
        return []
    old, new = aliased(PipelineStage), aliased(PipelineStage)
    stmt = (
        select(
            StageMove.moved_at,
            StageMove.status,
            StageMove.user_id,
            StageMove.from_stage_id,
            StageMove.to_stage_id,
            old.name.label("from_name"),
            new.name.label("to_name"),
            Opportunity.id.label("opportunity_id"),
            Opportunity.name,
            Opportunity.lost_note,
            Opportunity.status.label("now"),
            LostReason.name.label("reason"),
        )
        .join(Opportunity, Opportunity.id == StageMove.opportunity_id)
        .outerjoin(old, old.id == StageMove.from_stage_id)
        .outerjoin(new, new.id == StageMove.to_stage_id)
        .outerjoin(LostReason, LostReason.id == Opportunity.lost_reason_id)
        .where(Opportunity.counterparty_id == int(subject_id))
        .order_by(StageMove.moved_at.desc(), StageMove.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    rows = db_session().execute(scoped(stmt, Opportunity, OPPORTUNITY, user)).all()
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
    if subject != COUNTERPARTY_SUBJECT or not has_permission(READ, user):
        return []
    if not reaches_counterparty(subject_id, user):
        return []
    query = _of_counterparty(int(subject_id), user).subquery()
    count = db_session().scalar(select(func.count()).select_from(query)) or 0
    url = url_for("sales.counterparty_opportunities", record_id=int(subject_id))
    return [CardTab("sales.opportunities", _("Opportunities"), url, order=30, count=count)]


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
            snippet=f"{counterparty} · {STATUS_LABELS.get(status, status)}",
        )
        for rid, name, counterparty, status in db.execute(
            scoped(stmt, Opportunity, OPPORTUNITY, user)
        )
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Deals of a merged-away counterparty or contact person go to the surviving one."""
    columns = {COUNTERPARTY_SUBJECT: "counterparty_id", PERSON_SUBJECT: "person_id"}
    column = columns.get(subject)
    if column is None:
        return 0
    result = session.execute(
        update(Opportunity)
        .where(getattr(Opportunity, column) == source_id)
        .values({column: target_id})
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


__all__ = [
    "FunnelError",
    "close_lost",
    "close_won",
    "create_opportunity",
    "default_pipeline",
    "move_to_stage",
    "pipeline_stages",
    "reopen",
]
