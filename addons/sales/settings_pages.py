"""sales: configuration of the funnel (MS-2) — pipelines, their ordered stages with a default
probability, and the reasons a deal is lost (``sales.pipeline.update``).

Why some things are refused rather than done:

- A pipeline with deals cannot be deleted (the deals would lose their stages): it is made
  inactive instead, and the last active pipeline stays active (the board would otherwise
  recreate the default one).
- A stage that a deal is at (open or closed) cannot be deleted, nor the last stage of a
  pipeline (new deals start at the first stage).
- A lost reason that a deal names cannot be deleted: it is made inactive (no longer
  offered) instead.

Reordering renumbers the stages 10, 20, 30… and carries the deals' ``reached_sort`` along
(one UPDATE), so "the furthest stage a deal reached" still names the same stage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from addons.crm_base.contacts import clean_text
from addons.sales.funnel import STAGE_STEP, pipeline_stages
from addons.sales.models import LostReason, Opportunity, Pipeline, PipelineStage
from addons.sales.shared import CURRENCIES, currency_field, posted_or_400, row_or_404
from addons.sales.views import bp, menu
from core.hooktypes import MenuItem, PermissionDef
from core.security import require
from core.web import db_session

ADMIN = "sales.pipeline.update"
PIPELINES = "sales.config_pipelines"  # the pages to go back to
REASONS = "sales.config_lost_reasons"
Errors = Mapping[str, list[str]]
Typed = Mapping[str, Mapping[str, Any]]


class NameForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )


class PipelineForm(NameForm):
    currency = currency_field()


class StageForm(NameForm):
    probability = IntegerField(
        _l("Probability"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )


# -- shared helpers ------------------------------------------------------------------------


@dataclass
class Posted:
    """A posted row form of a configuration page (``key`` names the row there)."""

    key: str
    form: NameForm
    errors: list[str]
    page: Callable[[Errors, Typed], Any]

    def refused(self, *messages: str) -> Any:
        """The page again, saying why next to the row and keeping what was typed."""
        typed = {f.name: f.data for f in self.form if f.name != "csrf_token"}
        return self.page({self.key: list(messages) or self.errors}, {self.key: typed})


def _taken(model: Any, name: str, but: int | None, *where: Any) -> bool:
    """Another row of ``model`` (among ``where``) already has this name (any case)."""
    stmt = select(model.id).where(func.lower(model.name) == name.lower(), *where)
    if but is not None:
        stmt = stmt.where(model.id != but)
    return db_session().scalar(stmt.limit(1)) is not None


def _posted(
    form_class: type[NameForm],
    key: str,
    page: Callable[[Errors, Typed], Any],
    model: Any,
    record: Any,
    taken: str,
    *where: Any,
) -> Posted:
    """The posted form for ``record`` (``None``: a new row of ``model``) with its errors:
    the form's, else ``taken`` when another row (among ``where``) has the name."""
    form = form_class()
    errors: list[str] = []
    if not form.validate_on_submit():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    elif _taken(model, form.name.data, record.id if record else None, *where):
        errors = [taken]
    return Posted(key, form, errors, page)


def _saved(back: str) -> ResponseReturnValue:
    """Commit and go back to the ``back`` page with "Saved."."""
    db_session().commit()
    flash(_("Saved."), "success")
    return redirect(url_for(back), 303)


def _commit_or(refused: Callable[[], ResponseReturnValue], back: str) -> ResponseReturnValue:
    """Commit and go back with "Saved.", or (a unique name taken meanwhile) refuse."""
    try:
        return _saved(back)
    except IntegrityError:
        db_session().rollback()
        return refused()


def _deleted(record: Any, back: str) -> ResponseReturnValue:
    """Delete ``record`` (a pipeline, a stage, a lost reason) and go back saying so."""
    name = record.name
    db = db_session()
    db.delete(record)
    db.commit()
    flash(_("Deleted: %(title)s.", title=name), "success")
    return redirect(url_for(back), 303)


def _way() -> str:
    """The posted direction of a move, or 400."""
    posted_or_400()
    way = request.form.get("way", "")
    if way not in ("up", "down"):
        abort(400)
    return way


def reorder(items: Sequence[Any], item: Any, way: str) -> dict[int, int]:
    """Move ``item`` one place ``up`` or ``down`` among ``items`` (in their order) and
    renumber ``sort`` 10, 20, 30…; returns old sort → new sort of the items that moved."""
    order = list(items)
    at = order.index(item)
    to = at - 1 if way == "up" else at + 1
    if 0 <= to < len(order):
        order[at], order[to] = order[to], order[at]
    changed = {}
    for number, row in enumerate(order, start=1):
        if row.sort != number * STAGE_STEP:
            changed[row.sort] = number * STAGE_STEP
            row.sort = number * STAGE_STEP
    return changed


def _carry_reached(pipeline_id: int, changed: Mapping[int, int]) -> None:
    """Deals keep pointing at the same furthest stage after its sort changed."""
    if changed:
        db_session().execute(
            update(Opportunity)
            .where(
                Opportunity.pipeline_id == pipeline_id,
                Opportunity.reached_sort.in_(list(changed)),
            )
            .values(reached_sort=case(changed, value=Opportunity.reached_sort))
            .execution_options(synchronize_session=False)
        )


# -- pipelines and stages ------------------------------------------------------------------


def _pipelines_page(errors: Errors | None = None, typed: Typed | None = None) -> Any:
    """Every pipeline with its stages and how many deals each holds; a refused form shows
    its messages and what was typed next to itself (by form key)."""
    db = db_session()
    pipelines = db.scalars(select(Pipeline).order_by(Pipeline.sort, Pipeline.id)).all()
    stages: dict[int, list[PipelineStage]] = defaultdict(list)
    for stage in db.scalars(select(PipelineStage).order_by(PipelineStage.sort, PipelineStage.id)):
        stages[stage.pipeline_id].append(stage)
    per_stage = select(Opportunity.stage_id, func.count()).group_by(Opportunity.stage_id)
    at_stage = {stage_id: n for stage_id, n in db.execute(per_stage)}
    status = 400 if errors else 200
    body = render_template(
        "sales/config_pipelines.html",
        pipelines=pipelines,
        stages=stages,
        at_stage=at_stage,
        deals={p.id: sum(at_stage.get(s.id, 0) for s in stages[p.id]) for p in pipelines},
        currencies=CURRENCIES,
        errors=errors or {},
        typed=typed or {},
        breadcrumbs=[(_("Pipelines and stages"), None)],
    )
    return body, status


def _save_pipeline(key: str, pipeline: Pipeline | None) -> ResponseReturnValue:
    taken = _("A pipeline with this name already exists.")
    posted = _posted(PipelineForm, key, _pipelines_page, Pipeline, pipeline, taken)
    if posted.errors:
        return posted.refused()
    db = db_session()
    if pipeline is None:
        last = db.scalar(select(func.max(Pipeline.sort))) or 0
        pipeline = Pipeline(sort=last + STAGE_STEP)
        db.add(pipeline)
    pipeline.name, pipeline.currency = posted.form.name.data, posted.form.currency.data
    return _commit_or(lambda: posted.refused(taken), PIPELINES)


@bp.get("/config/pipelines")
@require(ADMIN)
def config_pipelines() -> ResponseReturnValue:
    """Pipelines with their ordered stages."""
    return _pipelines_page()


@bp.post("/config/pipelines")
@require(ADMIN)
def config_pipeline_create() -> ResponseReturnValue:
    """A new pipeline, last in the order, without stages yet."""
    return _save_pipeline("pipeline-new", None)


@bp.post("/config/pipelines/<int:pipeline_id>")
@require(ADMIN)
def config_pipeline_update(pipeline_id: int) -> ResponseReturnValue:
    pipeline = row_or_404(Pipeline, pipeline_id)
    return _save_pipeline(f"pipeline-{pipeline.id}", pipeline)


@bp.post("/config/pipelines/<int:pipeline_id>/move")
@require(ADMIN)
def config_pipeline_move(pipeline_id: int) -> ResponseReturnValue:
    """One place up or down: the first active pipeline is the default one."""
    pipeline = row_or_404(Pipeline, pipeline_id)
    way = _way()
    db = db_session()
    reorder(db.scalars(select(Pipeline).order_by(Pipeline.sort, Pipeline.id)).all(), pipeline, way)
    db.commit()
    return redirect(url_for(PIPELINES), 303)


def _last_active(pipeline: Pipeline) -> bool:
    """Whether ``pipeline`` is the only active one (flashing why it must stay so)."""
    others = select(Pipeline.id).where(Pipeline.active.is_(True), Pipeline.id != pipeline.id)
    if pipeline.active and db_session().scalar(others.limit(1)) is None:
        flash(_("At least one pipeline must stay active."), "danger")
        return True
    return False


@bp.post("/config/pipelines/<int:pipeline_id>/active")
@require(ADMIN)
def config_pipeline_toggle(pipeline_id: int) -> ResponseReturnValue:
    """An inactive pipeline is no longer offered for new deals; its deals stay."""
    pipeline = row_or_404(Pipeline, pipeline_id)
    posted_or_400()
    if _last_active(pipeline):
        return redirect(url_for(PIPELINES), 303)
    pipeline.active = not pipeline.active
    return _saved(PIPELINES)


@bp.post("/config/pipelines/<int:pipeline_id>/delete")
@require(ADMIN)
def config_pipeline_delete(pipeline_id: int) -> ResponseReturnValue:
    pipeline = row_or_404(Pipeline, pipeline_id)
    posted_or_400()
    used = select(Opportunity.id).where(Opportunity.pipeline_id == pipeline.id).limit(1)
    if db_session().scalar(used) is not None:
        message = _(
            "%(name)s has deals and cannot be deleted; make it inactive instead.",
            name=pipeline.name,
        )
        flash(message, "danger")
        return redirect(url_for(PIPELINES), 303)
    if _last_active(pipeline):
        return redirect(url_for(PIPELINES), 303)
    return _deleted(pipeline, PIPELINES)  # its stages go with it (ON DELETE CASCADE)


def _save_stage(key: str, pipeline_id: int, stage: PipelineStage | None) -> ResponseReturnValue:
    own = PipelineStage.pipeline_id == pipeline_id
    taken = _("The pipeline already has such a stage.")
    posted = _posted(StageForm, key, _pipelines_page, PipelineStage, stage, taken, own)
    if posted.errors:
        return posted.refused()
    db = db_session()
    if stage is None:
        last = db.scalar(select(func.max(PipelineStage.sort)).where(own)) or 0
        stage = PipelineStage(pipeline_id=pipeline_id, sort=last + STAGE_STEP)
        db.add(stage)
    stage.name, stage.probability = posted.form.name.data, posted.form.probability.data
    return _saved(PIPELINES)


@bp.post("/config/pipelines/<int:pipeline_id>/stages")
@require(ADMIN)
def config_stage_create(pipeline_id: int) -> ResponseReturnValue:
    """A new stage, last in the pipeline."""
    pipeline = row_or_404(Pipeline, pipeline_id)
    return _save_stage(f"stage-new-{pipeline.id}", pipeline.id, None)


@bp.post("/config/stages/<int:stage_id>")
@require(ADMIN)
def config_stage_update(stage_id: int) -> ResponseReturnValue:
    """Rename a stage or change its default probability (deals keep theirs)."""
    stage = row_or_404(PipelineStage, stage_id)
    return _save_stage(f"stage-{stage.id}", stage.pipeline_id, stage)


@bp.post("/config/stages/<int:stage_id>/move")
@require(ADMIN)
def config_stage_move(stage_id: int) -> ResponseReturnValue:
    """One place up or down; deals' furthest stage follows (see the module docstring)."""
    stage = row_or_404(PipelineStage, stage_id)
    way = _way()
    db = db_session()
    changed = reorder(pipeline_stages(db, stage.pipeline_id), stage, way)
    _carry_reached(stage.pipeline_id, changed)
    db.commit()
    return redirect(url_for(PIPELINES), 303)


@bp.post("/config/stages/<int:stage_id>/delete")
@require(ADMIN)
def config_stage_delete(stage_id: int) -> ResponseReturnValue:
    stage = row_or_404(PipelineStage, stage_id)
    posted_or_400()
    db = db_session()
    back = redirect(url_for(PIPELINES), 303)
    used = select(func.count()).select_from(Opportunity).where(Opportunity.stage_id == stage.id)
    count = db.scalar(used) or 0
    if count:
        message = _(
            "The stage %(name)s cannot be deleted: %(n)s deals are at it. "
            "Move them to another stage first.",
            name=stage.name,
            n=count,
        )
        flash(message, "danger")
        return back
    if len(pipeline_stages(db, stage.pipeline_id)) == 1:
        flash(_("A pipeline needs at least one stage."), "danger")
        return back
    return _deleted(stage, PIPELINES)


# -- lost reasons --------------------------------------------------------------------------


def _reasons_page(errors: Errors | None = None, typed: Typed | None = None) -> Any:
    db = db_session()
    reasons = db.scalars(select(LostReason).order_by(LostReason.name)).all()
    per_reason = (
        select(Opportunity.lost_reason_id, func.count())
        .where(Opportunity.lost_reason_id.is_not(None))
        .group_by(Opportunity.lost_reason_id)
    )
    body = render_template(
        "sales/config_lost_reasons.html",
        reasons=reasons,
        used={rid: n for rid, n in db.execute(per_reason)},
        errors=errors or {},
        typed=typed or {},
        breadcrumbs=[(_("Lost reasons"), None)],
    )
    return body, 400 if errors else 200


def _save_reason(key: str, reason: LostReason | None) -> ResponseReturnValue:
    taken = _("Such a reason already exists.")
    posted = _posted(NameForm, key, _reasons_page, LostReason, reason, taken)
    if posted.errors:
        return posted.refused()
    if reason is None:
        reason = LostReason()
        db_session().add(reason)
    reason.name = posted.form.name.data
    return _commit_or(lambda: posted.refused(taken), REASONS)


@bp.get("/config/lost-reasons")
@require(ADMIN)
def config_lost_reasons() -> ResponseReturnValue:
    """Why deals are lost: the choices of the "lost" form."""
    return _reasons_page()


@bp.post("/config/lost-reasons")
@require(ADMIN)
def config_lost_reason_create() -> ResponseReturnValue:
    return _save_reason("reason-new", None)


@bp.post("/config/lost-reasons/<int:reason_id>")
@require(ADMIN)
def config_lost_reason_update(reason_id: int) -> ResponseReturnValue:
    reason = row_or_404(LostReason, reason_id)
    return _save_reason(f"reason-{reason.id}", reason)


@bp.post("/config/lost-reasons/<int:reason_id>/active")
@require(ADMIN)
def config_lost_reason_toggle(reason_id: int) -> ResponseReturnValue:
    """An inactive reason is no longer offered; deals that name it keep it."""
    reason = row_or_404(LostReason, reason_id)
    posted_or_400()
    reason.active = not reason.active
    return _saved(REASONS)


@bp.post("/config/lost-reasons/<int:reason_id>/delete")
@require(ADMIN)
def config_lost_reason_delete(reason_id: int) -> ResponseReturnValue:
    reason = row_or_404(LostReason, reason_id)
    posted_or_400()
    used = select(Opportunity.id).where(Opportunity.lost_reason_id == reason.id).limit(1)
    if db_session().scalar(used) is None:
        return _deleted(reason, REASONS)
    message = _(
        "%(name)s is the reason of lost deals and cannot be deleted; make it inactive instead.",
        name=reason.name,
    )
    flash(message, "danger")
    return redirect(url_for(REASONS), 303)


# -- hooks -----------------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [PermissionDef(ADMIN, _l("Configure pipelines, stages and lost reasons"))]


def menu_items() -> list[MenuItem]:
    return [
        menu("config_pipelines", _l("Pipelines and stages"), ADMIN, 900),
        menu("config_lost_reasons", _l("Lost reasons"), ADMIN, 910),
    ]
