#!/usr/bin/env python3
"""List view benchmark: crm_base's counterparty list over many rows.

Not a test: it fills a fresh database with N counterparties, then times requests through
the Flask test client as a signed-in superuser and prints a table (median of the runs).

    .venv/bin/python bench/bench_list.py                        # 1,000,000 rows, SQLite
    .venv/bin/python bench/bench_list.py --rows 200000
    .venv/bin/python bench/bench_list.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL a new database is created next to the one named in the URL
(``CREATE DATABASE vt_bench_…``, as the test suite does) and dropped at the end. Rows go
in with COPY on PostgreSQL and with chunked Core ``executemany`` on SQLite.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_user,
    analyze,
    arguments,
    backend_of,
    bench_app,
    getter,
    indexes_dropped,
    load,
    parse,
    print_table,
    sign_in,
    temporary_kernel,
    timed,
)

URL = "/crm/counterparties"
MINE = 10_000  # rows managed by the bench user: the export scenario exports them
FORMS = ("ТОВ", "ПП", "ФОП", "ПрАТ", "ТзОВ", "АТ")
WORD_TEXT = (
    "Ромашка Зоря Світанок Калина Дніпро Карпати Поділля Вишня Явір Сокіл Степ Берег Ліс "
    "Джерело Криниця Млин Пасіка Хліб Сіль Мед Барвінок Мрія Лелека Вітер Хвиля Грім Сонце "
    "Промінь Колос Нива Сад Смерека Лава Кордон Шлях Міст Вежа Замок Оберіг Надія Воля Віра "
    "Альфа Бета Гамма Дельта Омега Техно Агро Буд Транс Енерго Металл Пром Інвест Торг Сервіс "
    "Логістик Медіа Софт Дата Маркет Трейд Фарм Текстиль Авто Газ Нафта Вугілля Папір Скло"
)
WORDS = tuple(WORD_TEXT.split())


@dataclass
class Result:
    scenario: str
    backend: str
    rows: int
    ms: float
    queries: int
    list_queries: int


# -- the database --------------------------------------------------------------------------


def generate(count: int, manager_id: int, seed: int = 4) -> Iterator[tuple[str, Any, datetime]]:
    """(name, manager_id, created_at) rows: company names built from a small vocabulary, so
    that names repeat (ties on the sort key) and searches find a realistic share."""
    rnd = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    span = 5 * 365 * 24 * 3600
    for i in range(count):
        name = f"{rnd.choice(FORMS)} «{rnd.choice(WORDS)} {rnd.choice(WORDS)}» {i % 100_000:05d}"
        owner = manager_id if i % max(count // MINE, 1) == 0 else None
        yield name, owner, start + timedelta(seconds=rnd.randrange(span))


def fill(kernel: Any, count: int, manager_id: int) -> float:
    """Insert the rows (COPY on PostgreSQL, chunked executemany on SQLite), indexes built
    after the load; returns seconds taken (ANALYZE included)."""
    from addons.crm_base.models import Counterparty

    started = time.perf_counter()
    engine = kernel.db.engine
    table = Counterparty.__table__
    with indexes_dropped(engine, table), engine.begin() as conn:
        load(conn, table, ("name", "manager_id", "created_at"), generate(count, manager_id))
    analyze(engine, "crm_base_counterparty")
    return time.perf_counter() - started


# -- the client ----------------------------------------------------------------------------


def next_link(body: bytes) -> str:
    import html
    import re

    found = re.search(r'class="page-link list-page-next" href="([^"]+)"', body.decode())
    assert found, "no next link"
    return html.unescape(found.group(1))


def cursor_near_end(app: Any, kernel: Any, from_end: int) -> str:
    """A page link continuing from the row ``from_end`` rows before the end (by name)."""
    from flask import url_for
    from sqlalchemy import select

    from addons.crm_base.models import Counterparty
    from addons.crm_base.views import COUNTERPARTIES
    from core.ui.listview import Row

    with kernel.db.session_factory() as db:
        rid, name = db.execute(
            select(Counterparty.id, Counterparty.name)
            .order_by(Counterparty.name.desc(), Counterparty.id.desc())
            .offset(from_end)
            .limit(1)
        ).one()
    with app.test_request_context("/"):
        state = COUNTERPARTIES.parse({})
        token = COUNTERPARTIES.encode_cursor(state, Row(rid, {"name": name}, []), before=False)
        return url_for("crm_base.counterparties", cursor=token)


# -- the run -------------------------------------------------------------------------------


def run(args: Any) -> list[Result]:
    backend = backend_of(args.database_url)
    results: list[Result] = []
    with temporary_kernel("list", args.database_url, ["crm_base"]) as kernel:
        bench_id = add_user(kernel, "bench", superuser=True)
        seconds = fill(kernel, args.rows, bench_id)
        print(f"# {backend}: {args.rows:,} rows inserted in {seconds:.1f} s", flush=True)

        app = bench_app(kernel)
        client = sign_in(app, "bench")
        engine = kernel.db.engine

        def measure(scenario: str, url: str) -> bytes:
            ms, statements, response = timed(engine, args.runs, getter(client, url))
            on_list = sum("crm_base_counterparty" in s for s in statements)
            results.append(Result(scenario, backend, args.rows, ms, len(statements), on_list))
            print(f"  {scenario:<42} {ms:9.1f} ms  {len(statements):3d} queries", flush=True)
            return bytes(response.get_data())

        def q(**params: Any) -> str:
            return f"{URL}?{urlencode(params)}"

        for _ in range(3):  # warm up: templates compiled, caches filled
            client.get(URL).get_data()
        body = measure("first page (25, by name)", URL)
        measure("first page (200, by name)", q(per_page=200))
        measure("first page (25, newest first)", q(sort="-created"))
        page_url = URL
        for _ in range(20):
            page_url = next_link(client.get(page_url).get_data())
        measure("page 21 via 20 next links", page_url)
        measure("previous from page 21", _prev(client, page_url))
        measure("jump: cursor 100 rows before the end", cursor_near_end(app, kernel, 100))
        measure("search prefix 'тов «зоря'", q(q="тов «зоря", match="prefix"))
        measure("search substring 'зоря світ'", q(q="зоря світ"))
        measure("search substring, rare ('04242')", q(q="04242"))
        measure("search substring, common ('тов')", q(q="тов"))
        measure("filter mine (10,000 rows)", q(whose="mine"))
        export = q(whose="mine")
        csv_ms = measure("export CSV, 10,000 rows", export.replace(URL, f"{URL}/export.csv"))
        lines = csv_ms.count(b"\r\n") - 1
        measure("export XLSX, 10,000 rows", export.replace(URL, f"{URL}/export.xlsx"))
        print(f"# CSV export had {lines:,} data rows; first page {len(body):,} bytes")
    return results


def _prev(client: Any, url: str) -> str:
    import html
    import re

    body = client.get(url).get_data().decode()
    found = re.search(r'class="page-link list-page-prev" href="([^"]+)"', body)
    assert found, "no previous link"
    return html.unescape(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="counterparties to insert")
    args = parse(parser, argv)
    results = run(args)
    print()
    print_table(
        ("scenario", "backend", "rows", f"ms (median of {args.runs})", "queries", "of which list"),
        [
            (
                r.scenario,
                r.backend,
                f"{r.rows:,}",
                f"{r.ms:.1f}",
                str(r.queries),
                str(r.list_queries),
            )
            for r in results
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
