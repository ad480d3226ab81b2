"""The sales demo (``make run``): a believable quarter for the funnel, reports and planner."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from addons.crm_base import demo as crm_demo
from addons.sales import demo
from addons.sales.models import Contact, Opportunity, SourceCost, StageMove
from core.models import User

TODAY = date(2026, 11, 27)


def test_demo_quarter_has_deals_in_every_state_and_a_day_of_work_for_everyone(sdb):
    crm_demo.load(sdb, today=TODAY)
    admin = User(login="demo-admin", name="Admin", is_superuser=True, password_hash="x")
    sdb.add(admin)
    sdb.flush()
    demo.load(sdb, today=TODAY)
    sdb.flush()

    by_status = dict(
        sdb.execute(select(Opportunity.status, func.count()).group_by(Opportunity.status)).all()
    )
    assert by_status["open"] > 30 and by_status["won"] > 15 and by_status["lost"] > 10
    start = datetime.combine(TODAY - timedelta(days=demo.DAYS), time(), UTC)
    created = sdb.scalars(select(Opportunity.created_at)).all()
    assert all(c.replace(tzinfo=UTC) >= start for c in created)
    # Every deal went through the stages it reached: one move per stage, and one to close.
    moves = sdb.scalar(select(func.count()).select_from(StageMove))
    assert moves >= len(created) + by_status["won"] + by_status["lost"]
    assert sdb.scalar(select(func.count()).select_from(SourceCost)) > 0

    today = datetime.combine(TODAY, time(), UTC)
    managers = sdb.scalars(select(Contact.responsible_id).distinct()).all()
    assert admin.id in managers and len(managers) == 4
    for manager in managers:
        due_today = sdb.scalar(
            select(func.count())
            .select_from(Contact)
            .where(
                Contact.responsible_id == manager,
                Contact.status == "planned",
                Contact.planned_at >= today,
                Contact.planned_at < today + timedelta(days=1),
            )
        )
        assert due_today == 3
