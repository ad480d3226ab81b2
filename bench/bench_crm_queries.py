#!/usr/bin/env python3
"""crm_base query benchmark: the pages users open most, over a million counterparties.

Not a test: on a fresh database it bulk-inserts N counterparties (default 1,000,000; names
from a small vocabulary so searches find a realistic share, valid EDRPOU codes), a
three-level group tree (10 × 10 × 10) with every counterparty in one leaf group, and M
contact persons (default 1,000,000) with birthdays spread over the year. Then it times
requests through the Flask test client as a signed-in superuser — server time, median of
``--runs`` after a warm-up — and prints a table: scenario, backend, rows, seconds (the
median request), requests/s, SQL statements per request.

    .venv/bin/python bench/bench_crm_queries.py                            # SQLite
    .venv/bin/python bench/bench_crm_queries.py --rows 200000 --persons 200000
    .venv/bin/python bench/bench_crm_queries.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Rows go in with COPY on PostgreSQL and chunked Core executemany on SQLite, secondary
indexes dropped for the load and built after it. With a PostgreSQL URL a new database is
created on that server and dropped at the end.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_crm_import import FIRST, FORMS, MIDDLE, SURNAMES, WORDS, edrpou
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

PERSON_COLUMNS = (
    "last_name",
    "first_name",
    "middle_name",
    "full_name",
    "birthday",
    "birth_key",
    "created_at",
)
RESTART = "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT max(id) FROM {0}))"
FANOUT = 10  # groups per level, three levels


@dataclass
class Result:
    scenario: str
    backend: str
    rows: int
    seconds: float
    queries: int


# -- the data ------------------------------------------------------------------------------


def group_rows() -> Iterator[tuple[int, int | None, str, str]]:
    """(id, parent, name, path) of a 10 × 10 × 10 tree, ids in path order."""
    next_id = 1
    for a in range(FANOUT):
        top = next_id
        next_id += 1
        yield top, None, f"Регіон {a + 1}", f"/{top}/"
        for b in range(FANOUT):
            mid = next_id
            next_id += 1
            yield mid, top, f"Регіон {a + 1}.{b + 1}", f"/{top}/{mid}/"
            for c in range(FANOUT):
                leaf = next_id
                next_id += 1
                yield leaf, mid, f"Сегмент {a + 1}.{b + 1}.{c + 1}", f"/{top}/{mid}/{leaf}/"


def fill(kernel: Any, rows: int, persons: int, manager_id: int) -> float:
    """Counterparties, groups and memberships, persons; seconds taken (ANALYZE included)."""
    from sqlalchemy import text

    from addons.crm_base.models import Counterparty, CounterpartyGroup, Group, Person

    started = time.perf_counter()
    rnd = random.Random(7)
    origin = datetime(2020, 1, 1, tzinfo=UTC)
    span = 5 * 365 * 24 * 3600
    groups = list(group_rows())
    leaves = [g[0] for g in groups if g[3].count("/") == 4]
    engine = kernel.db.engine

    def counterparties() -> Iterator[tuple]:
        for i in range(rows):
            name = (
                f"{rnd.choice(FORMS)} «{rnd.choice(WORDS)} {rnd.choice(WORDS)}» {i % 100_000:05d}"
            )
            created = origin + timedelta(seconds=rnd.randrange(span))
            owner = manager_id if i % 100 == 0 else None
            relation = "client" if i % 3 == 0 else "prospect"
            yield i + 1, name, owner, created, edrpou(i), relation

    def people() -> Iterator[tuple]:
        born0 = date(1950, 1, 1)
        for _ in range(persons):
            last, first, middle = rnd.choice(SURNAMES), rnd.choice(FIRST), rnd.choice(MIDDLE)
            born = born0 + timedelta(days=rnd.randrange(50 * 365))
            created = origin + timedelta(seconds=rnd.randrange(span))
            full = f"{last} {first} {middle}"
            yield last, first, middle, full, born, born.month * 100 + born.day, created

    tables = [Counterparty.__table__, CounterpartyGroup.__table__, Person.__table__]
    with indexes_dropped(engine, *tables), engine.begin() as conn:
        load(
            conn,
            Group.__table__,
            ("id", "parent_id", "name", "path", "sort"),
            ((*row, 0) for row in groups),
        )
        load(
            conn,
            Counterparty.__table__,
            ("id", "name", "manager_id", "created_at", "tax_code", "relation"),
            counterparties(),
        )
        load(
            conn,
            CounterpartyGroup.__table__,
            ("counterparty_id", "group_id"),
            ((i + 1, rnd.choice(leaves)) for i in range(rows)),
        )
        load(
            conn,
            Person.__table__,
            PERSON_COLUMNS,
            people(),
        )
    if engine.dialect.name == "postgresql":  # the ids were given: move the sequences on
        with engine.begin() as conn:
            for table in ("crm_base_group", "crm_base_counterparty", "crm_base_person"):
                conn.execute(text(RESTART.format(table)))
    analyze(engine)
    return time.perf_counter() - started


def run(args: Any) -> list[Result]:
    from sqlalchemy import select

    from addons.crm_base.models import Counterparty, MailingList

    backend = backend_of(args.database_url)
    results: list[Result] = []
    with temporary_kernel("queries", args.database_url, ["crm_base"]) as kernel:
        bench_id = add_user(kernel, "bench", superuser=True)
        client = sign_in(bench_app(kernel), "bench")
        seconds = fill(kernel, args.rows, args.persons, bench_id)
        print(
            f"# {backend}: {args.rows:,} counterparties, {args.persons:,} persons"
            f" in {seconds:.1f} s",
            flush=True,
        )
        with kernel.db.transaction() as db:
            clients = MailingList(
                name="Клієнти", subject="counterparty", query="relation=client", owner_id=bench_id
            )
            db.add(clients)
        with kernel.db.session_factory() as db:
            list_id = db.scalar(select(MailingList.id))
            sample = db.get(Counterparty, args.rows // 2)
            sample_name, sample_code = sample.name, sample.tax_code
        engine = kernel.db.engine
        hx = {"HX-Request": "true"}

        def measure(
            scenario: str, url: str, rows: int, headers: dict[str, str] | None = None
        ) -> None:
            ms, statements, _response = timed(engine, args.runs, getter(client, url, headers))
            results.append(Result(scenario, backend, rows, ms / 1000, len(statements)))
            print(f"  {scenario:<52} {ms:9.1f} ms  {len(statements):3d} queries", flush=True)

        def q(path: str, **params: Any) -> str:
            return f"{path}?{urlencode(params)}"

        n, m = args.rows, args.persons
        measure("counterparties: first page (by name)", "/crm/counterparties", n)
        measure(
            "counterparties: search prefix 'тов «зоря'",
            q("/crm/counterparties", q="тов «зоря", match="prefix"),
            n,
        )
        measure(
            "counterparties: search substring 'зоря світ'",
            q("/crm/counterparties", q="зоря світ"),
            n,
        )
        measure(
            "counterparties: search substring, rare '04242'", q("/crm/counterparties", q="04242"), n
        )
        measure("counterparties: group subtree, 1/10", q("/crm/counterparties", group=1), n)
        measure("counterparties: group subtree, 1/100", q("/crm/counterparties", group=2), n)
        measure("persons: first page (by name)", "/crm/persons", m)
        measure("persons: birthdays in the next 7 days", q("/crm/persons", birthdays=7), m)
        measure(
            "duplicates check (name + tax code)",
            q("/crm/counterparties/duplicates/check", name=sample_name, tax_code=sample_code),
            n,
            hx,
        )
        measure(
            "duplicates tab of a counterparty",
            f"/crm/counterparties/{args.rows // 2}/duplicates",
            n,
            hx,
        )
        measure("mailing list members (clients, first 50)", f"/crm/mailing-lists/{list_id}", n)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="counterparties")
    parser.add_argument("--persons", type=int, default=1_000_000, help="contact persons")
    args = parse(parser, argv)
    results = run(args)
    print()
    print_table(
        ("scenario", "backend", "rows", "seconds", "requests/s", "queries"),
        [
            (
                r.scenario,
                r.backend,
                f"{r.rows:,}",
                f"{r.seconds:.4f}",
                f"{1 / r.seconds:,.0f}" if r.seconds else "-",
                str(r.queries),
            )
            for r in results
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
