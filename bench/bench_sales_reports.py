#!/usr/bin/env python3
"""Sales reports benchmark: the funnel report and the lead-source report over many deals.

Not a test: it fills a fresh database with N opportunities (2 pipelines, 20 managers,
8 lead sources, two years of creation dates, a realistic mix of open / won / lost and of
how far each got), then times the two report pages through the Flask test client — as a
superuser and as a manager whose record scope is "own" — for a quarter and for a year,
and prints a table (median of the runs).

    .venv/bin/python bench/bench_sales_reports.py                   # 1,000,000 rows, SQLite
    .venv/bin/python bench/bench_sales_reports.py --rows 200000
    .venv/bin/python bench/bench_sales_reports.py --postgres        # 127.0.0.1:5432/test
    .venv/bin/python bench/bench_sales_reports.py --without-report-indexes
    .venv/bin/python bench/bench_sales_reports.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With PostgreSQL a new database is created next to the one named in the URL and dropped
at the end. Rows go in with COPY on PostgreSQL and with chunked ``executemany`` of plain
tuples on SQLite; the table's secondary indexes are built after the load.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    CHUNK,
    PASSWORD,
    Result,
    add_user,
    analyze,
    arguments,
    backend_of,
    bench_app,
    chunked,
    copy_rows,
    getter,
    indexes_dropped,
    parse,
    print_results,
    sign_in,
    temporary_kernel,
    timed,
)

MANAGERS = 20
COUNTERPARTIES = 50_000
SOURCES = ("Exhibition", "Web site", "Google Ads", "Recommendation", "Cold call",
           "Partner", "Conference", "E-mail campaign")  # fmt: skip
PIPELINES = (
    ("New clients", ("Lead", "Qualified", "Meeting", "Proposal", "Negotiation")),
    ("Upsell", ("Need", "Proposal", "Approval", "Contract")),
)
START = datetime(2024, 1, 1, tzinfo=UTC)
DAYS = 731  # 2024 and 2025
REPORT_INDEXES = ("ix_sales_opportunity_funnel_report", "ix_sales_opportunity_source_report")
PERIODS = {
    "quarter": ("2025-04-01", "2025-06-30"),
    "year": ("2025-01-01", "2025-12-31"),
}


# -- the database --------------------------------------------------------------------------


@dataclass
class Setup:
    """Ids of what the opportunities point at."""

    managers: list[int]
    sources: list[int]
    stages: list[list[tuple[int, int]]]  # per pipeline: (stage id, sort) in order
    pipelines: list[int]
    counterparties: tuple[int, int]  # first and last id


def reference_data(kernel: Any) -> Setup:
    """Managers (a group with the report right, own scope), pipelines with stages, sources
    with a cost per month, counterparties (70 % with a source)."""
    from sqlalchemy import func, insert, select

    from addons.crm_base.models import Counterparty
    from addons.sales.models import (
        CounterpartySource,
        Pipeline,
        PipelineStage,
        Source,
        SourceCost,
    )
    from core.models import Group, GroupPermission, User, UserGroup
    from core.security import hash_password

    rnd = random.Random(7)
    with kernel.db.transaction() as db:
        group = Group(name="Managers")
        db.add(group)
        db.flush()
        db.add(GroupPermission(group_id=group.id, permission="sales.report.read"))
        password = hash_password(PASSWORD)
        users = [
            User(login=f"manager{n}", name=f"Manager {n}", password_hash=password)
            for n in range(1, MANAGERS + 1)
        ]
        db.add_all(users)
        db.flush()
        db.add_all(UserGroup(user_id=u.id, group_id=group.id) for u in users)
        sources = [Source(name=name, sort=n) for n, name in enumerate(SOURCES)]
        db.add_all(sources)
        stages: list[list[tuple[int, int]]] = []
        pipelines = []
        for n, (name, names) in enumerate(PIPELINES):
            pipeline = Pipeline(name=name, sort=n)
            db.add(pipeline)
            db.flush()
            rows = [
                PipelineStage(pipeline_id=pipeline.id, name=s, sort=10 * (i + 1))
                for i, s in enumerate(names)
            ]
            db.add_all(rows)
            db.flush()
            stages.append([(s.id, s.sort) for s in rows])
            pipelines.append(pipeline.id)
        db.flush()
        costs = [
            {
                "source_id": s.id,
                "spent_on": date(2024 + m // 12, m % 12 + 1, 1),
                "amount": Decimal(rnd.randrange(5_000, 50_000)),
                "note": "",
            }
            for s in sources
            for m in range(24)
        ]
        db.execute(insert(SourceCost), costs)
        manager_ids = [u.id for u in users]
        source_ids = [s.id for s in sources]
    with kernel.db.engine.begin() as conn:
        conn.execute(
            insert(Counterparty.__table__),
            [
                {
                    "name": f"ТОВ «Клієнт {n}»",
                    "manager_id": rnd.choice(manager_ids),
                    "created_at": START + timedelta(seconds=rnd.randrange(DAYS * 86400)),
                }
                for n in range(COUNTERPARTIES)
            ],
        )
        first, last = conn.execute(
            select(func.min(Counterparty.id), func.max(Counterparty.id))
        ).one()
        attributed = conn.execute(select(Counterparty.id, Counterparty.created_at)).all()
        conn.execute(
            insert(CounterpartySource.__table__),
            [
                {"counterparty_id": cid, "source_id": rnd.choice(source_ids), "created_at": at}
                for cid, at in attributed
                if rnd.random() < 0.7
            ],
        )
    return Setup(manager_ids, source_ids, stages, pipelines, (first, last))


COLUMNS = (
    "name", "counterparty_id", "pipeline_id", "stage_id", "status", "amount", "currency",
    "probability", "responsible_id", "source_id", "lost_note", "closed_at", "position",
    "reached_sort", "notes", "created_at", "version",
)  # fmt: skip


def opportunities(count: int, setup: Setup, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """Rows in ``COLUMNS`` order, oldest first (as a CRM fills up). 60 % in the first
    pipeline; each stage keeps ~70 % of the deals that reached the one before; older deals
    are more often closed (won at the last stage, lost wherever they stopped); 15 % have
    no source."""
    rnd = random.Random(seed)
    now = START + timedelta(days=DAYS)
    step = DAYS * 86400 / count
    for n in range(count):
        p = 0 if rnd.random() < 0.6 else 1
        stages = setup.stages[p]
        depth = 0
        while depth < len(stages) - 1 and rnd.random() < 0.7:
            depth += 1
        created = START + timedelta(seconds=(n + rnd.random()) * step)  # in creation order
        age = (now - created).days / DAYS  # 0 new … 1 two years old
        roll = rnd.random()
        status = "open" if roll > 0.2 + 0.75 * age else ("won" if roll < 0.35 * age else "lost")
        if status == "won":
            depth = len(stages) - 1
        stage_id, sort = stages[depth]
        closed = None if status == "open" else created + timedelta(days=rnd.randrange(1, 90))
        source = rnd.choice(setup.sources) if rnd.random() < 0.85 else None
        yield (
            f"Угода {n}", rnd.randint(*setup.counterparties), setup.pipelines[p], stage_id,
            status, Decimal(rnd.randrange(1_000, 500_000)), "UAH", 10 + 20 * depth % 90,
            rnd.choice(setup.managers), source, "", closed, n, sort, "", created, 1,
        )  # fmt: skip


def fill(kernel: Any, count: int, setup: Setup) -> float:
    """Insert the opportunities (COPY on PostgreSQL, executemany of tuples in chunks on
    SQLite), indexes built after the load; returns seconds taken (ANALYZE included)."""
    from addons.sales.models import Opportunity

    started = time.perf_counter()
    engine = kernel.db.engine
    rows = opportunities(count, setup)
    with indexes_dropped(engine, Opportunity.__table__), engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            copy_rows(conn, "sales_opportunity", COLUMNS, rows)
        else:
            marks = ", ".join("?" * len(COLUMNS))
            sql = f"INSERT INTO sales_opportunity ({', '.join(COLUMNS)}) VALUES ({marks})"
            cursor = conn.connection.dbapi_connection.cursor()
            for chunk in chunked(map(_sqlite_row, rows), CHUNK):
                cursor.executemany(sql, chunk)
    analyze(engine)
    return time.perf_counter() - started


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """What SQLAlchemy would store on SQLite: datetimes as text, Decimals as text."""
    return tuple(
        v.strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, datetime)
        else str(v)
        if isinstance(v, Decimal)
        else v
        for v in row
    )


def drop_report_indexes(kernel: Any) -> None:
    """Drop the reports' covering indexes (``--without-report-indexes``)."""
    from sqlalchemy import text

    with kernel.db.engine.begin() as conn:
        for name in REPORT_INDEXES:
            conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("ANALYZE"))


def covered(kernel: Any, pipeline: int | None, period: tuple[str, str], manager: int | None) -> int:
    """How many opportunities the report reads (not timed)."""
    from sqlalchemy import func, select

    from addons.sales.models import Opportunity

    start = datetime.fromisoformat(period[0]).replace(tzinfo=UTC)
    end = datetime.fromisoformat(period[1]).replace(tzinfo=UTC) + timedelta(days=1)
    stmt = select(func.count()).where(Opportunity.created_at >= start, Opportunity.created_at < end)
    if pipeline is not None:
        stmt = stmt.where(Opportunity.pipeline_id == pipeline)
    if manager is not None:
        stmt = stmt.where(Opportunity.responsible_id == manager)
    with kernel.db.session_factory() as db:
        return int(db.scalar(stmt) or 0)


# -- the run -------------------------------------------------------------------------------


def run(args: Any) -> list[Result]:
    backend = backend_of(args.database_url)
    results: list[Result] = []
    with temporary_kernel("sales", args.database_url, ["sales"], licensed=True) as kernel:
        add_user(kernel, "bench", superuser=True)
        setup = reference_data(kernel)
        seconds = fill(kernel, args.rows, setup)
        if args.without_report_indexes:
            drop_report_indexes(kernel)
        rate = args.rows / seconds
        print(f"# {backend}: {args.rows:,} opportunities in {seconds:.1f} s ({rate:,.0f}/s)")

        app = bench_app(kernel)
        engine = kernel.db.engine
        manager = setup.managers[0]
        clients = {"superuser": sign_in(app, "bench"), "manager": sign_in(app, "manager1")}
        for report in ("funnel", "sources"):
            pipeline = setup.pipelines[0] if report == "funnel" else None
            for who, client in clients.items():
                owner = manager if who == "manager" else None
                for name, period in PERIODS.items():
                    params: dict[str, Any] = {"date_from": period[0], "date_to": period[1]}
                    if pipeline is not None:
                        params["pipeline"] = pipeline
                    page = f"/sales/reports/{report}?{urlencode(params)}"
                    ms, statements, _response = timed(engine, args.runs, getter(client, page))
                    rows = covered(kernel, pipeline, period, owner)
                    scenario = f"{report}, {name}, {who}"
                    results.append(Result(scenario, backend, rows, ms, len(statements)))
                    print(f"  {scenario:<28} {rows:>9,} rows {ms:9.1f} ms", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="opportunities to insert")
    parser.add_argument(
        "--without-report-indexes",
        action="store_true",
        help=f"drop {', '.join(REPORT_INDEXES)} after the load (to see what they buy)",
    )
    args = parse(parser, argv)
    results = run(args)
    print()
    print_results(results, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
