"""A deal's card (the form view, its stage history), a new deal, and closing: won, lost
with a reason, reopened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.crm_base.notes import reaches_counterparty
from addons.sales.funnel.api import (
    FunnelError,
    close_lost,
    close_won,
    create_opportunity,
    default_pipeline,
    move_to_stage,
    reopen,
)
from addons.sales.funnel.common import (
    CREATE,
    DELETE,
    READ,
    UPDATE,
    describe_move,
    stage_moves,
    status_label,
)
from addons.sales.funnel.forms import NewOpportunityForm, OpportunityForm, lost_form, prepare
from addons.sales.models import (
    OPPORTUNITY,
    LostReason,
    Opportunity,
    Pipeline,
    PipelineStage,
    StageMove,
)
from addons.sales.shared import card_view, new_page, requested_id
from addons.sales.views import bp, record_or_404
from core.security import require, user_names
from core.ui.formview import FormView, LockFields, commit_unless_changed, is_stale, plain
from core.ui.timeline import aware
from core.ui.widgets import format_amount
from core.web import db_session

HISTORY_LIMIT = 200
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
        move_to_stage(db, record, stage, current_user.id, probability=typed if touched else None)


def _stage_history(opportunity_id: int) -> list[dict[str, Any]]:
    """The deal's recorded moves, newest first, described for people."""
    stmt = stage_moves().where(StageMove.opportunity_id == opportunity_id).limit(HISTORY_LIMIT)
    rows = db_session().execute(stmt).all()
    names = user_names(r.user_id for r in rows)
    return [
        {"when": aware(r.moved_at), "what": describe_move(r), "who": names.get(r.user_id or 0, "")}
        for r in rows
    ]


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
        "status_label": status_label(record.status),
        "lost_reason": reason.name if reason else "",
        "moves": _stage_history(record.id),
        "lost_form": lost_form(record),
        "board_url": url_for("sales.board_pipeline", pipeline_id=record.pipeline_id),
        "format_amount": format_amount,
    }


OPPORTUNITY_FORM = card_view(
    OpportunityFormView,
    "opportunity",
    Opportunity,
    OPPORTUNITY,
    OpportunityForm,
    template="sales/funnel_opportunity.html",
    update=UPDATE,
    delete=DELETE,
    title=lambda record: record.name,
    prepare=prepare,
    context=_card_context,
    fields=FIELDS,
    list_endpoint="sales.opportunities",
)


@bp.get("/opportunities/<int:record_id>")
@require(READ)
def opportunity(record_id: int) -> ResponseReturnValue:
    return OPPORTUNITY_FORM.show(record_id)


OPPORTUNITY_FORM.add_routes(bp, "/opportunities", update=UPDATE, delete=DELETE)


# -- a new deal ------------------------------------------------------------------------------


def _prefill(form: NewOpportunityForm) -> None:
    """A new deal's defaults: ``?counterparty=`` (if the user reaches it), ``?pipeline=``
    or the default pipeline with its currency, the user as responsible."""
    db = db_session()
    counterparty = requested_id("counterparty")
    if counterparty is not None and reaches_counterparty(counterparty, current_user):
        form.counterparty_id.data = counterparty
    pipeline_id = requested_id("pipeline")
    pipeline = db.get(Pipeline, pipeline_id) if pipeline_id is not None else None
    if pipeline is None or not pipeline.active:
        pipeline = default_pipeline(db)
        db.commit()
        prepare(form, None)  # the pipeline may be new
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
    prepare(form, None)
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
            return OPPORTUNITY_FORM.open_saved(record.id)
    else:
        status = 400
    parent = (_("Opportunities"), url_for("sales.opportunities"))
    save_url = url_for("sales.opportunity_new")
    return new_page("sales/funnel_new.html", form, save_url, parent, _("New opportunity"), status)


# -- won, lost, reopened ---------------------------------------------------------------------


def _close(
    record: Opportunity, version: str | None, action: Callable[[Session], Any]
) -> ResponseReturnValue:
    """Run a close / reopen on the deal loaded at ``version`` and commit; a rule break or
    a change made meanwhile saves nothing and says so."""
    db = db_session()
    card = url_for("sales.opportunity", record_id=record.id)  # before a rollback expires it
    changed = _("Someone changed this deal meanwhile; look at it again.")
    message, category = _("Saved."), "success"
    if is_stale(version, record):
        message, category = changed, "warning"
    else:
        try:
            if not commit_unless_changed(db, lambda: action(db)):
                message, category = changed, "warning"
        except FunnelError as exc:
            db.rollback()
            message, category = str(exc), "danger"
    flash(message, category)
    return redirect(card, 303)


def _locked_close(
    record_id: int, action: Callable[[Session, Opportunity], Any]
) -> ResponseReturnValue:
    """A close or reopen button: a bare POST carrying the deal's version."""
    record = record_or_404(Opportunity, record_id, OPPORTUNITY)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    return _close(record, form.version.data, lambda db: action(db, record))


@bp.post("/opportunities/<int:record_id>/won")
@require(UPDATE)
def opportunity_won(record_id: int) -> ResponseReturnValue:
    return _locked_close(record_id, lambda db, record: close_won(db, record, current_user.id))


@bp.post("/opportunities/<int:record_id>/reopen")
@require(UPDATE)
def opportunity_reopen(record_id: int) -> ResponseReturnValue:
    return _locked_close(record_id, lambda db, record: reopen(db, record, current_user.id))


@bp.route("/opportunities/<int:record_id>/lost", methods=["GET", "POST"])
@require(UPDATE)
def opportunity_lost(record_id: int) -> ResponseReturnValue:
    """Ask why the deal was lost (also a page of its own, without JavaScript), then close it."""
    record = record_or_404(Opportunity, record_id, OPPORTUNITY)
    form = lost_form(record, posted=request.method == "POST")
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            reason, note = form.reason_id.data, form.note.data or ""
            return _close(
                record,
                form.version.data,
                lambda db: close_lost(db, record, reason, note, current_user.id),
            )
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
