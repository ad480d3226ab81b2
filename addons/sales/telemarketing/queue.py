"""The operator's pages: the held call with its script, history and outcome buttons (or
"Take the next call"), over all their active campaigns or one of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from addons.sales.models import Call, Campaign
from addons.sales.shared import COUNTERPARTY_READ, PERSON_READ, posted_or_400
from addons.sales.telemarketing.calls import (
    call_history,
    free,
    held_call,
    load_call,
    record_outcome,
    release,
    take_next,
    workable,
)
from addons.sales.telemarketing.common import ACTIONS, CALL, OPEN, OUTCOME_LABELS
from addons.sales.telemarketing.forms import OutcomeForm
from addons.sales.views import bp
from core.db import utcnow
from core.security import has_permission, require
from core.ui.formview import MAX_ID
from core.web import db_session


def _queue_summary(db: Session, user_id: int) -> list[dict[str, Any]]:
    """The user's active campaigns with their due and open calls (one GROUP BY)."""
    now = utcnow()
    due = func.count(Call.id).filter(Call.due_at <= now, free(now))
    rows = db.execute(
        select(Campaign.id, Campaign.name, func.count(Call.id), due)
        .outerjoin(Call, and_(Call.campaign_id == Campaign.id, Call.outcome.in_(OPEN)))
        .where(Campaign.id.in_(workable(user_id)))
        .group_by(Campaign.id, Campaign.name)
        .order_by(Campaign.name)
    )
    return [{"id": i, "name": n, "open": o, "due": d} for i, n, o, d in rows]


def _next_due(db: Session, user_id: int, campaign_id: int | None) -> datetime | None:
    return db.scalar(
        select(func.min(Call.due_at)).where(
            Call.campaign_id.in_(workable(user_id, campaign_id)), Call.outcome.in_(OPEN)
        )
    )


def _workable_campaign_or_404(campaign_id: int) -> Campaign:
    """A campaign the signed-in operator may call for (else 404, also for absurd ids)."""
    if not 0 < campaign_id <= MAX_ID:
        abort(404)
    db = db_session()
    found = db.scalar(workable(current_user.id, campaign_id))
    if found is None:
        abort(404)
    return db.get(Campaign, found)  # type: ignore[return-value]


def _queue_url(campaign: Campaign | None) -> str:
    if campaign is None:
        return url_for("sales.queue")
    return url_for("sales.campaign_queue", record_id=campaign.id)


def queue_page(
    campaign: Campaign | None,
    form: OutcomeForm | None = None,
    call_id: int | None = None,
    status: int = 200,
    error: str = "",
) -> ResponseReturnValue:
    """The operator's page: the held call with its script, history and outcome buttons,
    or the button to take the next one."""
    db = db_session()
    me = current_user.id
    campaign_id = campaign.id if campaign else None
    if call_id is None:
        call_id = held_call(db, me, campaign_id)
    call = load_call(db, call_id) if call_id is not None else None
    if form is None:
        form = OutcomeForm(formdata=None)
    form.queue.data = "campaign" if campaign else ""
    if call is not None and not form.opportunity_name.data:
        form.opportunity_name.data = f"{call.campaign} — {call.person or call.counterparty}"[:300]
    crumbs = [(_("My call queue"), url_for("sales.queue") if campaign else None)]
    if campaign:
        crumbs.append((campaign.name, None))
    take = "sales.campaign_queue_take" if campaign else "sales.queue_take"
    body = render_template(
        "sales/campaign_queue.html",
        campaign=campaign,
        call=call,
        history=call_history(db, call) if call else [],
        form=form,
        error=error,
        summary=_queue_summary(db, me) if campaign is None else [],
        next_due=_next_due(db, me, campaign_id) if call is None else None,
        take_url=url_for(take, record_id=campaign_id) if campaign else url_for(take),
        action_form=FlaskForm(),
        outcomes=[(o, OUTCOME_LABELS[o]) for o in ACTIONS],
        can_read_counterparty=has_permission(COUNTERPARTY_READ),
        can_read_person=has_permission(PERSON_READ),
        breadcrumbs=crumbs,
    )
    return body, status


def _take(campaign: Campaign | None) -> ResponseReturnValue:
    posted_or_400()
    db = db_session()
    call_id = take_next(db, current_user.id, campaign.id if campaign else None)
    db.commit()
    if call_id is None:
        flash(_("No calls are due now."), "info")
    return redirect(_queue_url(campaign), 303)


@bp.get("/queue")
@require(CALL)
def queue() -> ResponseReturnValue:
    return queue_page(None)


@bp.post("/queue/take")
@require(CALL)
def queue_take() -> ResponseReturnValue:
    return _take(None)


@bp.get("/campaigns/<int:record_id>/queue")
@require(CALL)
def campaign_queue(record_id: int) -> ResponseReturnValue:
    return queue_page(_workable_campaign_or_404(record_id))


@bp.post("/campaigns/<int:record_id>/queue/take")
@require(CALL)
def campaign_queue_take(record_id: int) -> ResponseReturnValue:
    return _take(_workable_campaign_or_404(record_id))


@bp.post("/campaigns/<int:record_id>/calls/<int:call_id>/release")
@require(CALL)
def call_release(record_id: int, call_id: int) -> ResponseReturnValue:
    """Pause: hand the held call back to the queue."""
    campaign = _workable_campaign_or_404(record_id)
    posted_or_400()
    db = db_session()
    if release(db, call_id, current_user.id):
        db.commit()
        flash(_("The call went back to the queue."), "info")
    return redirect(_queue_url(campaign if request.form.get("queue") == "campaign" else None), 303)


@bp.post("/campaigns/<int:record_id>/calls/<int:call_id>/outcome")
@require(CALL)
def call_outcome(record_id: int, call_id: int) -> ResponseReturnValue:
    """Record the pressed outcome and take the next call; bad input saves nothing."""
    campaign = _workable_campaign_or_404(record_id)
    form = OutcomeForm()
    shown = campaign if form.queue.data == "campaign" else None  # the queue to go back to
    db = db_session()
    call = load_call(db, call_id) if 0 < call_id <= MAX_ID else None
    if call is None or call.campaign_id != campaign.id:
        return queue_page(shown, status=400, error=_("This call is not in this campaign's queue."))
    if not form.validate_on_submit():
        return queue_page(shown, form, call.id, status=400)
    try:
        problem = record_outcome(db, campaign, call, form, current_user.id)
    except ValueError as exc:  # the funnel refused the opportunity
        problem = _("The opportunity could not be created: %(why)s", why=str(exc))
    if problem:
        db.rollback()
        return queue_page(shown, OutcomeForm(formdata=None), status=409, error=problem)
    db.commit()
    flash(_("Saved: %(outcome)s.", outcome=OUTCOME_LABELS[form.outcome.data]), "success")
    take_next(db, current_user.id, shown.id if shown else None)
    db.commit()
    return redirect(_queue_url(shown), 303)
