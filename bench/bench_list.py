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

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

URL = "/crm/counterparties"
CHUNK = 50_000
MINE = 10_000  # rows managed by the bench user: the export scenario exports them
PASSWORD = "correct-horse-battery-42"
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


@contextmanager
def indexes_dropped(engine: Any) -> Iterator[None]:
    """Drop the table's secondary indexes for the load and build them after: one sort per
    index instead of a million inserts into each."""
    from sqlalchemy import inspect, text

    from addons.crm_base.models import Counterparty

    table = Counterparty.__table__
    existing = {i["name"] for i in inspect(engine).get_indexes(table.name)}
    indexes = [i for i in table.indexes if i.name in existing]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for index in indexes:
            index.create(conn)


def fill(kernel: Any, count: int, manager_id: int) -> float:
    """Insert the rows (COPY on PostgreSQL, chunked executemany on SQLite), indexes built
    after the load; returns seconds taken (ANALYZE included)."""
    from sqlalchemy import insert, text

    from addons.crm_base.models import Counterparty

    started = time.perf_counter()
    rows = generate(count, manager_id)
    engine = kernel.db.engine
    postgres = engine.dialect.name == "postgresql"
    with indexes_dropped(engine), engine.begin() as conn:
        if postgres:
            copy_sql = "COPY crm_base_counterparty (name, manager_id, created_at) FROM STDIN"
            with conn.connection.dbapi_connection.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            table = Counterparty.__table__
            chunk: list[dict[str, Any]] = []
            for name, owner, created in rows:
                chunk.append({"name": name, "manager_id": owner, "created_at": created})
                if len(chunk) == CHUNK:
                    conn.execute(insert(table), chunk)
                    chunk = []
            if chunk:
                conn.execute(insert(table), chunk)
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE crm_base_counterparty"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


# -- the client ----------------------------------------------------------------------------


def sign_in(app: Any, login: str) -> Any:
    """A test client signed in through the real login form (CSRF token included)."""
    from itsdangerous import URLSafeTimedSerializer

    client = app.test_client()
    with client.session_transaction() as sess:
        sess["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
        raw = sess["csrf_token"]
    token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
    response = client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


@contextmanager
def counting(engine: Any) -> Iterator[list[str]]:
    from sqlalchemy import event

    seen: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def timed(client: Any, engine: Any, url: str, runs: int) -> tuple[float, list[str], bytes]:
    """Median milliseconds of ``runs`` requests (after one warm-up), the SQL statements of
    the last one, and its body."""
    client.get(url).get_data()
    times = []
    body = b""
    for _ in range(runs):
        with counting(engine) as seen:
            started = time.perf_counter()
            response = client.get(url)
            body = response.get_data()
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), seen, body


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


def run(args: argparse.Namespace) -> list[Result]:
    from sqlalchemy import select

    from core.app import create_app
    from core.config import Settings
    from core.kernel import Kernel
    from core.models import User
    from core.security import hash_password, use_cheap_hashing
    from core.testing.databases import temporary_database

    use_cheap_hashing()
    backend = "sqlite" if not args.database_url else args.database_url.split(":")[0]
    backend = backend.split("+")[0]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="vitrylo-bench-list-") as tmp_text:
        tmp = Path(tmp_text)
        with temporary_database(tmp, args.database_url or "sqlite://") as url:
            settings = Settings.from_env(
                env={},
                instance_path=str(tmp / "instance"),
                database_url=url,
                secret_key="bench-secret-key",
            )
            kernel = Kernel(settings)
            kernel.manager.init_core()
            kernel.manager.install(["crm_base"])
            kernel.refresh()
            with kernel.db.transaction() as db:
                db.add(
                    User(
                        login="bench",
                        name="Bench",
                        is_superuser=True,
                        password_hash=hash_password(PASSWORD, "bench"),
                    )
                )
            with kernel.db.session_factory() as db:
                bench_id = db.scalar(select(User.id).where(User.login == "bench"))
            seconds = fill(kernel, args.rows, bench_id)
            print(f"# {backend}: {args.rows:,} rows inserted in {seconds:.1f} s", flush=True)

            app = create_app(settings, kernel=kernel)
            client = sign_in(app, "bench")
            engine = kernel.db.engine

            def measure(scenario: str, url: str) -> bytes:
                ms, statements, body = timed(client, engine, url, args.runs)
                on_list = sum("crm_base_counterparty" in s for s in statements)
                results.append(Result(scenario, backend, args.rows, ms, len(statements), on_list))
                print(f"  {scenario:<42} {ms:9.1f} ms  {len(statements):3d} queries", flush=True)
                return body

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
            kernel.db.dispose()
    return results


def _prev(client: Any, url: str) -> str:
    import html
    import re

    body = client.get(url).get_data().decode()
    found = re.search(r'class="page-link list-page-prev" href="([^"]+)"', body)
    assert found, "no previous link"
    return html.unescape(found.group(1))


def print_table(results: list[Result], runs: int) -> None:
    head = ("scenario", "backend", "rows", f"ms (median of {runs})", "queries", "of which list")
    table = [head] + [
        (r.scenario, r.backend, f"{r.rows:,}", f"{r.ms:.1f}", str(r.queries), str(r.list_queries))
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
    parser.add_argument("--rows", type=int, default=1_000_000, help="counterparties to insert")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server URL (default: a SQLite file in a temp folder)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed requests per scenario")
    args = parser.parse_args(argv)
    results = run(args)
    print()
    print_table(results, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
