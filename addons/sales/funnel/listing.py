"""The opportunities list: open deals by default, filters by pipeline, stage, responsible,
source and expected close; export."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from addons.crm_base.models import Counterparty
from addons.sales.funnel.common import CREATE, EXPORT, READ, STATUS_LABELS, status_label
from addons.sales.models import OPPORTUNITY, Opportunity, Pipeline, PipelineStage
from addons.sales.shared import user_label
from addons.sales.sources import all_source_choices
from addons.sales.views import bp
from core.models import User
from core.security import has_permission, require, user_choices
from core.ui import ChoiceFilter, Column, DateRangeFilter, ListView, RelatedFilter
from core.ui.widgets import format_amount
from core.web import db_session

RESPONSIBLE = aliased(User)


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


def _status(value: str) -> Any:
    return None if value == "all" else Opportunity.status == value


def _whose(value: str) -> Any:
    return Opportunity.responsible_id == current_user.id if value == "mine" else None


OPPORTUNITIES = ListView(
    name="sales_opportunities",
    endpoint="sales.opportunities",
    model=Opportunity,
    title=_l("Opportunities"),
    columns=[
        Column("number", _l("No."), Opportunity.id, sortable=True, css="text-nowrap"),
        Column(
            "name",
            _l("Name"),
            Opportunity.name,
            sortable=True,
            link=lambda row: url_for("sales.opportunity", record_id=row.id),
        ),
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
        Column("probability", _l("Probability"), Opportunity.probability, css="text-end"),
        Column("expected_close", _l("Expected close"), Opportunity.expected_close, sortable=True),
        Column("responsible", _l("Responsible"), user_label(RESPONSIBLE), nullable=True),
        Column(
            "status",
            _l("Status"),
            Opportunity.status,
            format=status_label,
            export_format=status_label,
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
        RelatedFilter("responsible", _l("Responsible"), Opportunity.responsible_id, user_choices),
        ChoiceFilter("source", _l("Source"), all_source_choices, Opportunity.source_id, coerce=int),
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
