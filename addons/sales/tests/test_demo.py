"""The sales demo (``make run``): a believable quarter for the funnel, reports and planner."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select

from addons.crm_base import demo as crm_demo
from addons.sales import demo
from addons.sales.models import (
    Call,
    Contact,
    Contract,
    Opportunity,
    Proposal,
    ProposalLine,
    SourceCost,
    StageMove,
)
from addons.sales.proposals.totals import compute_totals
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

    # Proposals for the deals that got that far, their totals as the proposal form counts
    # them; a contract per won deal, two of them ending within three weeks.
    proposals = sdb.scalars(select(Proposal)).all()
    assert len(proposals) > 20
    assert {p.status for p in proposals} == {"sent", "accepted", "rejected"}
    first = proposals[0]
    lines = [(line.quantity, line.price, line.vat_rate) for line in first_lines(sdb, first)]
    assert compute_totals(lines).total == first.total
    contracts = sdb.scalars(select(Contract)).all()
    assert len(contracts) == by_status["won"]
    soon = [c for c in contracts if c.ends_on <= TODAY + timedelta(days=21)]
    assert len(soon) == 2
    calls = dict(sdb.execute(select(Call.outcome, func.count()).group_by(Call.outcome)).all())
    assert calls["pending"] > 0 and sum(calls.values()) - calls["pending"] == 12


def first_lines(sdb, proposal):
    return sdb.scalars(select(ProposalLine).where(ProposalLine.proposal_id == proposal.id)).all()
