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

import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    Result,
    add_user,
    analyze,
    arguments,
    backend_of,
    bench_app,
    csrf,
    indexes_dropped,
    insert_chunks,
    parse,
    print_results,
    sign_in,
    temporary_kernel,
    timed,
)

CHUNK = 20_000
COUNTERPARTIES = 2_000
SHARES = (0.4, 0.3, 0.2, 0.1)  # of the deals, per stage
MANAGER_SHARE = 10  # every tenth deal is the manager's


# -- the database --------------------------------------------------------------------------


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
    from core.models import Group, GroupPermission, UserGroup

    bench = add_user(kernel, "bench", superuser=True)
    manager = add_user(kernel, "manager")
    with kernel.db.transaction() as db:
        group = Group(name="Sales managers")
        db.add(group)
        db.flush()
        db.add_all(GroupPermission(group_id=group.id, permission=p) for p in (READ, UPDATE))
        db.add(UserGroup(user_id=manager, group_id=group.id))
        db.execute(
            insert(Counterparty),
            [{"name": f"ТОВ «Покупець {n:05d}»"} for n in range(COUNTERPARTIES)],
        )
        pipeline = default_pipeline(db)
        stages = [s.id for s in pipeline_stages(db, pipeline.id)]
        low, high = db.execute(select(func.min(Counterparty.id), func.max(Counterparty.id))).one()
        return Setup(pipeline.id, stages, bench, manager, (low, high))


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
    from addons.sales.models import Opportunity

    started = time.perf_counter()
    engine = kernel.db.engine
    table = Opportunity.__table__
    with indexes_dropped(engine, table), engine.begin() as conn:
        insert_chunks(conn, table, deals(count, setup), CHUNK)
    analyze(engine)
    return time.perf_counter() - started


# -- the requests ----------------------------------------------------------------------------


def ok(response: Any) -> Any:
    """``response``, read and checked: status 200, and ``ok`` in a JSON body."""
    response.get_data()
    assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    body = response.get_json(silent=True)
    assert body is None or body.get("ok"), body
    return response


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


def run(args: Any) -> list[Result]:
    backend = backend_of(args.database_url)
    results: list[Result] = []
    with temporary_kernel("kanban", args.database_url, ["sales"], licensed=True) as kernel:
        setup = users_and_pipeline(kernel)
        seconds = fill(kernel, args.deals, setup)
        print(f"# {backend}: {args.deals:,} open deals in {seconds:.1f} s", flush=True)
        app = bench_app(kernel)
        engine = kernel.db.engine
        clients = {"superuser": sign_in(app, "bench"), "manager": sign_in(app, "manager")}
        board = f"/sales/board/{setup.pipeline}"
        sizes = [int(args.deals * share) for share in SHARES]
        big, second = setup.stages[0], setup.stages[1]

        def measure(
            scenario: str,
            rows: int,
            send: Callable[[], Any],
            prepare: Callable[[], None] | None = None,
        ) -> None:
            ms, statements, _response = timed(engine, args.runs, lambda: ok(send()), prepare)
            queries = len(statements)
            results.append(Result(scenario, backend, rows, ms, queries))
            print(f"  {scenario:<46} {ms:9.1f} ms {queries:3d} queries", flush=True)

        for who, client in clients.items():
            share = args.deals // MANAGER_SHARE if who == "manager" else args.deals
            measure(f"first board render, {who}", share, lambda c=client: c.get(board))
        su = clients["superuser"]
        first_more = cursor_url(app, setup, big, sizes[0] - 25)  # after the first 25
        measure("show more: cards 26-50 of column 1", 25, lambda: su.get(first_more))
        deep = cursor_url(app, setup, big, 100)
        measure("show more: 100 cards before the end", 25, lambda: su.get(deep))

        token = csrf(app, su)
        cards = [rid for rid, _pos in column_top(kernel, big, 3 * args.runs + 9)]
        spare = iter(cards)

        def drop(column: int, position: int) -> Any:
            data = {"csrf_token": token, "card": next(spare), "column": column}
            data["position"] = position
            return su.post(f"{board}/move", data=data, headers={"HX-Request": "true"})

        third = setup.stages[2]
        measure(f"drop on top of column 2 ({sizes[1]:,})", sizes[1], lambda: drop(second, 0))
        measure("drop between cards 1-2 of column 2", sizes[1], lambda: drop(second, 1))
        measure("reorder: a card of column 1 to its top", sizes[0], lambda: drop(big, 0))
        measure(
            f"drop with no room: shifts column 3 ({sizes[2]:,})",
            sizes[2],
            lambda: drop(third, 1),
            prepare=lambda: squeeze(kernel, third),
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--deals", type=int, default=100_000, help="open deals to insert")
    args = parse(parser, argv)
    results = run(args)
    print()
    print_results(results, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
