"""Import of counterparties and contact persons (issue 5): files, mapping, preview, dry run,
one transaction, skip bad rows, update / skip matching, the report, rights and scope."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from addons.crm_base import imports
from addons.crm_base.models import (
    Address,
    Channel,
    Counterparty,
    Person,
    PersonLink,
)
from core.models import AuditEntry, Job, User
from core.testing.plugin import csrf_token

IMPORT = "crm_base.import.create"
RIGHTS = [IMPORT, "crm_base.counterparty.read", "crm_base.counterparty.update"]
# EDRPOU codes with valid check digits
CODES = ("32855961", "14360570", "00032129", "21560766", "30991664")
HEADER = "Назва;ЄДРПОУ;Телефон;E-mail;Місто;Адреса;ID"


@pytest.fixture(autouse=True)
def inline_jobs(vitrylo_app, monkeypatch):
    monkeypatch.setitem(vitrylo_app.config, "VITRYLO_JOBS_INLINE", True)


def user_id(db_session, client):
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


def csv_bytes(lines, encoding="utf-8-sig"):
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def upload(app, client, content, filename="clients.csv", subject="counterparty"):
    return client.post(
        "/crm/import",
        data={
            "csrf_token": csrf_token(app, client),
            "subject": subject,
            "file": (io.BytesIO(content), filename),
        },
        content_type="multipart/form-data",
    )


def problems(response):
    """The messages next to the fields of a refused form (for assertion messages)."""
    import re

    text = response.get_data(as_text=True)
    return re.findall(r'class="(?:field-error|alert alert-danger)"[^>]*>([^<]*)', text)


def token_of(response):
    assert response.status_code == 303, problems(response)
    return response.location.rstrip("/").rsplit("/", 1)[-1]


def send_mapping(app, client, token, mapping, columns, action="run", **options):
    data = {
        "csrf_token": csrf_token(app, client),
        "mode": options.get("mode", "create"),
        "match_by": options.get("match_by", "tax_code"),
        "on_error": options.get("on_error", "abort"),
        "action": action,
    }
    data.update({f"col_{i}": mapping.get(i, "") for i in range(columns)})
    return client.post(f"/crm/import/{token}", data=data)


COLUMNS = {
    0: "name",
    1: "tax_code",
    2: "phone",
    3: "email",
    4: "city",
    5: "address",
    6: "external_id",
}


def run(app, client, content, filename="clients.csv", mapping=None, action="run", **options):
    """Upload, map, start; the job runs inline. Returns (token, job page response)."""
    token = token_of(upload(app, client, content, filename, options.pop("subject", "counterparty")))
    mapping = COLUMNS if mapping is None else mapping
    started = send_mapping(
        app, client, token, mapping, options.pop("columns", 7), action, **options
    )
    assert started.status_code == 303, problems(started)
    page = client.get(started.location)
    assert page.status_code == 200
    return token, page, started.location


def result(db_session, location):
    job_id = int(location.rstrip("/").rsplit("/", 1)[-1])
    db_session.expire_all()
    job = db_session.get(Job, job_id)
    assert job.state == "done", job.message
    return json.loads(job.result)


def names(db_session):
    db_session.expire_all()
    return sorted(db_session.scalars(select(Counterparty.name)))


GOOD = [
    HEADER,
    f"ТОВ «Ромашка»;{CODES[0]};044 123 45 67;office@romashka.ua;Київ;Хрещатик, 1;r-1",
    f'"ПП ""Калина""";{CODES[1]};+380671234567, 0501234567;;Львів;;r-2',
    ";;;;;;",
    "ФОП Іваненко Іван;;;ivan@example.com;;;",
]


# -- files ---------------------------------------------------------------------------


def test_csv_import_happy_path(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    me = user_id(db_session, client)
    token, page, location = run(vitrylo_app, client, csv_bytes(GOOD))
    html = page.get_data(as_text=True)
    assert 'data-job-state="done"' in html and 'data-figure="created">3<' in html
    summary = result(db_session, location)
    assert (summary["created"], summary["rejected"], summary["applied"]) == (3, 0, True)
    assert names(db_session) == ['ПП "Калина"', "ТОВ «Ромашка»", "ФОП Іваненко Іван"]
    romashka = db_session.scalars(
        select(Counterparty).where(Counterparty.external_id == "r-1")
    ).one()
    assert (romashka.tax_code, romashka.kind, romashka.manager_id) == (CODES[0], "company", me)
    channels = db_session.execute(
        select(Channel.kind, Channel.value, Channel.is_primary).where(
            Channel.counterparty_id == romashka.id
        )
    ).all()
    assert sorted(channels) == [
        ("email", "office@romashka.ua", True),
        ("phone", "+380441234567", True),
    ]
    kalyna = db_session.scalars(select(Counterparty).where(Counterparty.external_id == "r-2")).one()
    phones = db_session.scalars(
        select(Channel.value).where(Channel.counterparty_id == kalyna.id).order_by(Channel.id)
    ).all()
    assert phones == ["+380671234567", "+380501234567"]
    address = db_session.scalars(
        select(Address).where(Address.counterparty_id == romashka.id)
    ).one()
    assert (address.city, address.line, address.kind) == ("Київ", "Хрещатик, 1", "actual")
    # one summary audit entry, no entry per row
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
    assert len(entries) == 1 and json.loads(entries[0].changes)["created"] == 3
    assert entries[0].user_id == me
    per_row = db_session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.subject == "crm_base_counterparty", AuditEntry.action == "create")
    )
    assert per_row == 0
    folder = Path(vitrylo_app.instance_path, "imports")
    assert not (folder / f"{token}.csv").exists()  # imported: the upload is gone
    again = send_mapping(vitrylo_app, client, token, COLUMNS, 7)
    assert again.status_code == 303 and names(db_session).count("ТОВ «Ромашка»") == 1


def test_cp1251_file_with_commas(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    lines = ["Назва,ЄДРПОУ,Місто", f"Зоря Світанку,{CODES[2]},Житомир", "Ґедзь і Ї,,Одеса"]
    token = token_of(upload(vitrylo_app, client, csv_bytes(lines, "cp1251")))
    page = client.get(f"/crm/import/{token}").get_data(as_text=True)
    assert "CP1251" in page and "Зоря Світанку" in page  # the preview, decoded
    started = send_mapping(vitrylo_app, client, token, {0: "name", 1: "tax_code", 2: "city"}, 3)
    result(db_session, started.location)
    assert names(db_session) == ["Зоря Світанку", "Ґедзь і Ї"]


def xlsx_bytes(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_import_of_contact_persons(vitrylo_app, db_session, login):
    client = login([*RIGHTS, "crm_base.person.read", "crm_base.person.update"])
    me = user_id(db_session, client)
    firm = Counterparty(name="ТОВ «Явір»", tax_code=CODES[3], manager_id=me)
    other = Counterparty(name="ТОВ «Чужий»", tax_code=CODES[4])  # nobody's: out of scope
    db_session.add_all([firm, other])
    db_session.commit()
    content = xlsx_bytes(
        [
            ["ПІБ", "Дата народження", "ЄДРПОУ", "Телефон", "Email", "Посада", "Роль"],
            [
                "Петренко Петро Петрович",
                datetime(1980, 5, 17),
                int(CODES[3]),
                380671112233,
                "p@ex.ua",
                "Директор",
                "директор",
            ],
            ["Сидоренко Олена", "03.02.1990", CODES[3], None, None, "Бухгалтер", None],
            ["Чужа Особа", None, CODES[4], None, None, None, None],
        ]
    )
    mapping = {
        0: "full_name",
        1: "birthday",
        2: "counterparty_tax_code",
        3: "phone",
        4: "email",
        5: "position",
        6: "role",
    }
    _token, page, location = run(
        vitrylo_app,
        client,
        content,
        "persons.xlsx",
        mapping,
        subject="person",
        columns=7,
        on_error="skip",
        match_by="email",
    )
    summary = result(db_session, location)
    assert (summary["created"], summary["rejected"]) == (2, 1)
    petro = db_session.scalars(select(Person).where(Person.last_name == "Петренко")).one()
    assert (petro.first_name, petro.middle_name, petro.full_name) == (
        "Петро",
        "Петрович",
        "Петренко Петро Петрович",
    )
    assert (petro.birthday, petro.birth_key, petro.manager_id) == (date(1980, 5, 17), 517, me)
    link = db_session.scalars(select(PersonLink).where(PersonLink.person_id == petro.id)).one()
    assert (link.counterparty_id, link.role) == (firm.id, "директор")
    assert (
        db_session.scalar(
            select(Channel.value).where(Channel.person_id == petro.id, Channel.kind == "phone")
        )
        == "+380671112233"
    )
    olena = db_session.scalars(select(Person).where(Person.last_name == "Сидоренко")).one()
    assert olena.birthday == date(1990, 2, 3)
    assert "Чужа" not in page.get_data(as_text=True)  # the rejected row is in the report only


# -- mapping -------------------------------------------------------------------------


def test_mapping_is_suggested_from_ukrainian_and_english_headers():
    kind = imports.KINDS["counterparty"]
    header = [
        "Назва компанії",
        "Код ЄДРПОУ",
        "Телефон мобільний",
        "E-mail",
        "Phone",
        "Коментар",
        "???",
    ]
    assert imports.suggest_mapping(header, kind) == {
        0: "name",
        1: "tax_code",
        2: "phone",
        3: "email",
        4: "phone",
        5: "notes",
    }
    persons = imports.KINDS["person"]
    assert imports.suggest_mapping(
        ["Прізвище", "Ім'я", "По батькові", "Компанія", "Birthday"], persons
    ) == {
        0: "last_name",
        1: "first_name",
        2: "middle_name",
        3: "counterparty",
        4: "birthday",
    }


def test_mapping_page_suggests_and_checks_the_choices(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    token = token_of(upload(vitrylo_app, client, csv_bytes(GOOD)))
    page = client.get(f"/crm/import/{token}").get_data(as_text=True)
    assert '<option selected value="name">' in page and '<option selected value="tax_code">' in page
    assert "crm-import-preview" in page and 'data-line="2"' in page
    twice = send_mapping(vitrylo_app, client, token, {0: "name", 1: "name"}, 7, "preview")
    assert twice.status_code == 400 and "field-error" in twice.get_data(as_text=True)
    no_name = send_mapping(vitrylo_app, client, token, {1: "tax_code"}, 7, "run")
    assert no_name.status_code == 400
    no_key = send_mapping(vitrylo_app, client, token, {0: "name"}, 7, "run", mode="update")
    assert no_key.status_code == 400
    assert names(db_session) == []
    # a custom mapping: the name column ignored, the notes from the "Місто" column
    preview = send_mapping(vitrylo_app, client, token, {0: "name", 4: "notes"}, 7, "preview")
    assert preview.status_code == 200


def test_preview_shows_problems_per_row(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    lines = [HEADER, f"Перша;{CODES[0]};;;;;", "Друга;12345670;;;;;", ";;;bad-mail;;;"]
    token = token_of(upload(vitrylo_app, client, csv_bytes(lines)))
    page = client.get(f"/crm/import/{token}").get_data(as_text=True)
    assert page.count("crm-import-reject") == 2 and page.count("crm-import-create") == 1
    assert "12345670" in page and "bad-mail" in page


# -- dry run, one transaction, skip bad rows -------------------------------------------


BAD = [
    HEADER,
    f"Добра перша;{CODES[0]};;;;;",
    "Погана;12345670;;;;;",  # wrong check digit
    f"Добра друга;{CODES[1]};;;;;",
    "Без телефону;;не телефон;;;;",
]


def test_dry_run_changes_nothing(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    token, page, location = run(vitrylo_app, client, csv_bytes(GOOD), action="dry_run")
    summary = result(db_session, location)
    assert summary["dry_run"] and summary["created"] == 3 and not summary["applied"]
    assert names(db_session) == []
    assert "Dry run" in page.get_data(as_text=True) or "Пробний" in page.get_data(as_text=True)
    assert not db_session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
    assert (Path(vitrylo_app.instance_path, "imports") / f"{token}.csv").exists()


def test_abort_on_error_leaves_nothing_and_reports_the_rows(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    token, page, location = run(vitrylo_app, client, csv_bytes(BAD))
    summary = result(db_session, location)
    assert summary["stopped"] == "rejected" and summary["rejected"] == 2 and not summary["applied"]
    assert names(db_session) == []
    html = page.get_data(as_text=True)
    assert "crm-import-report" in html
    job_id = location.rsplit("/", 1)[-1]
    report = client.get(f"/crm/import/{token}/jobs/{job_id}/rejected.csv")
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    text = report.get_data().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][2:] == HEADER.split(";")
    assert [r[0] for r in rows[1:]] == ["3", "5"]
    assert "12345670" in rows[1][1] and rows[1][2] == "Погана"
    assert "не телефон" in rows[2][1]


def test_skip_bad_rows_imports_the_good_ones(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    _token, _page, location = run(vitrylo_app, client, csv_bytes(BAD), on_error="skip")
    summary = result(db_session, location)
    assert (summary["created"], summary["rejected"], summary["applied"]) == (2, 2, True)
    assert names(db_session) == ["Добра друга", "Добра перша"]


def test_a_database_error_mid_way_leaves_nothing(vitrylo_app, db_session, login, monkeypatch):
    """Abort-on-error is one transaction: batches written before the failure go too."""
    client = login(RIGHTS)
    monkeypatch.setattr(imports, "BATCH", 1)
    calls = []
    original = imports.Writer._create

    def failing(self, rows):
        calls.append(rows)
        if len(calls) == 2:
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return original(self, rows)

    monkeypatch.setattr(imports.Writer, "_create", failing)
    _token, _page, location = run(vitrylo_app, client, csv_bytes(GOOD))
    summary = result(db_session, location)
    assert summary["stopped"] == "conflict" and not summary["applied"] and len(calls) == 2
    assert names(db_session) == []
    assert db_session.scalar(select(func.count()).select_from(Channel)) == 0


def test_skip_bad_rows_rejects_a_row_the_database_refuses(
    vitrylo_app, db_session, login, monkeypatch
):
    client = login(RIGHTS)
    original = imports.Writer._create

    def picky(self, rows):
        if any(r.values.get("name") == 'ПП "Калина"' for r in rows):
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return original(self, rows)

    monkeypatch.setattr(imports.Writer, "_create", picky)
    _token, _page, location = run(vitrylo_app, client, csv_bytes(GOOD), on_error="skip")
    summary = result(db_session, location)
    assert (summary["created"], summary["rejected"], summary["applied"]) == (2, 1, True)
    assert names(db_session) == ["ТОВ «Ромашка»", "ФОП Іваненко Іван"]


# -- matching --------------------------------------------------------------------------


def test_update_matching_by_tax_code(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    me = user_id(db_session, client)
    stored = Counterparty(name="Стара назва", tax_code=CODES[0], manager_id=me, notes="лишається")
    db_session.add(stored)
    db_session.commit()
    version = stored.version
    lines = [HEADER, f"Нова назва;{CODES[0]};044 123 45 67;;;;", f"Зовсім нова;{CODES[1]};;;;;"]
    _token, _page, location = run(vitrylo_app, client, csv_bytes(lines), mode="update")
    summary = result(db_session, location)
    assert (summary["created"], summary["updated"]) == (1, 1)
    db_session.refresh(stored)
    assert (stored.name, stored.notes, stored.version) == ("Нова назва", "лишається", version + 1)
    assert (
        db_session.scalar(select(Channel.value).where(Channel.counterparty_id == stored.id))
        == "+380441234567"
    )
    assert names(db_session) == ["Зовсім нова", "Нова назва"]


def test_update_changes_the_stored_actual_address_in_place(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    me = user_id(db_session, client)
    first = Counterparty(name="Перша", tax_code=CODES[0], manager_id=me)
    second = Counterparty(name="Друга", tax_code=CODES[1], manager_id=me)
    db_session.add_all([first, second])
    db_session.flush()
    db_session.add_all(
        [
            Address(counterparty_id=first.id, kind="actual", city="Київ", line="Хрещатик, 1"),
            Address(counterparty_id=second.id, kind="actual", city="Львів", line="Ринок, 2"),
        ]
    )
    db_session.commit()
    lines = [HEADER, f"Перша;{CODES[0]};;;Одеса;;", f"Друга;{CODES[1]};;;Дніпро;Нова, 3;"]
    _token, _page, location = run(vitrylo_app, client, csv_bytes(lines), mode="update")
    assert result(db_session, location)["updated"] == 2
    stored = db_session.execute(
        select(Address.counterparty_id, Address.city, Address.line).order_by(
            Address.counterparty_id
        )
    ).all()
    assert [tuple(r) for r in stored] == [
        (first.id, "Одеса", "Хрещатик, 1"),
        (second.id, "Дніпро", "Нова, 3"),
    ]


def test_skip_matching_and_matches_out_of_scope(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    me = user_id(db_session, client)
    db_session.add_all(
        [
            Counterparty(name="Моя", tax_code=CODES[0], manager_id=me),
            Counterparty(name="Чужа", tax_code=CODES[1]),
        ]
    )
    db_session.commit()
    lines = [
        HEADER,
        f"Моя нова;{CODES[0]};;;;;",
        f"Чужа нова;{CODES[1]};;;;;",
        f"Третя;{CODES[2]};;;;;",
    ]
    _t, _p, skipped = run(vitrylo_app, client, csv_bytes(lines), mode="skip", action="dry_run")
    summary = result(db_session, skipped)
    assert (summary["skipped"], summary["created"]) == (2, 1)
    _t, _page, updated = run(vitrylo_app, client, csv_bytes(lines), mode="update", on_error="skip")
    summary = result(db_session, updated)
    assert (summary["updated"], summary["created"], summary["rejected"]) == (1, 1, 1)
    assert "Чужа" in names(db_session) and "Чужа нова" not in names(db_session)


def test_repeated_keys_and_used_external_ids_are_rejected(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    db_session.add(Counterparty(name="Має id", external_id="x-1"))
    db_session.commit()
    lines = [HEADER, "Одна;;;;;;x-1", "Друга;;;;;;x-2", "Третя;;;;;;x-2"]
    _t, _p, location = run(vitrylo_app, client, csv_bytes(lines), action="dry_run")
    summary = result(db_session, location)
    assert (summary["created"], summary["rejected"]) == (1, 2)


def test_duplicates_found_are_reported(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    me = user_id(db_session, client)
    stored = Counterparty(name="ТОВ «Ромашка»", manager_id=me)
    db_session.add(stored)
    db_session.commit()
    lines = [HEADER, "Ромашка, ТОВ;;;;;;", "Інша;;;;;;", 'ТОВ "Інша";;;;;;']
    _t, page, location = run(vitrylo_app, client, csv_bytes(lines), action="dry_run")
    summary = result(db_session, location)
    assert summary["with_duplicates"] == 2
    assert summary["duplicates"][0] == {"line": 2, "ids": [stored.id], "lines": []}
    assert summary["duplicates"][1]["lines"] == [3]
    assert "ТОВ «Ромашка»" in page.get_data(as_text=True)


# -- refusals, rights and scope ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (b"a;b\r\n1;2\r\n", "clients.txt"),
        (b"", "clients.csv"),
        (b"PK\x03\x04 not really a workbook", "clients.xlsx"),
        (b"\x00\x01\x02binary", "clients.csv"),
        (b"\r\n\r\n", "clients.csv"),
    ],
)
def test_bad_files_are_refused_with_a_message(vitrylo_app, login, content, filename):
    client = login(RIGHTS)
    response = upload(vitrylo_app, client, content, filename)
    assert response.status_code == 400 and "field-error" in response.get_data(as_text=True)


def test_rights_and_other_users_uploads(vitrylo_app, db_session, login):
    owner = login(RIGHTS)
    token, _page, location = run(vitrylo_app, owner, csv_bytes(BAD))
    job_id = location.rsplit("/", 1)[-1]
    nobody = login(["crm_base.counterparty.read"])
    assert nobody.get("/crm/import").status_code == 403
    assert upload(vitrylo_app, nobody, csv_bytes(GOOD)).status_code == 403
    assert nobody.get(f"/crm/import/{token}").status_code == 403
    stranger = login(RIGHTS)
    for url in (
        f"/crm/import/{token}",
        f"/crm/import/{token}/jobs/{job_id}",
        f"/crm/import/{token}/jobs/{job_id}/rejected.csv",
        "/crm/import/not-a-token",
        "/crm/import/" + "0" * 32,
    ):
        assert stranger.get(url).status_code == 404, url
    assert send_mapping(vitrylo_app, stranger, token, COLUMNS, 7).status_code == 404
    other_token = token_of(upload(vitrylo_app, owner, csv_bytes(GOOD)))
    assert owner.get(f"/crm/import/{other_token}/jobs/{job_id}").status_code == 404
    assert owner.get(f"/crm/import/{token}/jobs/{int(job_id) + 999}").status_code == 404


def test_update_mode_needs_the_update_right(vitrylo_app, db_session, login):
    client = login([IMPORT, "crm_base.counterparty.read"])
    token = token_of(upload(vitrylo_app, client, csv_bytes(GOOD)))
    refused = send_mapping(vitrylo_app, client, token, COLUMNS, 7, mode="update")
    assert refused.status_code == 400


def test_persons_cannot_be_matched_by_tax_code(vitrylo_app, login):
    client = login([*RIGHTS, "crm_base.person.update"])
    lines = ["Прізвище;Email", "Коваль;k@ex.ua"]
    token = token_of(upload(vitrylo_app, client, csv_bytes(lines), subject="person"))
    refused = send_mapping(
        vitrylo_app,
        client,
        token,
        {0: "last_name", 1: "email"},
        2,
        mode="update",
        match_by="tax_code",
    )
    assert refused.status_code == 400


def test_progress_and_result_are_served_to_htmx(vitrylo_app, db_session, login):
    client = login(RIGHTS)
    _token, _page, location = run(vitrylo_app, client, csv_bytes(GOOD), action="dry_run")
    fragment = client.get(location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "crm-import-figures" in fragment
    assert "hx-trigger" not in fragment  # finished: no more polling
