"""The list view (issue 4): search, filters, sort, keyset pages, scope, export, bulk actions.

Most tests go through crm_base's counterparty list over HTTP, as a user would; the filter
kinds crm_base does not use are tested on a list of users declared here.
"""

from __future__ import annotations

import csv
import html
import io
import random
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from sqlalchemy import event, select
from werkzeug.datastructures import MultiDict

from addons.crm_base.models import SUBJECT, Counterparty
from addons.crm_base.views import COUNTERPARTIES
from core.models import AuditEntry, GroupScope, Team, User, UserGroup
from core.testing.plugin import csrf_token
from core.ui import (
    BooleanFilter,
    ChoiceFilter,
    Column,
    DateRangeFilter,
    ListView,
    RelatedFilter,
)
from core.ui.export import safe_text
from core.ui.listview import prefix_bounds

READ = ["crm_base.counterparty.read"]
EXPORT = [*READ, "crm_base.counterparty.export"]
UPDATE = [*READ, "crm_base.counterparty.update"]
URL = "/crm/counterparties"
ROW_LINK = re.compile(r'<a href="/crm/counterparties/(\d+)">')


# -- helpers ---------------------------------------------------------------------------------


def uid(db_session, client) -> int:
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


def set_scope(db_session, client, scope: str) -> None:
    group_id = db_session.scalar(
        select(UserGroup.group_id).where(UserGroup.user_id == uid(db_session, client))
    )
    db_session.add(GroupScope(group_id=group_id, subject=SUBJECT, scope=scope))
    db_session.commit()


def add(db_session, names, manager_id=None, start=None) -> list[int]:
    """Counterparties with the given names, created a minute apart (in that order)."""
    start = start or datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    rows = [
        Counterparty(name=n, manager_id=manager_id, created_at=start + timedelta(minutes=i))
        for i, n in enumerate(names)
    ]
    db_session.add_all(rows)
    db_session.commit()
    return [r.id for r in rows]


def ids_on(page: str) -> list[int]:
    return [int(i) for i in ROW_LINK.findall(page)]


def link(page: str, rel: str) -> str | None:
    found = re.search(rf'class="page-link list-page-{rel}" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


def get(client, url: str, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def db_order(db_session, ids, *order) -> list[int]:
    """The ids in the order the database sorts them (its collation, not Python's)."""
    return list(
        db_session.scalars(select(Counterparty.id).where(Counterparty.id.in_(ids)).order_by(*order))
    )


@contextmanager
def count_queries(app):
    statements: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params))

    engine = app.extensions["vitrylo"].db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def read_csv(response, delimiter=";") -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8 (Cyrillic) right
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=delimiter))


@pytest.fixture
def superuser(login):
    return login(superuser=True)


# -- search, filters, sort -------------------------------------------------------------------


def test_search_is_case_insensitive_for_cyrillic_and_literal(superuser, db_session):
    ids = add(db_session, ["ТОВ «Ромашка»", "Ромашковий сад", "Волошка", "Знижка 100%"])
    page = get(superuser, f"{URL}?q=РОМАШКА")
    assert ids_on(page) == [ids[0]]
    assert set(ids_on(get(superuser, f"{URL}?q=ромашк"))) == {ids[0], ids[1]}
    assert ids_on(get(superuser, f"{URL}?q=ром&match=prefix")) == [ids[1]]
    assert ids_on(get(superuser, f"{URL}?q=%25")) == [ids[3]]  # % is a character
    assert ids_on(get(superuser, f"{URL}?q=_")) == []  # and so is _
    assert 'value="РОМАШКА"' in page  # the box keeps what was typed


def test_prefix_and_ascii_searches_find_every_case(superuser, db_session):
    names = [
        "ТОВ «Ромашка»",
        "тов «ромашка-2»",
        "ТоВ «РОМАШКА»",
        "Тов ромашка",
        "ПП «Ромашка»",
        "ACME Ltd",
        "acme-2",
        "The Acme",
        "Ackme",
    ]
    ids = dict(zip(names, add(db_session, names), strict=True))
    found = ids_on(get(superuser, f"{URL}?q=ТОВ «РОМ&match=prefix&per_page=200"))
    assert set(found) == {ids["ТОВ «Ромашка»"], ids["тов «ромашка-2»"], ids["ТоВ «РОМАШКА»"]}
    found = ids_on(get(superuser, f"{URL}?q=acme&match=prefix&per_page=200"))
    assert set(found) == {ids["ACME Ltd"], ids["acme-2"]}
    found = ids_on(get(superuser, f"{URL}?q=aCmE&per_page=200"))
    assert set(found) == {ids["ACME Ltd"], ids["acme-2"], ids["The Acme"]}


def test_prefix_bounds_hold_every_case_variant():
    rnd = random.Random(7)
    letters = "абвгґдеєжзиіїйклмнопрстуфхцчшщьюяabcdefghijklmnopqrstuvwxyz «»-'0"
    for _ in range(300):
        prefix = "".join(rnd.choice(letters) for _ in range(rnd.randint(1, 6)))
        low, high = prefix_bounds(prefix)
        for _ in range(20):
            variant = "".join(c.upper() if rnd.random() < 0.5 else c for c in prefix)
            name = variant + "".join(rnd.choice(letters) for _ in range(rnd.randint(0, 5)))
            assert low <= name < high, (prefix, name)


def test_mine_or_all_filter_within_the_scope(login, db_session):
    olena, petro = login(READ), login(READ)
    set_scope(db_session, olena, "all")
    mine = add(db_session, ["Олена 1", "Олена 2"], uid(db_session, olena))
    theirs = add(db_session, ["Петро 1"], uid(db_session, petro))
    assert set(ids_on(get(olena, URL))) == {*mine, *theirs}
    assert set(ids_on(get(olena, f"{URL}?whose=mine"))) == set(mine)
    assert set(ids_on(get(olena, f"{URL}?whose=bogus"))) == {*mine, *theirs}  # default
    assert set(ids_on(get(petro, f"{URL}?whose=all"))) == set(theirs)  # own scope still


def test_sort_by_name_and_by_date_both_ways(superuser, db_session):
    ids = add(db_session, ["Бета", "Альфа", "Гамма"])
    by_name = db_order(db_session, ids, Counterparty.name, Counterparty.id)
    assert ids_on(get(superuser, URL)) == by_name
    assert ids_on(get(superuser, f"{URL}?sort=-name")) == by_name[::-1]
    assert ids_on(get(superuser, f"{URL}?sort=created")) == ids
    page = get(superuser, f"{URL}?sort=-created")
    assert ids_on(page) == ids[::-1]
    assert 'aria-sort="descending"' in page


# -- keyset pages ----------------------------------------------------------------------------


def walk(client, url: str, rel: str) -> list[list[int]]:
    pages = []
    while url:
        page = get(client, url)
        pages.append(ids_on(page))
        url = link(page, rel)
    return pages


@pytest.mark.parametrize("sort", ["name", "-name", "created", "-created"])
def test_keyset_pages_with_ties_lose_and_repeat_nothing(superuser, db_session, sort):
    same_time = datetime(2024, 5, 1, tzinfo=UTC)
    ids = []
    for name in ("Однаковий", "Інший", "Ще один"):  # ties: 20 rows share each name and time
        ids += add(db_session, [name] * 20, start=same_time)
    column = Counterparty.name if sort.endswith("name") else Counterparty.created_at
    order = (column.desc(), Counterparty.id.desc()) if sort[0] == "-" else (column, Counterparty.id)
    expected = db_order(db_session, ids, *order)

    forward = walk(superuser, f"{URL}?sort={sort}", "next")
    assert [len(p) for p in forward] == [25, 25, 10]
    assert [i for page in forward for i in page] == expected

    last = get(superuser, f"{URL}?sort={sort}")
    url = link(last, "next")
    last = get(superuser, link(get(superuser, url), "next"))
    backward = walk(superuser, link(last, "prev"), "prev")
    assert backward == [expected[25:50], expected[:25]]
    assert link(get(superuser, link(last, "first")), "prev") is None


def test_page_size_choice_and_previous_from_a_short_start(superuser, db_session):
    ids = add(db_session, [f"Фірма {i:03d}" for i in range(120)])
    assert len(ids_on(get(superuser, f"{URL}?per_page=50"))) == 50
    assert len(ids_on(get(superuser, f"{URL}?per_page=200"))) == 120
    for bad in ("7", "abc", "-25", "100000"):
        assert len(ids_on(get(superuser, f"{URL}?per_page={bad}"))) == 25
    second = get(superuser, link(get(superuser, f"{URL}?per_page=100"), "next"))
    assert len(ids_on(second)) == 20
    back = get(superuser, link(second, "prev"))  # a full first page, not a short one
    assert ids_on(back) == sorted(ids)[:100] and link(back, "prev") is None


def test_bad_cursor_sort_and_parameters_never_break_the_page(superuser, db_session):
    ids = add(db_session, [f"Фірма {i:02d}" for i in range(30)])
    first = ids_on(get(superuser, URL))
    next_url = link(get(superuser, URL), "next")
    cursor = parse_qs(urlsplit(next_url).query)["cursor"][0]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    for bad in (tampered, "garbage", "", "a" * 5000, cursor + "."):
        page = get(superuser, f"{URL}?cursor={bad}")
        assert ids_on(page) == first
    page = get(superuser, f"{URL}?cursor={tampered}")
    assert "list-notice" in page
    page = get(superuser, f"{URL}?cursor={cursor}&sort=-created")  # cursor of another sort
    assert "list-notice" in page and ids_on(page) == ids[::-1][:25]
    assert ids_on(get(superuser, f"{URL}?sort=password_hash")) == first
    assert ids_on(get(superuser, f"{URL}?sort=-")) == first
    assert ids_on(get(superuser, f"{URL}?q={'я' * 5000}")) == []


def test_empty_states(login, db_session):
    reader = login(READ)
    page = get(reader, URL)
    assert "list-empty" in page and "list-page-next" not in page
    add(db_session, ["Своя"], uid(db_session, reader))
    page = get(reader, f"{URL}?q=немає-такої")
    assert "list-empty" in page and ids_on(page) == []
    assert f'href="{URL}"' in page  # a way to clear the search


def test_htmx_gets_only_the_table_region(superuser, db_session):
    add(db_session, ["Альфа"])
    full = get(superuser, URL)
    assert "<html" in full and 'id="list-crm_base_counterparties"' in full
    region = get(
        superuser,
        f"{URL}?sort=-name",
        **{"HX-Request": "true", "HX-Target": "list-crm_base_counterparties"},
    )
    assert "<html" not in region and "Альфа" in region
    assert 'hx-swap-oob="true"' in region and 'value="-name"' in region
    restore = get(
        superuser,
        URL,
        **{
            "HX-Request": "true",
            "HX-Target": "list-crm_base_counterparties",
            "HX-History-Restore-Request": "true",
        },
    )
    assert "<html" in restore


# -- record scope ----------------------------------------------------------------------------


def test_other_managers_rows_never_appear(vitrylo_app, login, db_session):
    olena, petro = login(EXPORT), login(UPDATE)
    mine = add(db_session, ["Олена «А»", "Олена «Б»"], uid(db_session, olena))
    theirs = add(db_session, ["Петро «В»"], uid(db_session, petro))
    assert set(ids_on(get(olena, URL))) == set(mine)
    assert ids_on(get(olena, f"{URL}?q=петро")) == []
    exported = read_csv(olena.get(f"{URL}/export.csv"))
    assert [r[0] for r in exported[1:]] == ["Олена «А»", "Олена «Б»"]
    book = openpyxl.load_workbook(io.BytesIO(olena.get(f"{URL}/export.xlsx").data))
    assert "Петро «В»" not in [c.value for c in book.active["A"]]
    # Petro ticks Olena's record by hand: his scope says no, so nothing happens to it.
    before = db_session.get(Counterparty, mine[0]).manager_id
    petro.post(
        f"{URL}/bulk",
        data={
            "action": "assign_to_me",
            "ids": [mine[0], theirs[0]],
            "csrf_token": csrf_token(vitrylo_app, petro),
        },
    )
    db_session.expire_all()
    assert db_session.get(Counterparty, mine[0]).manager_id == before
    assert db_session.get(Counterparty, theirs[0]).manager_id == uid(db_session, petro)


# -- export ----------------------------------------------------------------------------------


def test_export_follows_search_and_sort_in_csv_and_xlsx(login, db_session):
    user = login(EXPORT)
    set_scope(db_session, user, "all")
    add(db_session, ["Бета", "Альфа", "Гамма", "Дельта"], uid(db_session, user))
    page = get(user, f"{URL}?sort=-name&q=а")
    assert "/export.csv" in page and "/export.xlsx" in page
    response = user.get(f"{URL}/export.csv?sort=-name&q=а")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    expected = list(
        db_session.scalars(
            select(Counterparty.name)
            .where(Counterparty.name.in_(["Бета", "Альфа", "Гамма", "Дельта"]))
            .order_by(Counterparty.name.desc())
        )
    )
    assert rows[0][0] in ("Name", "Назва") and len(rows[0]) == 7
    assert [r[0] for r in rows[1:]] == expected
    assert rows[1][5] == user.user_login.title()  # the manager, joined in the same query
    comma = read_csv(user.get(f"{URL}/export.csv?sort=-name&q=а&sep=comma"), ",")
    assert comma == rows
    book = openpyxl.load_workbook(io.BytesIO(user.get(f"{URL}/export.xlsx?sort=-name&q=а").data))
    values = list(book.active.iter_rows(values_only=True))
    assert [v[0] for v in values[1:]] == expected
    assert isinstance(values[1][6], datetime)  # a real date cell, not text
    assert db_session.scalar(select(AuditEntry.id).where(AuditEntry.action == "export"))
    assert user.get(f"{URL}/export.pdf").status_code == 404


def test_formula_injection_is_neutralised(login, db_session):
    user = login(EXPORT)
    evil = ['=HYPERLINK("http://x")', "+1+2", "-3+4", "@SUM(A1)", "\tTab", "\rCR", "Звичайна"]
    add(db_session, evil, uid(db_session, user))
    rows = read_csv(user.get(f"{URL}/export.csv?sort=created"))
    assert [r[0] for r in rows[1:]] == [safe_text(v) for v in evil]
    assert rows[1][0] == '\'=HYPERLINK("http://x")' and rows[-1][0] == "Звичайна"
    book = openpyxl.load_workbook(io.BytesIO(user.get(f"{URL}/export.xlsx?sort=created").data))
    cells = [row[0] for row in book.active.iter_rows(min_row=2)]
    assert [c.value for c in cells] == [safe_text(v) for v in evil]
    assert all(c.data_type == "s" for c in cells)  # text, never a formula


def test_export_needs_its_own_right(login, db_session):
    reader = login(READ)
    add(db_session, ["Секретна"], uid(db_session, reader))
    assert "/export.csv" not in get(reader, URL)
    assert reader.get(f"{URL}/export.csv").status_code == 403
    assert reader.get(f"{URL}/export.xlsx").status_code == 403


# -- queries per page ------------------------------------------------------------------------


def test_queries_per_page_do_not_grow_with_the_page_size(vitrylo_app, superuser, db_session):
    add(db_session, [f"Фірма {i:03d}" for i in range(220)])
    get(superuser, URL)  # warm up: rights and caches
    counts = {}
    for size in (25, 200, 25):
        with count_queries(vitrylo_app) as statements:
            page = get(superuser, f"{URL}?per_page={size}")
        assert len(ids_on(page)) == size
        counts[size] = len(statements)
    assert counts[25] == counts[200], counts
    next_url = link(get(superuser, f"{URL}?per_page=200"), "next")
    with count_queries(vitrylo_app) as statements:
        get(superuser, next_url)
    selects = [(s, p) for s, p in statements if "crm_base_counterparty" in s]
    assert len(selects) == 1
    sql, params = selects[0]
    assert ") > (" in sql  # keyset: starts at the cursor ...
    assert "OFFSET" not in sql or list(params)[-1] == 0  # ... skips nothing (SQLite: OFFSET 0)


# -- bulk actions ----------------------------------------------------------------------------


def test_bulk_action_needs_csrf_and_its_permission(vitrylo_app, login, db_session):
    reader, editor = login(READ), login(UPDATE)
    set_scope(db_session, editor, "all")
    ids = add(db_session, ["Перша", "Друга", "Третя"])
    data = {"action": "assign_to_me", "ids": ids[:2]}
    assert editor.post(f"{URL}/bulk", data=data).status_code == 400  # no CSRF token
    assert "assign_to_me" not in get(reader, URL)
    token = csrf_token(vitrylo_app, reader)
    assert reader.post(f"{URL}/bulk", data={**data, "csrf_token": token}).status_code == 403
    token = csrf_token(vitrylo_app, editor)
    page = get(editor, f"{URL}?sort=-name")
    assert 'value="assign_to_me"' in page
    back = html.unescape(re.search(r'name="back" value="([^"]*)"', page).group(1))
    done = editor.post(f"{URL}/bulk", data={**data, "csrf_token": token, "back": back})
    assert done.status_code == 302 and done.location.endswith(f"{URL}?sort=-name")
    db_session.expire_all()
    owners = [db_session.get(Counterparty, i).manager_id for i in ids]
    assert owners == [uid(db_session, editor)] * 2 + [None]
    bad = editor.post(f"{URL}/bulk", data={"action": "drop_table", "ids": ids, "csrf_token": token})
    assert bad.status_code == 400
    nothing = editor.post(
        f"{URL}/bulk",
        data={"action": "assign_to_me", "ids": ["x"], "csrf_token": token, "back": "//evil/?q=1"},
    )
    assert nothing.status_code == 302 and nothing.location.startswith(URL)


# -- filter kinds and NULL sort keys, on a list declared here ------------------------------


USERS = ListView(
    name="test_users",
    endpoint="core.index",
    model=User,
    columns=[
        Column("login", "Login", User.login, sortable=True),
        Column("team", "Team", User.team_id, sortable=True),
        Column("created", "Created", User.created_at, sortable=True),
        Column("active", "Active", User.active),
    ],
    where=lambda: User.login.like("lv\\_%", escape="\\"),
    search=[User.login, User.name],
    filters=[
        BooleanFilter("active", "Active", User.active),
        RelatedFilter("team", "Team", User.team_id),
        DateRangeFilter("created", "Created", User.created_at),
        ChoiceFilter("lang", "Language", [("uk", "UA"), ("en", "EN")], expr=User.language),
    ],
    default_sort="login",
)


@pytest.fixture
def people(db_session):
    teams = [Team(name="Київ-lv"), Team(name="Львів-lv")]
    db_session.add_all(teams)
    db_session.flush()
    users = []
    for i in range(23):
        users.append(
            User(
                login=f"lv_{i:02d}",
                name=f"Людина {i}",
                active=i % 3 != 0,
                language="en" if i % 4 == 0 else "uk",
                team_id=None if i % 2 else teams[i % 4 // 2].id,
                created_at=datetime(2024, 3, 1 + i, 12, tzinfo=UTC),
            )
        )
    db_session.add_all(users)
    db_session.commit()
    return teams, users


def page_of(app, db_session, query):
    with app.test_request_context(f"/?{query}"):
        from flask import request

        return USERS.page(db_session, MultiDict(request.args))


def logins(page):
    return [r.values["login"] for r in page.rows]


def test_boolean_related_date_and_choice_filters(vitrylo_app, db_session, people):
    teams, users = people
    inactive = [u.login for u in users if not u.active]
    assert logins(page_of(vitrylo_app, db_session, "active=0")) == inactive
    assert len(logins(page_of(vitrylo_app, db_session, "active=1"))) == 23 - len(inactive)
    assert len(logins(page_of(vitrylo_app, db_session, "active=maybe"))) == 23
    in_kyiv = [u.login for u in users if u.team_id == teams[0].id]
    assert logins(page_of(vitrylo_app, db_session, f"team={teams[0].id}")) == in_kyiv
    assert len(logins(page_of(vitrylo_app, db_session, "team=abc"))) == 23
    march = page_of(vitrylo_app, db_session, "created_from=2024-03-03&created_to=2024-03-05")
    assert logins(march) == ["lv_02", "lv_03", "lv_04"]
    late = page_of(vitrylo_app, db_session, "created_from=2024-03-22")
    assert logins(late) == ["lv_21", "lv_22"]
    assert len(logins(page_of(vitrylo_app, db_session, "created_to=not-a-date"))) == 23
    english = [u.login for u in users if u.language == "en"]
    assert logins(page_of(vitrylo_app, db_session, "lang=en")) == english
    assert logins(page_of(vitrylo_app, db_session, "q=ЛЮДИНА 1&match=prefix"))[:2] == [
        "lv_01",
        "lv_10",
    ]


def test_filter_widgets_render_with_their_values(vitrylo_app, db_session, people):
    from flask import render_template, request

    query = "active=0&team=5&created_from=2024-03-03&lang=en&sort=-created"
    with vitrylo_app.test_request_context(f"/?{query}"):
        page = USERS.page(db_session, MultiDict(request.args))
        form = render_template("core/ui/list_filters.html", page=page)
        region = render_template("core/ui/list_region.html", page=page, oob=True)
    assert '<option value="0" selected>' in form  # boolean
    assert 'type="number" min="1" id="list-test_users-team" name="team" value="5"' in form
    assert 'name="created_from" value="2024-03-03"' in form and 'name="created_to" value=""' in form
    assert '<option value="en" selected>' in form and '<option value="">' in form  # "any"
    assert 'id="list-test_users-sort" value="-created"' in form
    assert 'hx-swap-oob="true"' in region and "list-empty" in region  # team 5: nobody


@pytest.mark.parametrize("sort", ["team", "-team"])
def test_keyset_over_a_sort_column_with_nulls(vitrylo_app, db_session, people, sort):
    """Half the users have no team: NULLs sort last (first when descending), and pages of
    five walk through them, forwards and back, without losing or repeating anyone."""
    order = (
        (User.team_id.desc().nulls_first(), User.id.desc())
        if sort[0] == "-"
        else (User.team_id.asc().nulls_last(), User.id)
    )
    expected = list(
        db_session.scalars(
            select(User.login).where(User.login.like("lv\\_%", escape="\\")).order_by(*order)
        )
    )
    state = USERS.parse(MultiDict({"sort": sort}))
    state.per_page = 5  # smaller than any offered size, to get several pages of 23 rows
    pages: list[list] = []
    with vitrylo_app.test_request_context("/"):
        while True:
            records, _has_prev, has_next = USERS.fetch(db_session, state)
            pages.append([USERS._row(r) for r in records])
            if not has_next:
                break
            token = USERS.encode_cursor(state, pages[-1][-1], before=False)
            state.cursor = USERS._decode_cursor(token, state.sort_token)
        assert [[r.values["login"] for r in p] for p in pages] == [
            expected[i : i + 5] for i in range(0, 23, 5)
        ]
        token = USERS.encode_cursor(state, pages[-2][0], before=True)
        state.cursor = USERS._decode_cursor(token, state.sort_token)
        back, has_prev, has_next = USERS.fetch(db_session, state)
        assert [r.login for r in back] == expected[10:15] and has_prev and has_next


def test_declaration_mistakes_fail_at_once():
    with pytest.raises(ValueError, match="default_sort"):
        ListView(
            name="x",
            endpoint="core.index",
            model=User,
            columns=[Column("login", "Login", User.login)],
            default_sort="login",
        )
    with pytest.raises(ValueError, match="subject and owner"):
        ListView(
            name="x",
            endpoint="core.index",
            model=User,
            columns=[Column("login", "Login", User.login)],
            subject="core.user",
        )
    with pytest.raises(ValueError, match="unique"):
        ListView(name="x", endpoint="core.index", model=User, columns=[Column("id", "Id", User.id)])


def test_counterparty_list_is_declared_with_the_scope():
    assert COUNTERPARTIES.subject == SUBJECT
    assert COUNTERPARTIES.export_permission == "crm_base.counterparty.export"


def test_migrations_create_the_indexes_the_model_declares(vitrylo_app):
    from sqlalchemy import inspect

    engine = vitrylo_app.extensions["vitrylo"].db.engine
    inspector = inspect(engine)
    unique = {u["name"] for u in inspector.get_unique_constraints(Counterparty.__tablename__)}
    in_db = {i["name"] for i in inspector.get_indexes(Counterparty.__tablename__)} - unique
    declared = {i.name for i in Counterparty.__table__.indexes}
    if engine.dialect.name != "postgresql":
        declared.discard("ix_crm_base_counterparty_name_trgm")  # PostgreSQL only
    assert in_db == declared
