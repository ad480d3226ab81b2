"""Call campaigns: the list, a new campaign, its card (the form view with its operators),
building its queue and moving it from draft to active to closed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from addons.crm_base.contacts import bump_version
from addons.crm_base.models import MailingList
from addons.sales.models import CAMPAIGN, Call, Campaign, CampaignOperator
from addons.sales.shared import card_view, new_page, posted_or_400, user_label
from addons.sales.telemarketing.common import (
    CALL,
    CREATE,
    DELETE,
    OPEN,
    READ,
    STATUS_LABELS,
    TRANSITIONS,
    UPDATE,
    status_label,
)
from addons.sales.telemarketing.forms import CampaignForm, fill_campaign_choices, readable_lists
from addons.sales.telemarketing.queue_build import BuildResult, build_queue
from addons.sales.views import bp, record_or_404
from core.models import User
from core.security import has_permission, require
from core.ui import ChoiceFilter, Column, ListView
from core.ui.formview import FormView
from core.web import db_session

FIELDS = (
    "name",
    "mailing_list_id",
    "script",
    "pipeline_id",
    "source_id",
    "starts_on",
    "ends_on",
    "responsible_id",
)
Responsible = aliased(User, name="responsible")

CAMPAIGNS = ListView(
    name="sales_campaigns",
    endpoint="sales.campaigns",
    model=Campaign,
    title=_l("Call campaigns"),
    columns=[
        Column(
            "name",
            _l("Name"),
            Campaign.name,
            sortable=True,
            link=lambda row: url_for("sales.campaign", record_id=row.id),
        ),
        Column("status", _l("Status"), Campaign.status, format=status_label),
        Column("mailing_list", _l("Mailing list"), MailingList.name, nullable=True),
        Column("responsible", _l("Responsible"), user_label(Responsible), nullable=True),
        Column("starts_on", _l("Starts on"), Campaign.starts_on, sortable=True, nullable=True),
        Column("ends_on", _l("Ends on"), Campaign.ends_on, nullable=True),
    ],
    joins=[
        (MailingList, MailingList.id == Campaign.mailing_list_id),
        (Responsible, Responsible.id == Campaign.responsible_id),
    ],
    search=[Campaign.name],
    filters=[
        ChoiceFilter(
            "status",
            _l("Status"),
            lambda: [(k, str(v)) for k, v in STATUS_LABELS.items()],
            expr=Campaign.status,
        )
    ],
    default_sort="name",
    subject=CAMPAIGN,
    owner=Campaign.responsible_id,
    empty_message=_l("No call campaigns yet."),
    template="sales/campaigns.html",
)


@bp.get("/campaigns")
@require(READ)
def campaigns() -> ResponseReturnValue:
    return CAMPAIGNS.render(can_create=has_permission(CREATE))


# -- operators -------------------------------------------------------------------------------


def operator_ids(db: Session, campaign_id: int) -> list[int]:
    return list(
        db.scalars(
            select(CampaignOperator.user_id)
            .where(CampaignOperator.campaign_id == campaign_id)
            .order_by(CampaignOperator.user_id)
        )
    )


def sync_operators(db: Session, campaign_id: int, wanted: Iterable[int]) -> bool:
    """The campaign's operators become ``wanted``; ``True`` if they changed."""
    wanted_set = set(wanted or ())
    rows = {
        row.user_id: row
        for row in db.scalars(
            select(CampaignOperator).where(CampaignOperator.campaign_id == campaign_id)
        )
    }
    for user_id in rows.keys() - wanted_set:
        db.delete(rows[user_id])
    db.add_all(
        CampaignOperator(campaign_id=campaign_id, user_id=u) for u in wanted_set - rows.keys()
    )
    return wanted_set != rows.keys()


# -- the card --------------------------------------------------------------------------------


@dataclass
class CampaignFormView(FormView):
    """The form view with the campaign's operators (rows of their own) saved alongside."""

    def edit_form(self, record: Any) -> FlaskForm:
        form = super().edit_form(record)
        form.operator_ids.data = operator_ids(db_session(), record.id)
        return form

    def apply(self, form: FlaskForm, record: Any) -> None:
        super().apply(form, record)
        db = db_session()
        own_change = db.is_modified(record, include_collections=False)
        if sync_operators(db, record.id, form.operator_ids.data) and not own_change:
            bump_version(db, record)


def _card_extras(record: Campaign) -> dict[str, Any]:
    counts = dict(
        db_session()
        .execute(
            select(Call.outcome, func.count())
            .where(Call.campaign_id == record.id)
            .group_by(Call.outcome)
        )
        .all()
    )
    return {
        "breadcrumbs": [(_("Call campaigns"), url_for("sales.campaigns")), (record.name, None)],
        "status_label": status_label(record.status),
        "next_statuses": [(s, status_label(s)) for s in TRANSITIONS.get(record.status, ())],
        "total_calls": sum(counts.values()),
        "open_calls": sum(counts.get(o, 0) for o in OPEN),
        "is_operator": has_permission(CALL)
        and current_user.id in operator_ids(db_session(), record.id),
        "action_form": FlaskForm(),
    }


CAMPAIGN_FORM = card_view(
    CampaignFormView,
    "campaign",
    Campaign,
    CAMPAIGN,
    CampaignForm,
    template="sales/campaign.html",
    update=UPDATE,
    delete=DELETE,
    title=lambda record: record.name,
    prepare=fill_campaign_choices,
    context=_card_extras,
    fields=FIELDS,
)


@bp.get("/campaigns/<int:record_id>")
@require(READ)
def campaign(record_id: int) -> ResponseReturnValue:
    return CAMPAIGN_FORM.show(record_id)


CAMPAIGN_FORM.add_routes(bp, "/campaigns", update=UPDATE, delete=DELETE)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@require(CREATE)
def campaign_new() -> ResponseReturnValue:
    """GET: the empty form (the creator responsible); POST: save the draft, open its card."""
    form = CampaignForm()
    fill_campaign_choices(form, None)
    status = 200
    if not form.is_submitted():
        form.responsible_id.data = current_user.id
    elif form.validate():
        db = db_session()
        record = Campaign(status="draft")
        for name in FIELDS:
            setattr(record, name, form[name].data)
        db.add(record)
        db.flush()
        sync_operators(db, record.id, form.operator_ids.data)
        db.commit()
        flash(_("Saved."), "success")
        return CAMPAIGN_FORM.open_saved(record.id)
    else:
        status = 400
    parent = (_("Call campaigns"), url_for("sales.campaigns"))
    save_url = url_for("sales.campaign_new")
    return new_page("sales/campaign_new.html", form, save_url, parent, _("New campaign"), status)


# -- the queue and the status ----------------------------------------------------------------


def _report_build(result: BuildResult) -> None:
    flash(
        _(
            "Calls queued: %(added)s; already in the queue: %(already)s.",
            added=result.added,
            already=result.already,
        ),
        "success",
    )
    if result.no_phone:
        flash(_("Members without a phone (not queued): %(n)s.", n=result.no_phone), "warning")
    if result.no_counterparty:
        flash(
            _("Persons of no counterparty (not queued): %(n)s.", n=result.no_counterparty),
            "warning",
        )


def _can_build(record: Campaign) -> bool:
    """Flash why the queue cannot be built, if it cannot."""
    if record.status == "closed":
        flash(_("The campaign is closed: reopen it first."), "danger")
        return False
    if record.mailing_list_id is None:
        flash(_("Choose the mailing list of the campaign first."), "danger")
        return False
    readable = readable_lists().where(MailingList.id == record.mailing_list_id)
    if db_session().execute(readable).first() is None:
        flash(_("You may not read the campaign's mailing list."), "danger")
        return False
    return True


@bp.post("/campaigns/<int:record_id>/build")
@require(UPDATE)
def campaign_build(record_id: int) -> ResponseReturnValue:
    """Fill (or top up) the queue from the mailing list."""
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    posted_or_400()
    if _can_build(record):
        db = db_session()
        result = build_queue(db, record, current_user)
        db.commit()
        _report_build(result)
    return redirect(url_for("sales.campaign", record_id=record.id), 303)


@bp.post("/campaigns/<int:record_id>/status")
@require(UPDATE)
def campaign_status(record_id: int) -> ResponseReturnValue:
    """Activate (building the queue), close, or reopen the campaign."""
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    posted_or_400()
    wanted = request.form.get("status", "")
    back = redirect(url_for("sales.campaign", record_id=record.id), 303)
    if wanted not in TRANSITIONS.get(record.status, ()):
        flash(_("The campaign cannot go from this status to that one."), "danger")
        return back
    db = db_session()
    result = None
    if wanted == "active":
        if not _can_build(record):
            return back
        result = build_queue(db, record, current_user)
    record.status = wanted
    db.commit()
    flash(_("Status: %(status)s.", status=status_label(wanted)), "success")
    if result is not None:
        _report_build(result)
    return back
