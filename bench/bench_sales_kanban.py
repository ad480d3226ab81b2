#!/usr/bin/env python3
"""Sales board benchmark: the kanban of one pipeline holding N open deals (MS-2).

Not a test: it fills a fresh database with N open opportunities in the default pipeline
(four stages holding 40 / 30 / 20 / 10 % of them, a tenth in USD, a tenth owned by a
manager whose record scope is "own"), then times through the Flask test client, signed
in, the server side of what the board does — the first render (column totals and the
first 25 cards of each column), "Show more" at the top and near the end of the biggest
column, and drops (a POST each) — and prints a table: median milliseconds, the deals the
request covers, deals per second, SQL statements per request.

    .venv/bin/python bench/bench_sales_kanban.py                    # 100,000 deals, SQLite
    .venv/bin/python bench/bench_sales_kanban.py --deals 20000
    .venv/bin/python bench/bench_sales_kanban.py --postgres         # 127.0.0.1:5432/test
    .venv/bin/python bench/bench_sales_kanban.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Rows go in with chunked Core ``executemany`` (``insert(table)`` with a list of dicts),
the table's secondary indexes built after the load. With PostgreSQL a new database is
created next to the one named in the URL and dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_list import PASSWORD, counting, sign_in  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHUNK = 20_000
COUNTERPARTIES = 2_000
SHARES = (0.4, 0.3, 0.2, 0.1)  # of the deals, per stage
MANAGER_SHARE = 10  # every tenth deal is the manager's


@dataclass
class Result:
    scenario: str
    backend: str
    rows: int  # the deals the request covers (board, column) or shifts (drop)
    ms: float
    queries: int


# -- the database --------------------------------------------------------------------------


def make_kernel(tmp: Path, url: str) -> tuple[Any, Any]:
    """A kernel on ``url`` with crm_base and sales installed under a licence signed by a
    key made here (sales is a commercial addon)."""
    from core.addons import bump_counter
    from core.config import Settings
    from core.kernel import Kernel
    from core.licenses import install_license
    from core.licensing import generate_keypair, issue

    keys = tmp / "keys"
    keys.mkdir()
    generate_keypair(keys / "bench.pem", keys / "bench.pub")
    settings = Settings.from_env(
        env={},
        instance_path=str(tmp / "instance"),
        database_url=url,
        secret_key="bench-secret-key",
        trusted_keys=str(keys / "bench.pub"),
    )
    kernel = Kernel(settings)
    kernel.manager.init_core()
    licence = issue(
        keys / "bench.pem",
        customer="bench",
        addons=["*"],
        max_users=100,
        expires=date.today() + timedelta(days=30),
    )
    with kernel.db.transaction() as session:
        install_license(session, licence, kernel.trusted_keys())
        bump_counter(session)
    kernel.manager.install(["sales"])
    kernel.refresh()
    return kernel, settings


@contextmanager
def indexes_dropped(engine: Any, table: Any) -> Iterator[None]:
    """Drop the table's secondary indexes for the load and build them after."""
    from sqlalchemy import inspect

    existing = {i["name"] for i in inspect(engine).get_indexes(table.name)}
    indexes = [i for i in table.indexes if i.name in existing]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        for index in indexes:
            index.create(conn)


@dataclass
class Setup:
    pipeline: int
    stages: list[int]
    bench: int
    manager: int
    counterparties: tuple[int, int]


def users_and_pipeline(kernel: Any) -> Setup:
    """The signed-in users (a superuser, a manager with the funnel rights and "own"
    scope), counterparties, and the default pipeline with its stages."""
    from sqlalchemy import func, insert, select

    from addons.crm_base.models import Counterparty
    from addons.sales.funnel import READ, UPDATE, default_pipeline, pipeline_stages
    from core.models import Group, GroupPermission, User, UserGroup
    from core.security import hash_password

    with kernel.db.transaction() as db:
        bench = User(login="bench", name="Bench", is_superuser=True)
        manager = User(login="manager", name="Manager")
        for user in (bench, manager):
            user.password_hash = hash_password(PASSWORD)
            db.add(user)
        group = Group(name="Sales managers")
        db.add(group)
        db.flush()
        db.add_all(GroupPermission(group_id=group.id, permission=p) for p in (READ, UPDATE))
        db.add(UserGroup(user_id=manager.id, group_id=group.id))
        db.execute(
            insert(Counterparty),
            [{"name": f"ТОВ «Покупець {n:05d}»"} for n in range(COUNTERPARTIES)],
        )
        pipeline = default_pipeline(db)
        stages = [s.id for s in pipeline_stages(db, pipeline.id)]
        low, high = db.execute(select(func.min(Counterparty.id), func.max(Counterparty.id))).one()
        return Setup(pipeline.id, stages, bench.id, manager.id, (low, high))


def deals(count: int, setup: Setup, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Open deals, positions spaced as the funnel spaces them, per stage (board order)."""
    from addons.sales.funnel import POSITION_STEP

    rnd = random.Random(seed)
    created = datetime(2025, 1, 1, tzinfo=UTC)
    n = 0
    for stage_id, share in zip(setup.stages, SHARES, strict=True):
        for position in range(int(count * share)):
            n += 1
            yield {
                "name": f"Угода {n}",
                "counterparty_id": rnd.randint(*setup.counterparties),
                "pipeline_id": setup.pipeline,
                "stage_id": stage_id,
                "status": "open",
                "amount": Decimal(rnd.randrange(1_000, 500_000)),
                "currency": "USD" if n % 10 == 3 else "UAH",
                "probability": 10,
                "expected_close": date(2025, 6, 1) + timedelta(days=n % 200),
                "responsible_id": setup.manager if n % MANAGER_SHARE == 0 else setup.bench,
                "position": position * POSITION_STEP,
                "reached_sort": 10,
                "lost_note": "",
                "notes": "",
                "created_at": created,
                "version": 1,
            }


def fill(kernel: Any, count: int, setup: Setup) -> float:
    """Insert the deals in chunks (Core executemany), indexes built after; seconds taken
    (ANALYZE included)."""
    from sqlalchemy import insert, text

    from addons.sales.models import Opportunity

    started = time.perf_counter()
    engine = kernel.db.engine
    table = Opportunity.__table__
    with indexes_dropped(engine, table), engine.begin() as conn:
        chunk: list[dict[str, Any]] = []
        for row in deals(count, setup):
            chunk.append(row)
            if len(chunk) == CHUNK:
                conn.execute(insert(table), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(table), chunk)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


# -- the requests ----------------------------------------------------------------------------


def timed(
    engine: Any,
    send: Callable[[int], Any],
    runs: int,
    prepare: Callable[[int], None] | None = None,
) -> tuple[float, int]:
    """Median milliseconds of ``runs`` requests (``send(n)`` makes the n-th, after one
    warm-up as n = 0; ``prepare(n)`` runs untimed before each), and the SQL statements of
    the last one."""
    times, queries = [], 0
    for n in range(runs + 1):
        if prepare is not None:
            prepare(n)
        if n == 0:
            assert send(0).status_code == 200
            continue
        with counting(engine) as statements:
            started = time.perf_counter()
            response = send(n)
            response.get_data()
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.get_data()[:300])
        body = response.get_json(silent=True)
        assert body is None or body.get("ok"), body
        queries = len(statements)
    return statistics.median(times), queries


def cursor_url(app: Any, setup: Setup, column: int, from_end: int) -> str:
    """The "Show more" URL of ``column`` continuing ``from_end`` cards before its end."""
    from flask import url_for
    from sqlalchemy import select

    from addons.sales.funnel import pipeline_board
    from addons.sales.models import Opportunity, Pipeline

    with app.test_request_context("/"):
        db = app.extensions["vitrylo"].db.session()
        key = db.execute(
            select(Opportunity.position, Opportunity.id)
            .where(Opportunity.stage_id == column, Opportunity.status == "open")
            .order_by(Opportunity.position.desc(), Opportunity.id.desc())
            .offset(from_end)
            .limit(1)
        ).one()
        board = pipeline_board(db.get(Pipeline, setup.pipeline))
        token = board.encode_cursor(str(column), tuple(key))
        url = url_for("sales.board_cards", pipeline_id=setup.pipeline)
        db.close()
        return f"{url}?{urlencode({'column': column, 'cursor': token})}"


def column_top(kernel: Any, stage_id: int, limit: int) -> list[tuple[int, int]]:
    """(id, position) of the first ``limit`` deals of a column."""
    from sqlalchemy import select

    from addons.sales.models import Opportunity

    with kernel.db.session_factory() as db:
        stmt = (
            select(Opportunity.id, Opportunity.position)
            .where(Opportunity.stage_id == stage_id, Opportunity.status == "open")
            .order_by(Opportunity.position, Opportunity.id)
            .limit(limit)
        )
        return [(rid, pos) for rid, pos in db.execute(stmt)]


def squeeze(kernel: Any, stage_id: int) -> None:
    """Leave no room between the first two cards of a column (the next drop between them
    must shift the cards below)."""
    from sqlalchemy import update

    from addons.sales.models import Opportunity

    (_first, position), (second, _pos) = column_top(kernel, stage_id, 2)
    with kernel.db.transaction() as db:
        db.execute(
            update(Opportunity).where(Opportunity.id == second).values(position=position + 1)
        )


def run(args: argparse.Namespace) -> list[Result]:
    from core.app import create_app
    from core.security import use_cheap_hashing
    from core.testing.databases import temporary_database

    use_cheap_hashing()
    server = args.database_url or (POSTGRES if args.postgres else None)
    backend = "postgresql" if server and server.startswith("postgresql") else "sqlite"
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="vitrylo-bench-kanban-") as tmp_text:
        tmp = Path(tmp_text)
        with temporary_database(tmp, server or "sqlite://") as url:
            kernel, settings = make_kernel(tmp, url)
            setup = users_and_pipeline(kernel)
            seconds = fill(kernel, args.deals, setup)
            print(f"# {backend}: {args.deals:,} open deals in {seconds:.1f} s", flush=True)
            app = create_app(settings, kernel=kernel)
            engine = kernel.db.engine
            clients = {"superuser": sign_in(app, "bench"), "manager": sign_in(app, "manager")}
            board = f"/sales/board/{setup.pipeline}"
            sizes = [int(args.deals * share) for share in SHARES]
            big, second = setup.stages[0], setup.stages[1]

            def measure(
                scenario: str,
                rows: int,
                send: Callable[[int], Any],
                prepare: Callable[[int], None] | None = None,
            ) -> None:
                ms, queries = timed(engine, send, args.runs, prepare)
                results.append(Result(scenario, backend, rows, ms, queries))
                print(f"  {scenario:<46} {ms:9.1f} ms {queries:3d} queries", flush=True)

            for who, client in clients.items():
                share = args.deals // MANAGER_SHARE if who == "manager" else args.deals
                measure(f"first board render, {who}", share, lambda _n, c=client: c.get(board))
            su = clients["superuser"]
            first_more = cursor_url(app, setup, big, sizes[0] - 25)  # after the first 25
            measure("show more: cards 26-50 of column 1", 25, lambda _n: su.get(first_more))
            deep = cursor_url(app, setup, big, 100)
            measure("show more: 100 cards before the end", 25, lambda _n: su.get(deep))

            token = _csrf(app, su)
            cards = [rid for rid, _pos in column_top(kernel, big, 3 * args.runs + 9)]
            spare = iter(cards)

            def drop(column: int, position: int) -> Any:
                data = {"csrf_token": token, "card": next(spare), "column": column}
                data["position"] = position
                return su.post(f"{board}/move", data=data, headers={"HX-Request": "true"})

            third = setup.stages[2]
            measure(f"drop on top of column 2 ({sizes[1]:,})", sizes[1], lambda n: drop(second, 0))
            measure("drop between cards 1-2 of column 2", sizes[1], lambda n: drop(second, 1))
            measure("reorder: a card of column 1 to its top", sizes[0], lambda n: drop(big, 0))
            measure(
                f"drop with no room: shifts column 3 ({sizes[2]:,})",
                sizes[2],
                lambda n: drop(third, 1),
                prepare=lambda n: squeeze(kernel, third),
            )
            kernel.db.dispose()
    return results


def _csrf(app: Any, client: Any) -> str:
    from core.testing.plugin import csrf_token

    return csrf_token(app, client)


def print_table(results: list[Result], runs: int) -> None:
    head = ("scenario", "backend", "rows", f"ms (median of {runs})", "rows/s", "queries")
    table = [head] + [
        (
            r.scenario,
            r.backend,
            f"{r.rows:,}",
            f"{r.ms:.1f}",
            f"{r.rows / r.ms * 1000:,.0f}" if r.ms else "-",
            str(r.queries),
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for n, row in enumerate(table):
        print(
            " | ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=100_000, help="open deals to insert")
    parser.add_argument("--postgres", action="store_true", help=f"use {POSTGRES}")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL server URL (default: SQLite)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed requests per scenario")
    args = parser.parse_args(argv)
    results = run(args)
    print()
    print_table(results, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
