#!/usr/bin/env python3
"""crm_base import benchmark: counterparties, then their contact persons, from CSV files.

Not a test: on a fresh database it generates two CSV files (100,000 counterparties with
valid EDRPOU codes, phones, e-mails and addresses, about 2% of them near-duplicates of
another; then 150,000 contact persons linked to them by the counterparty's EDRPOU code)
and imports each through the web flow a user goes through — upload, mapping, start —
with the job run inside the request (``VITRYLO_JOBS_INLINE``), as a signed-in superuser.
Duplicate detection is always on (tax code, phone, e-mail, similar name). The import runs
in one transaction ("on error: import nothing"). It prints a table: scenario, backend,
rows, seconds, rows/s.

    .venv/bin/python bench/bench_crm_import.py                           # SQLite
    .venv/bin/python bench/bench_crm_import.py --counterparties 20000 --persons 30000
    .venv/bin/python bench/bench_crm_import.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL a new database is created on that server and dropped at the end
(:func:`core.testing.databases.temporary_database`, as the test suite does).
"""

from __future__ import annotations

import io
import json
import random
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    add_user,
    arguments,
    backend_of,
    bench_app,
    csrf,
    parse,
    print_table,
    sign_in,
    temporary_kernel,
)

FORMS = ("ТОВ", "ПП", "ПрАТ", "ТзОВ", "АТ")
WORDS = [
    "Ромашка",
    "Зоря",
    "Світанок",
    "Калина",
    "Дніпро",
    "Карпати",
    "Поділля",
    "Вишня",
    "Явір",
    "Сокіл",
    "Степ",
    "Берег",
    "Ліс",
    "Джерело",
    "Криниця",
    "Млин",
    "Пасіка",
    "Хліб",
    "Сіль",
    "Мед",
    "Барвінок",
    "Мрія",
    "Лелека",
    "Вітер",
    "Хвиля",
    "Грім",
    "Сонце",
    "Промінь",
    "Колос",
    "Нива",
    "Сад",
    "Смерека",
    "Лава",
    "Кордон",
    "Шлях",
    "Міст",
    "Вежа",
    "Замок",
    "Оберіг",
    "Надія",
    "Воля",
    "Віра",
    "Альфа",
    "Бета",
    "Гамма",
    "Дельта",
    "Омега",
    "Техно",
    "Агро",
    "Буд",
    "Транс",
    "Енерго",
    "Металл",
    "Пром",
    "Інвест",
    "Торг",
    "Сервіс",
]
CITIES = ("Київ", "Львів", "Одеса", "Харків", "Дніпро", "Вінниця", "Полтава", "Чернігів")
SURNAMES = [
    "Шевченко",
    "Коваленко",
    "Бондаренко",
    "Ткаченко",
    "Кравченко",
    "Олійник",
    "Шевчук",
    "Поліщук",
    "Бойко",
    "Мельник",
    "Лисенко",
    "Руденко",
    "Савченко",
    "Петренко",
    "Мороз",
    "Павленко",
    "Гончаренко",
    "Марченко",
    "Левченко",
    "Онищенко",
]
FIRST = [
    "Олександр",
    "Іван",
    "Петро",
    "Андрій",
    "Олена",
    "Оксана",
    "Наталія",
    "Марія",
    "Юлія",
    "Сергій",
    "Тетяна",
    "Василь",
]
MIDDLE = [
    "Іванович",
    "Петрович",
    "Андрійович",
    "Олександрівна",
    "Іванівна",
    "Петрівна",
    "Сергіївна",
]


@dataclass
class Result:
    scenario: str
    backend: str
    rows: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


# -- data ----------------------------------------------------------------------------------


def edrpou(i: int) -> str:
    """The ``i``-th valid EDRPOU code (7 digits and the check digit)."""
    from stdnum.ua import edrpou as check

    base = f"{1_000_000 + i:07d}"
    return base + str(check.calc_check_digit(base))


def counterparty_csv(count: int, seed: int = 5) -> bytes:
    """Counterparties as a UTF-8 CSV for Excel; about 2% repeat an earlier name in another
    spelling (a likely duplicate the import reports)."""
    rnd = random.Random(seed)
    out = io.StringIO()
    out.write("\ufeffНазва;ЄДРПОУ;Телефон;E-mail;Місто;Адреса;ID\r\n")
    names: list[str] = []
    for i in range(count):
        if names and rnd.random() < 0.02:
            core = rnd.choice(names)
            name = f"{core}, ТОВ"  # the same company written differently
        else:
            core = f"{rnd.choice(WORDS)} {rnd.choice(WORDS)} {i:06d}"
            names.append(core)
            name = f"{rnd.choice(FORMS)} «{core}»"
        out.write(
            f"{name};{edrpou(i)};+38067{i:07d};office{i}@firm{i}.com.ua;"
            f"{rnd.choice(CITIES)};вул. Соборна, {i % 200 + 1};EXT-{i}\r\n"
        )
    return out.getvalue().encode("utf-8")


def person_csv(count: int, counterparties: int, seed: int = 6) -> bytes:
    """Contact persons linked to the counterparties by EDRPOU (1.5 per counterparty)."""
    rnd = random.Random(seed)
    start = date(1950, 1, 1)
    out = io.StringIO()
    out.write("\ufeffПІБ;Дата народження;ЄДРПОУ;Телефон;Email;Посада\r\n")
    for i in range(count):
        name = f"{rnd.choice(SURNAMES)} {rnd.choice(FIRST)} {rnd.choice(MIDDLE)}"
        born = start + timedelta(days=rnd.randrange(50 * 365))
        out.write(
            f"{name};{born:%d.%m.%Y};{edrpou(i % counterparties)};+38050{i:07d};"
            f"p{i}@mail{i % 100}.com.ua;Менеджер\r\n"
        )
    return out.getvalue().encode("utf-8")


# -- the import ----------------------------------------------------------------------------


def import_file(
    app: Any, client: Any, kernel: Any, content: bytes, subject: str, dry_run: bool
) -> tuple[float, dict[str, Any]]:
    """Upload, map as suggested, run; seconds of the run (both passes) and its result."""
    from addons.crm_base.imports import KINDS, suggest_mapping
    from core.models import Job

    upload = client.post(
        "/crm/import",
        data={
            "csrf_token": csrf(app, client),
            "subject": subject,
            "file": (io.BytesIO(content), f"{subject}.csv"),
        },
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303, upload.get_data(as_text=True)[:1000]
    token = upload.location.rstrip("/").rsplit("/", 1)[-1]
    header = content.decode("utf-8-sig").split("\r\n", 1)[0].split(";")
    mapping = suggest_mapping(header, KINDS[subject])
    data = {
        "csrf_token": csrf(app, client),
        "mode": "create",
        "match_by": "email",
        "on_error": "abort",
        "action": "dry_run" if dry_run else "run",
        **{f"col_{i}": mapping.get(i, "") for i in range(len(header))},
    }
    started = time.perf_counter()
    response = client.post(f"/crm/import/{token}", data=data)
    seconds = time.perf_counter() - started
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[-1])
    with kernel.db.session_factory() as db:
        job = db.get(Job, job_id)
        assert job.state == "done", job.message
        return seconds, json.loads(job.result)


def run(args: Any) -> list[Result]:
    from sqlalchemy import func, select

    from addons.crm_base.models import Counterparty, Person

    backend = backend_of(args.database_url)
    results: list[Result] = []
    companies = counterparty_csv(args.counterparties)
    people = person_csv(args.persons, args.counterparties)
    print(
        f"# files: {len(companies) / 1e6:.1f} MB of counterparties, "
        f"{len(people) / 1e6:.1f} MB of persons",
        flush=True,
    )
    with temporary_kernel("import", args.database_url, ["crm_base"]) as kernel:
        add_user(kernel, "bench", superuser=True)
        app = bench_app(kernel)
        app.config["VITRYLO_JOBS_INLINE"] = True
        client = sign_in(app, "bench")
        for scenario, content, subject, rows in (
            ("counterparties", companies, "counterparty", args.counterparties),
            ("contact persons", people, "person", args.persons),
        ):
            for dry_run in (True, False):
                label = f"{scenario}: {'dry run' if dry_run else 'import'}"
                seconds, result = import_file(app, client, kernel, content, subject, dry_run)
                assert result["rejected"] == 0, result["reasons"]
                results.append(Result(label, backend, rows, seconds))
                print(
                    f"  {label:<32} {seconds:8.1f} s  created {result['created']:,}  "
                    f"likely duplicates {result['with_duplicates']:,}",
                    flush=True,
                )
        with kernel.db.session_factory() as db:
            stored = (
                db.scalar(select(func.count()).select_from(Counterparty)),
                db.scalar(select(func.count()).select_from(Person)),
            )
        print(f"# stored: {stored[0]:,} counterparties, {stored[1]:,} persons")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, runs=False)
    parser.add_argument("--counterparties", type=int, default=100_000)
    parser.add_argument("--persons", type=int, default=150_000)
    args = parse(parser, argv)
    results = run(args)
    print()
    print_table(
        ("scenario", "backend", "rows", "seconds", "rows/s"),
        [
            (r.scenario, r.backend, f"{r.rows:,}", f"{r.seconds:.1f}", f"{r.rate:,.0f}")
            for r in results
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
