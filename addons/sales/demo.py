"""Demo data of sales (``make run``): a quarter that makes the funnel and the reports look
real.

Three sales managers in one team share crm_base's demo counterparties with the admin (the
first superuser, created before the addons by ``vitrylo init``). Over the last 91 days they
opened about 150 opportunities in two pipelines from five lead sources (with what each
source cost), moved them through the stages, won about a quarter and lost a fifth with a
reason; they planned calls and meetings — today's, overdue and this week's for each of them,
the admin included, so the planner and "My contacts" have something to show — sent
proposals, signed contracts for the deals they won (two end within three weeks) and run a
call campaign that is half-way through its queue. A fixed seed gives the same quarter on
every install, moved to end today.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import Channel, Counterparty, MailingList, PersonLink
from addons.sales.models import (
    Call,
    Campaign,
    CampaignOperator,
    Contact,
    Contract,
    CounterpartySource,
    LostReason,
    Opportunity,
    Pipeline,
    PipelineStage,
    Proposal,
    ProposalLine,
    Source,
    SourceCost,
    StageMove,
)
from addons.sales.proposals.totals import compute_totals
from core.models import Team, User
from core.security import hash_password

SEED = 20261127
DAYS = 91
MANAGERS = (
    ("olena.koval", "Олена Коваль"),
    ("petro.melnyk", "Петро Мельник"),
    ("iryna.shevchuk", "Ірина Шевчук"),
)
PIPELINES = {
    "Продажі": (("Кваліфікація", 10), ("Потреби", 25), ("Пропозиція", 50), ("Переговори", 75)),
    "Сервісні контракти": (("Запит", 20), ("Оцінка", 50), ("Погодження", 80)),
}
# name: (weight among leads, cost per month in UAH or None)
SOURCES = {
    "Виставка": (2, Decimal("45000")),
    "Веб-сайт": (4, Decimal("12000")),
    "Реклама": (3, Decimal("30000")),
    "Рекомендація": (3, None),
    "Холодний дзвінок": (2, None),
}
LOST_REASONS = ("Ціна", "Обрали конкурента", "Немає бюджету", "Не на часі")
DEALS = (
    "Постачання обладнання",
    "Річне обслуговування",
    "Впровадження CRM",
    "Навчання персоналу",
    "Ліцензії на 20 місць",
    "Модернізація мережі",
    "Аудит безпеки",
    "Поставка витратних матеріалів",
)
CONTACT_SUBJECTS = {
    "call": ("Уточнити потреби", "Нагадати про пропозицію", "Домовитися про зустріч"),
    "meeting": ("Презентація рішення", "Переговори щодо умов", "Зустріч з директором"),
    "letter": ("Надіслати комерційну пропозицію", "Лист-подяка", "Надіслати договір"),
}


def _managers(session: Session) -> list[int]:
    """The demo managers (unusable random passwords: an admin sets one to sign in as them),
    plus the admin when ``vitrylo init`` made one first."""
    team = Team(name="Відділ продажів")
    session.add(team)
    session.flush()
    ids = []
    for login, name in MANAGERS:
        user = User(
            login=login,
            name=name,
            team_id=team.id,
            password_hash=hash_password(secrets.token_urlsafe(24)),
        )
        session.add(user)
        session.flush()
        ids.append(user.id)
    admin = session.scalar(select(User.id).where(User.is_superuser.is_(True)).order_by(User.id))
    return [admin, *ids] if admin else ids


def _when(rng: random.Random, start: datetime, days: float) -> datetime:
    return start + timedelta(days=rng.uniform(0, days))


def _opportunities(
    rng: random.Random,
    session: Session,
    now: datetime,
    counterparties: list[int],
    managers: list[int],
    sources: list[tuple[int, int]],
    reasons: list[int],
) -> int:
    """~150 deals: created over the quarter, moved forward, some won or lost."""
    pipelines = []
    for sort, (name, stages) in enumerate(PIPELINES.items()):
        pipeline = Pipeline(name=name, sort=sort)
        session.add(pipeline)
        session.flush()
        rows = [
            PipelineStage(pipeline_id=pipeline.id, name=s, sort=i * 10, probability=p)
            for i, (s, p) in enumerate(stages, start=1)
        ]
        session.add_all(rows)
        session.flush()
        pipelines.append((pipeline, rows))
    weights = [w for _id, w in sources]
    start = now - timedelta(days=DAYS)
    count = 0
    for _ in range(150):
        pipeline, stages = pipelines[0] if rng.random() < 0.75 else pipelines[1]
        created = _when(rng, start, DAYS - 1)
        reached = rng.choices(range(len(stages)), weights=[4, 3, 2, 1][: len(stages)])[0]
        age = (now - created).days
        outcome = "open"
        if age > 20:
            outcome = rng.choices(("open", "won", "lost"), weights=(3, 3, 2))[0]
        if outcome == "won":
            reached = len(stages) - 1
        stage = stages[reached]
        manager = rng.choice(managers)
        amount = Decimal(rng.randrange(8, 400) * 1000)
        source_id = rng.choices([i for i, _w in sources], weights=weights)[0]
        closed = (
            created + timedelta(days=rng.uniform(5, max(age, 6) - 1)) if outcome != "open" else None
        )
        opp = Opportunity(
            name=rng.choice(DEALS),
            counterparty_id=rng.choice(counterparties),
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            status=outcome,
            amount=amount,
            probability={"won": 100, "lost": 0}.get(outcome, stage.probability),
            expected_close=(created + timedelta(days=rng.randrange(20, 80))).date(),
            responsible_id=manager,
            source_id=source_id,
            lost_reason_id=rng.choice(reasons) if outcome == "lost" else None,
            closed_at=closed,
            position=count,
            reached_sort=stage.sort,
            created_at=created,
        )
        session.add(opp)
        session.flush()
        moved = created
        previous = None
        for s in stages[: reached + 1]:
            session.add(
                StageMove(
                    opportunity_id=opp.id,
                    from_stage_id=previous,
                    to_stage_id=s.id,
                    user_id=manager,
                    moved_at=moved,
                )
            )
            previous = s.id
            moved += timedelta(days=rng.uniform(1, 6))
        if closed is not None:
            session.add(
                StageMove(
                    opportunity_id=opp.id,
                    from_stage_id=stage.id,
                    to_stage_id=stage.id,
                    status=outcome,
                    user_id=manager,
                    moved_at=closed,
                )
            )
        count += 1
    return count


def _contacts(
    rng: random.Random,
    session: Session,
    now: datetime,
    counterparties: list[int],
    managers: list[int],
) -> int:
    """Each manager: done contacts over the quarter, one overdue, three today, more this week."""
    persons = dict(session.execute(select(PersonLink.counterparty_id, PersonLink.person_id)).all())
    today = now.date()
    rows = []

    def contact(manager: int, when: datetime, status: str) -> Contact:
        kind = rng.choice(("call", "call", "meeting", "letter"))
        counterparty = rng.choice(counterparties)
        done = status == "done"
        return Contact(
            kind=kind,
            subject=rng.choice(CONTACT_SUBJECTS[kind]),
            planned_at=when,
            duration_minutes=60 if kind == "meeting" else 15,
            status=status,
            responsible_id=manager,
            counterparty_id=counterparty,
            person_id=persons.get(counterparty),
            done_at=when if done else None,
            result="Домовилися про наступний крок" if done else "",
            created_by=manager,
            created_at=when - timedelta(days=2),
        )

    for manager in managers:
        for _ in range(25):
            rows.append(contact(manager, _when(rng, now - timedelta(days=DAYS), DAYS - 1), "done"))
        rows.append(contact(manager, now - timedelta(days=rng.randrange(1, 4), hours=2), "planned"))
        for hour in (10, 12, 15):
            rows.append(contact(manager, datetime.combine(today, time(hour), UTC), "planned"))
        for day in range(1, 6):
            rows.append(
                contact(
                    manager, datetime.combine(today + timedelta(days=day), time(9), UTC), "planned"
                )
            )
    session.add_all(rows)
    return len(rows)


def _documents(rng: random.Random, session: Session, now: datetime) -> tuple[int, int]:
    """A proposal for every deal that got to the "Пропозиція" stage (accepted when won,
    rejected when lost, sent otherwise) and a year's contract for every won deal — two of
    them ending within three weeks, so "contracts expiring" has something to show."""
    deals = session.execute(
        select(Opportunity, PipelineStage.sort)
        .join(PipelineStage, PipelineStage.id == Opportunity.stage_id)
        .where(Opportunity.reached_sort >= 30)
        .order_by(Opportunity.created_at)
    ).all()
    numbers: dict[tuple[str, int], int] = {}

    def number(prefix: str, day: date) -> str:
        numbers[(prefix, day.year)] = numbers.get((prefix, day.year), 0) + 1
        return f"{prefix}-{day.year}-{numbers[(prefix, day.year)]:04d}"

    proposals = contracts = 0
    for opp, _sort in deals:
        issued = (opp.created_at + timedelta(days=rng.randrange(3, 12))).date()
        issued = min(issued, now.date())
        lines = [
            (
                opp.name,
                Decimal(1),
                "послуга",
                (opp.amount * Decimal("0.75")).quantize(Decimal("1")),
            ),
            (
                "Налаштування та навчання",
                Decimal(2),
                "день",
                (opp.amount * Decimal("0.125")).quantize(Decimal("1")),
            ),
        ]
        totals = compute_totals((q, p, Decimal(20)) for _d, q, _u, p in lines)
        status = {"won": "accepted", "lost": "rejected"}.get(opp.status, "sent")
        proposal = Proposal(
            number=number("КП", issued),
            counterparty_id=opp.counterparty_id,
            opportunity_id=opp.id,
            person_id=opp.person_id,
            issued_on=issued,
            valid_until=issued + timedelta(days=30),
            status=status,
            total=totals.total,
            vat_total=totals.vat,
            intro="Дякуємо за інтерес до наших послуг. Пропонуємо:",
            terms="Оплата 50 % передплати, решта — після підписання акта.",
            responsible_id=opp.responsible_id,
            sent_at=datetime.combine(issued, time(10), UTC),
            created_at=datetime.combine(issued, time(9), UTC),
        )
        session.add(proposal)
        session.flush()
        session.add_all(
            ProposalLine(
                proposal_id=proposal.id,
                sort=i,
                description=d,
                quantity=q,
                unit=u,
                price=p,
                vat_rate=Decimal(20),
            )
            for i, (d, q, u, p) in enumerate(lines, start=1)
        )
        proposals += 1
        if opp.status != "won" or opp.closed_at is None:
            continue
        signed = opp.closed_at.date()
        starts = signed if contracts >= 2 else now.date() - timedelta(days=345 + contracts * 5)
        session.add(
            Contract(
                number=number("ДГ", signed),
                counterparty_id=opp.counterparty_id,
                opportunity_id=opp.id,
                proposal_id=proposal.id,
                subject=opp.name,
                signed_on=min(signed, starts),
                starts_on=starts,
                ends_on=starts + timedelta(days=365),
                amount=totals.total,
                status="active",
                responsible_id=opp.responsible_id,
                created_at=opp.closed_at,
            )
        )
        contracts += 1
    return proposals, contracts


def _campaign(
    session: Session, now: datetime, managers: list[int], source_id: int, pipeline_id: int
) -> int:
    """An active call campaign over every counterparty with a phone, its queue built, the
    managers as its operators and the first dozen calls already made."""
    mailing = MailingList(name="Обдзвін: осіння пропозиція", subject="counterparty", query="")
    session.add(mailing)
    session.flush()
    campaign = Campaign(
        name="Осіння пропозиція",
        mailing_list_id=mailing.id,
        script=(
            "Добрий день! Мене звати …, компанія «Вітрило». Ми допомагаємо впорядкувати "
            "продажі. Чи зручно вам зараз поговорити дві хвилини?\n"
            "— Якщо так: з'ясуйте, як зараз ведуть клієнтів, і запропонуйте демонстрацію.\n"
            "— Якщо ні: домовтеся, коли передзвонити."
        ),
        status="active",
        pipeline_id=pipeline_id,
        source_id=source_id,
        responsible_id=managers[0],
        starts_on=(now - timedelta(days=14)).date(),
        ends_on=(now + timedelta(days=14)).date(),
    )
    session.add(campaign)
    session.flush()
    session.add_all(CampaignOperator(campaign_id=campaign.id, user_id=m) for m in managers)
    phones: dict[int, str] = {}
    for counterparty_id, value in session.execute(
        select(Channel.counterparty_id, Channel.value)
        .where(Channel.kind == "phone", Channel.counterparty_id.is_not(None))
        .order_by(Channel.is_primary.desc(), Channel.id)
    ):
        phones.setdefault(counterparty_id, value)
    outcomes = ("reached", "no_answer", "call_back", "not_interested", "reached", "no_answer")
    for n, (counterparty_id, phone) in enumerate(sorted(phones.items())):
        done = n < 12
        outcome = outcomes[n % len(outcomes)] if done else "pending"
        session.add(
            Call(
                campaign_id=campaign.id,
                counterparty_id=counterparty_id,
                phone=phone,
                outcome=outcome,
                due_at=now + timedelta(hours=1) if outcome in ("no_answer", "call_back") else now,
                operator_id=managers[n % len(managers)] if done else None,
                attempts=1 if done else 0,
                called_at=now - timedelta(days=1, minutes=n * 7) if done else None,
            )
        )
    return len(phones)


def load(session: Session, today: date | None = None) -> None:
    """Insert the demo quarter (once, when sales is installed with ``--demo``)."""
    from core.audit import record

    rng = random.Random(SEED)
    now = datetime.combine(today or date.today(), time(12), UTC)
    counterparties = list(session.scalars(select(Counterparty.id).order_by(Counterparty.id)))
    if not counterparties:
        return
    audit = session.info.get("audit")
    session.info["audit"] = False  # one summary entry instead of one per row
    try:
        managers = _managers(session)
        for cid in counterparties:
            session.execute(
                Counterparty.__table__.update()
                .where(Counterparty.id == cid)
                .values(manager_id=rng.choice(managers))
            )
        sources = []
        for sort, (name, (weight, monthly)) in enumerate(SOURCES.items()):
            source = Source(name=name, sort=sort)
            session.add(source)
            session.flush()
            sources.append((source.id, weight))
            if monthly is not None:
                session.add_all(
                    SourceCost(
                        source_id=source.id,
                        spent_on=(now - timedelta(days=30 * m + 15)).date(),
                        amount=monthly,
                        note="Щомісячні витрати",
                    )
                    for m in range(3)
                )
        for cid in counterparties:
            session.add(
                CounterpartySource(
                    counterparty_id=cid,
                    source_id=rng.choices(
                        [i for i, _w in sources], weights=[w for _i, w in sources]
                    )[0],
                    created_at=_when(rng, now - timedelta(days=DAYS), DAYS),
                )
            )
        reasons = []
        for name in LOST_REASONS:
            reason = LostReason(name=name)
            session.add(reason)
            session.flush()
            reasons.append(reason.id)
        deals = _opportunities(rng, session, now, counterparties, managers, sources, reasons)
        contacts = _contacts(rng, session, now, counterparties, managers)
        session.flush()
        proposals, contracts = _documents(rng, session, now)
        pipeline_id = session.scalar(select(Pipeline.id).order_by(Pipeline.sort))
        calls = _campaign(session, now, managers, sources[-1][0], pipeline_id)
        session.flush()
    finally:
        if audit is None:
            session.info.pop("audit", None)
        else:
            session.info["audit"] = audit
    record(
        session,
        "demo",
        "sales",
        "",
        opportunities=deals,
        contacts=contacts,
        proposals=proposals,
        contracts=contracts,
        calls=calls,
    )
