#!/usr/bin/env python3
"""Birthday scan benchmark: ``notifications.birthdays`` over N contact persons.

Not a test: it fills a fresh database with N contact persons (birthdays spread over the
year, one in ten without one, managed by 200 users) and 2,000 employees, then times the
scan for one day: the first run (events, pop-ups, e-mails written), a second run the same
day (everything already raised: nothing written), and the bare query. Prints a table.

    .venv/bin/python bench/bench_birthday_scan.py                 # 1,000,000 persons, SQLite
    .venv/bin/python bench/bench_birthday_scan.py --persons 200000
    .venv/bin/python bench/bench_birthday_scan.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Persons go in with COPY on PostgreSQL and chunked ``executemany`` on SQLite; the
``birth_key`` index is built after the load.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    analyze,
    arguments,
    backend_of,
    indexes_dropped,
    load,
    parse,
    temporary_kernel,
)

MANAGERS = 200
EMPLOYEES = 2_000
DAY = date(2025, 6, 12)
NAMES = [
    "Іван",
    "Марія",
    "Петро",
    "Олена",
    "Андрій",
    "Оксана",
    "Тарас",
    "Наталія",
    "Богдан",
    "Ірина",
]
SURNAMES = [
    "Петренко",
    "Коваленко",
    "Шевченко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Мельник",
    "Бойко",
]


@dataclass
class Result:
    scenario: str
    seconds: float
    detail: str


def people(count: int, managers: list[int], seed: int = 6) -> Iterator[tuple[Any, ...]]:
    """Rows in the order of ``COLUMNS``."""
    rnd = random.Random(seed)
    start = date(1950, 1, 1)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(count):
        last, first = rnd.choice(SURNAMES), rnd.choice(NAMES)
        born = start + timedelta(days=rnd.randrange(365 * 55)) if i % 10 else None
        key = born.month * 100 + born.day if born else None
        yield last, first, f"{last} {first} {i}", born, key, rnd.choice(managers), now


COLUMNS = ("last_name", "first_name", "full_name", "birthday", "birth_key", "manager_id",
           "created_at")  # fmt: skip


def fill(kernel: Any, count: int, managers: list[int]) -> float:
    from sqlalchemy import insert

    from addons.crm_base.models import Employee, Person

    started = time.perf_counter()
    engine = kernel.db.engine
    table = Person.__table__
    with indexes_dropped(engine, table), engine.begin() as conn:
        load(conn, table, COLUMNS, people(count, managers))
        rnd = random.Random(7)
        employees = []
        for i in range(EMPLOYEES):
            born = date(1960, 1, 1) + timedelta(days=rnd.randrange(365 * 40))
            employees.append(
                {
                    "last_name": f"Працівник {i}",
                    "full_name": f"Працівник {i}",
                    "birthday": born,
                    "birth_key": born.month * 100 + born.day,
                    "active": True,
                    "created_at": datetime(2024, 1, 1, tzinfo=UTC),
                    "version": 1,
                }
            )
        conn.execute(insert(Employee.__table__), employees)
    analyze(engine, "crm_base_person")
    return time.perf_counter() - started


def setup_users(kernel: Any) -> list[int]:
    """Managers (with e-mail: half of them want birthdays by e-mail too) and a group that
    may read employees."""
    from sqlalchemy import select

    from addons.notifications.models import Preference
    from core.models import Group, GroupPermission, User, UserGroup

    with kernel.db.transaction() as session:
        users = [
            User(login=f"manager{i}", name=f"Менеджер {i}", email=f"m{i}@example.com")
            for i in range(MANAGERS)
        ]
        session.add_all(users)
        session.flush()
        group = Group(name="HR")
        session.add(group)
        session.flush()
        session.add(GroupPermission(group_id=group.id, permission="crm_base.employee.read"))
        session.add_all(UserGroup(user_id=u.id, group_id=group.id) for u in users[:5])
        session.add_all(
            Preference(user_id=u.id, event_type="crm_base.birthday", channels="popup,email")
            for u in users[::2]
        )
    with kernel.db.session_factory() as session:
        managers = select(User.id).where(User.login.like("manager%")).order_by(User.id)
        return list(session.scalars(managers))


def run(args: Any) -> list[Result]:
    from sqlalchemy import func, select

    from addons.crm_base.models import Person
    from addons.notifications.models import Event, Notification, OutboxMessage
    from addons.notifications.scans import birth_keys, scan_birthdays
    from core.db import write_intent

    results: list[Result] = []
    with temporary_kernel("birthdays", args.database_url, ["notifications"]) as kernel:
        managers = setup_users(kernel)
        seconds = fill(kernel, args.persons, managers)
        backend = kernel.db.engine.dialect.name
        print(f"# {backend}: {args.persons:,} persons loaded in {seconds:.1f} s", flush=True)

        with kernel.db.session_factory() as session:
            started = time.perf_counter()
            today = session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.birth_key.in_(birth_keys(DAY)), Person.manager_id.isnot(None))
            )
            query = time.perf_counter() - started
        results.append(Result("the query alone (count)", query, f"{today:,} birthdays"))

        for label in ("scan, first run of the day", "scan again, same day"):
            started = time.perf_counter()
            with write_intent(), kernel.db.session_factory() as session, session.begin():
                created = scan_birthdays(session, DAY, hooks=kernel.hooks)
            seconds = time.perf_counter() - started
            with kernel.db.session_factory() as session:
                counts = [
                    session.scalar(select(func.count()).select_from(model))
                    for model in (Event, Notification, OutboxMessage)
                ]
            detail = (
                f"{created:,} new events; totals: {counts[0]:,} events, "
                f"{counts[1]:,} pop-ups, {counts[2]:,} e-mails"
            )
            results.append(Result(label, seconds, detail))
    return results


def main() -> None:
    parser = arguments(__doc__, runs=False)
    parser.add_argument("--persons", type=int, default=1_000_000)
    args = parse(parser)
    backend = backend_of(args.database_url)
    results = run(args)
    print()
    print(f"Birthday scan, {backend}, {args.persons:,} contact persons, day {DAY.isoformat()}")
    print()
    print("| scenario | seconds | what |")
    print("|---|---:|---|")
    for r in results:
        print(f"| {r.scenario} | {r.seconds:.3f} | {r.detail} |")


if __name__ == "__main__":
    main()
