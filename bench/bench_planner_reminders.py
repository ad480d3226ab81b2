#!/usr/bin/env python3
"""Planner benchmark: the reminders page, the shell's badge and the calendar feed of users
with 10,000 planned contacts each (sales) among 1,000,000 contact persons with birthdays
(crm_base).

Not a test: it fills a fresh database (planner and sales installed with a test licence),
then times requests through the Flask test client and prints a table (median of the
runs, with the SQL statements of one request):

- ``heavy``: 10,000 planned contacts spread over half a year back and half a year ahead,
  so about 5,000 are overdue: every one is a row of today's reminders (worst case);
- ``typical``: 10,000 planned contacts, 30 overdue, 20 today, the rest ahead;
- each manages ~1% of the persons (10,000 at 1M); the rest belong to 98 other managers.

    .venv/bin/python bench/bench_planner_reminders.py                  # SQLite, 1,000,000
    .venv/bin/python bench/bench_planner_reminders.py --persons 100000
    .venv/bin/python bench/bench_planner_reminders.py --postgres       # 127.0.0.1:5432/test
    .venv/bin/python bench/bench_planner_reminders.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With PostgreSQL a database is created next to the one in the URL and dropped at the end.
Persons go in with COPY on PostgreSQL and chunked ``executemany`` on SQLite, their
indexes built after the load.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PASSWORD,
    analyze,
    arguments,
    backend_of,
    bench_app,
    csrf,
    getter,
    indexes_dropped,
    insert_chunks,
    load,
    parse,
    print_table,
    sign_in,
    temporary_kernel,
    timed,
)

OTHER_MANAGERS = 98
COUNTERPARTIES = 1_000
PERMISSIONS = (
    "planner.reminders.read",
    "planner.calendar.read",
    "sales.contact.read",
    "sales.contact.update",
    "crm_base.person.read",
    "crm_base.employee.read",
    "crm_base.counterparty.read",
)
PERSON_COLUMNS = (
    "last_name",
    "first_name",
    "full_name",
    "birthday",
    "birth_key",
    "manager_id",
    "created_at",
)


@dataclass
class Result:
    scenario: str
    backend: str
    ms: float
    queries: int
    size: str


# -- the database --------------------------------------------------------------------------


def make_users(kernel: Any) -> dict[str, int]:
    """The two bench users (a group with the planner's and the data's rights), and the
    other managers of the persons. Returns login → id."""
    from sqlalchemy import select

    from core.models import Group, GroupPermission, User, UserGroup
    from core.security import hash_password

    with kernel.db.transaction() as db:
        group = Group(name="Managers")
        db.add(group)
        db.flush()
        db.add_all(GroupPermission(group_id=group.id, permission=p) for p in PERMISSIONS)
        for login in ("heavy", "typical"):
            user = User(login=login, name=login.title(), password_hash=hash_password(PASSWORD))
            db.add(user)
            db.flush()
            db.add(UserGroup(user_id=user.id, group_id=group.id))
        db.add_all(User(login=f"manager{i}", name=f"Менеджер {i}") for i in range(OTHER_MANAGERS))
    with kernel.db.session_factory() as db:
        return {login: uid for login, uid in db.execute(select(User.login, User.id))}


def people(count: int, owners: list[int], seed: int = 8) -> Iterator[tuple[Any, ...]]:
    """Person rows in the order of ``PERSON_COLUMNS``: ~1% for each bench user (the first
    two owners), birthdays spread over the year."""
    rnd = random.Random(seed)
    start = date(1950, 1, 1)
    created = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(count):
        born = start + timedelta(days=rnd.randrange(365 * 55))
        owner = owners[i % 100] if i % 100 < 2 else rnd.choice(owners[2:])
        name = f"Особа {i}"
        yield name, "", name, born, born.month * 100 + born.day, owner, created


def fill_persons(kernel: Any, count: int, owners: list[int]) -> None:
    from addons.crm_base.models import Person

    engine = kernel.db.engine
    table = Person.__table__
    with indexes_dropped(engine, table), engine.begin() as conn:
        load(conn, table, PERSON_COLUMNS, people(count, owners))


def planned_times(kind: str, count: int, now: datetime, rnd: random.Random) -> list[datetime]:
    """When the contacts are planned: ``heavy`` half a year either side of now;
    ``typical`` 30 overdue, 20 later today, the rest in the next 180 days."""
    if kind == "heavy":
        return [
            now + timedelta(minutes=rnd.randrange(-180 * 1440, 180 * 1440)) for _ in range(count)
        ]
    overdue = [now - timedelta(minutes=rnd.randrange(60, 20 * 1440)) for _ in range(30)]
    today = [now.replace(hour=23, minute=0) - timedelta(minutes=10 * i) for i in range(20)]
    ahead = [now + timedelta(days=1, minutes=rnd.randrange(180 * 1440)) for _ in range(count - 50)]
    return overdue + today + ahead


def fill_contacts(kernel: Any, users: dict[str, int], count: int) -> None:
    """Counterparties of the bench users and their planned contacts, inserted straight
    into ``sales_contact``."""
    from sqlalchemy import insert, select

    from addons.crm_base.models import Counterparty
    from addons.sales.models import Contact

    rnd = random.Random(9)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    engine = kernel.db.engine
    with engine.begin() as conn:
        for login in ("heavy", "typical"):
            conn.execute(
                insert(Counterparty.__table__),
                [
                    {"name": f"ТОВ «{login} {i:04d}»", "manager_id": users[login]}
                    for i in range(COUNTERPARTIES)
                ],
            )
            ids = list(
                conn.scalars(select(Counterparty.id).where(Counterparty.manager_id == users[login]))
            )
            rows = [
                {
                    "kind": rnd.choice(("call", "meeting", "letter")),
                    "subject": f"Контакт {n}",
                    "planned_at": at,
                    "duration_minutes": 30,
                    "status": "planned",
                    "responsible_id": users[login],
                    "counterparty_id": ids[n % len(ids)],
                    "created_by": users[login],
                }
                for n, at in enumerate(planned_times(login, count, now, rnd))
            ]
            insert_chunks(conn, Contact.__table__, rows)


# -- the run -------------------------------------------------------------------------------


def run(args: Any) -> list[Result]:
    from flask_login import login_user

    from core.models import User
    from core.security import LoginUser

    backend = backend_of(args.database_url)
    results: list[Result] = []
    addons = ["planner", "sales"]
    with temporary_kernel("planner", args.database_url, addons, licensed=True) as kernel:
        started = time.perf_counter()
        users = make_users(kernel)
        owners = [users["heavy"], users["typical"]] + [
            users[f"manager{i}"] for i in range(OTHER_MANAGERS)
        ]
        fill_persons(kernel, args.persons, owners)
        fill_contacts(kernel, users, args.contacts)
        analyze(kernel.db.engine)
        print(
            f"# {backend}: {args.persons:,} persons, 2 x {args.contacts:,} contacts "
            f"loaded in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        app = bench_app(kernel)
        engine = kernel.db.engine

        def page(scenario: str, client: Any, url: str) -> None:
            ms, statements, response = timed(engine, args.runs, getter(client, url))
            queries, body = len(statements), response.get_data()
            results.append(Result(scenario, backend, ms, queries, f"{len(body) // 1024:,} KiB"))
            print(f"  {scenario:<52} {ms:9.1f} ms {queries:4d} queries", flush=True)

        def hook(scenario: str, login: str, call: Callable[[Any], list[Any]]) -> None:
            with kernel.db.session_factory() as db:
                row = db.get(User, users[login])
                assert row is not None
                user = LoginUser(row)
            with app.test_request_context("/"):
                login_user(user)
                ms, statements, rows = timed(engine, args.runs, lambda: call(user))
                queries = len(statements)
            results.append(Result(scenario, backend, ms, queries, f"{len(rows):,} rows"))
            print(f"  {scenario:<52} {ms:9.1f} ms {queries:4d} queries", flush=True)

        today = datetime.now(UTC).date()
        month = month_range(today)
        for login in ("heavy", "typical"):
            client = sign_in(app, login)
            for _ in range(3):  # warm up: templates compiled, caches filled
                client.get("/planner/reminders").get_data()
            page(f"{login}: reminders page, today", client, "/planner/reminders")
            page(
                f"{login}: reminders page, in 30 days",
                client,
                f"/planner/reminders?day={(today + timedelta(days=30)).isoformat()}",
            )
            page(f"{login}: home (badge + widget)", client, "/")
            page(f"{login}: any page, badge slot (/account)", client, "/account")
            page(f"{login}: the badge's count (/planner/badge)", client, "/planner/badge")
            page(f"{login}: calendar feed, month view", client, f"/planner/calendar/events?{month}")
            hook(
                f"{login}: hooks.reminders alone", login, lambda u: kernel.hooks.reminders(u, today)
            )
            hook(f"{login}: crm_base birthdays alone", login, lambda u: birthday_rows(u, today))
            hook(
                f"{login}: hooks.calendar_events alone, month",
                login,
                lambda u: kernel.hooks.calendar_events(u, *bounds(month)),
            )
            hook(
                f"{login}: crm_base birthday events alone, month",
                login,
                lambda u: birthday_events(u, *bounds(month)),
            )
        client = sign_in(app, "heavy")
        page_text = client.post("/planner/ical/new", data={"csrf_token": csrf(app, client)})
        feed = feed_path(page_text.get_data(as_text=True))
        page("heavy: iCalendar feed (30 days back, 180 ahead)", app.test_client(), feed)
        now = datetime.now(UTC)
        window = (now - timedelta(days=30), now + timedelta(days=180))
        hook(
            "heavy: the feed's hooks.calendar_events alone",
            "heavy",
            lambda u: kernel.hooks.calendar_events(u, *window),
        )
    return results


def birthday_rows(user: Any, day: date) -> list[Any]:
    from addons.crm_base.birthdays import reminders

    return reminders(user, day)


def birthday_events(user: Any, start: datetime, end: datetime) -> list[Any]:
    from addons.crm_base.birthdays import calendar_events

    return calendar_events(user, start, end, (user.id,))


def bounds(query: str) -> tuple[datetime, datetime]:
    """The datetimes of a ``start=…&end=…`` query (as the feed parses them)."""
    from urllib.parse import parse_qs

    from core.ui.widgets import calendar_range

    args = {k: v[0] for k, v in parse_qs(query).items()}
    return calendar_range(args)


def month_range(day: date) -> str:
    """The range FullCalendar's month view asks for: six weeks from a Monday."""
    first = day.replace(day=1)
    start = first - timedelta(days=first.weekday())
    end = start + timedelta(days=42)
    return f"start={start.isoformat()}T00:00:00%2B02:00&end={end.isoformat()}T00:00:00%2B02:00"


def feed_path(html: str) -> str:
    import re

    found = re.search(r'value="https?://[^/]+(/planner/ical/[^"]+\.ics)"', html)
    assert found, "no feed URL on the page"
    return found.group(1)


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000, help="contact persons")
    parser.add_argument("--contacts", type=int, default=10_000, help="planned contacts per user")
    args = parse(parser, argv)
    results = run(args)
    print()
    print_table(
        ("scenario", "backend", f"ms (median of {args.runs})", "queries", "size"),
        [(r.scenario, r.backend, f"{r.ms:.1f}", str(r.queries), r.size) for r in results],
        left=2,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
