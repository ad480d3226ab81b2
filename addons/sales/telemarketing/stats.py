"""A campaign's progress: calls per outcome and per operator, the share done, a chart."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.sales.models import CAMPAIGN, Call, Campaign
from addons.sales.telemarketing.common import FINAL, OUTCOME_LABELS, READ
from addons.sales.views import bp, record_or_404
from core.security import require, user_names
from core.ui.widgets import chart_config
from core.web import db_session


def progress(db: Session, campaign_id: int) -> dict[str, Any]:
    """Counts per outcome and per operator from one GROUP BY, and the share done."""
    rows = db.execute(
        select(Call.operator_id, Call.outcome, func.count())
        .where(Call.campaign_id == campaign_id)
        .group_by(Call.operator_id, Call.outcome)
    ).all()
    per_outcome = dict.fromkeys(OUTCOME_LABELS, 0)
    per_operator: dict[int | None, dict[str, int]] = {}
    for operator_id, outcome, n in rows:
        per_outcome[outcome] = per_outcome.get(outcome, 0) + n
        line = per_operator.setdefault(operator_id, dict.fromkeys(OUTCOME_LABELS, 0))
        line[outcome] = line.get(outcome, 0) + n
    total = sum(per_outcome.values())
    done = sum(per_outcome[o] for o in FINAL)
    names = user_names(i for i in per_operator if i is not None)
    nobody = _("Not called yet")
    operators = sorted(
        (
            {
                "name": names.get(i, str(i)) if i is not None else nobody,
                "counts": counts,
                "total": sum(counts.values()),
            }
            for i, counts in per_operator.items()
        ),
        key=lambda line: (line["name"] == nobody, line["name"]),
    )
    return {
        "per_outcome": per_outcome,
        "operators": operators,
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
    }


@bp.get("/campaigns/<int:record_id>/progress")
@require(READ)
def campaign_progress(record_id: int) -> ResponseReturnValue:
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    data = progress(db_session(), record.id)
    config = chart_config(
        "doughnut",
        list(OUTCOME_LABELS.values()),
        [{"label": _("Calls"), "data": [data["per_outcome"][o] for o in OUTCOME_LABELS]}],
    )
    return render_template(
        "sales/campaign_progress.html",
        record=record,
        data=data,
        outcomes=list(OUTCOME_LABELS.items()),
        outcome_chart=config,
        breadcrumbs=[
            (_("Call campaigns"), url_for("sales.campaigns")),
            (record.name, url_for("sales.campaign", record_id=record.id)),
            (_("Progress"), None),
        ],
    )
