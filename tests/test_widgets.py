"""The core's widgets (issue 4): kanban, calendar, Gantt, charts, and the /ui-kit gallery.

The server half of each widget is tested here; the browser half is driven on /ui-kit by
the browser tests.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from flask_login import login_user
from sqlalchemy import Integer, Numeric, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import core.views.demo_widgets
import core.views.progress  # registers /jobs/<id> (and demo routes) before the app is built
from core.csp import EMPTY_STYLE_HASH
from core.models import User
from core.security import LoginUser, scope_filter
from core.testing.plugin import create_user, csrf_token
from core.ui.widgets import (
    POSITION_STEP,
    BadRange,
    Kanban,
    KanbanCard,
    KanbanColumn,
    SqlKanbanSource,
    calendar_event,
    calendar_range,
    chart_config,
    gantt_task,
)

MOVE = "/ui-kit/kanban/move"
DEMO = core.views.demo_widgets


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and whether it sits inside a <section>
    with a given data-column (for the order of kanban cards)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def headers(app: Any, client: Any) -> dict[str, str]:
    return {"X-CSRFToken": csrf_token(app, client), "HX-Request": "true"}


def column_ids(html: str, column: str) -> list[int]:
    """The card ids shown in one column of the demo board, top to bottom."""
    part = html.split(f'data-kanban-cards data-column="{column}"', 1)[1].split("</section>", 1)[0]
    return [int(x) for x in re.findall(r'data-card-id="(\d+)"', part)]


@pytest.fixture
def admin(login):  # type: ignore[no-untyped-def]
    return login(superuser=True)


# -- the gallery -----------------------------------------------------------------------------


def test_ui_kit_is_for_superusers_only(admin, login, client):
    assert admin.get("/ui-kit").status_code == 200
    assert login(["core.user.read"]).get("/ui-kit").status_code == 403
    assert login([]).get("/ui-kit/calendar/events").status_code == 403
    assert login([]).get("/ui-kit/gantt/tasks").status_code == 403
    assert client.get("/ui-kit").status_code == 302  # to the sign-in page


def test_ui_kit_has_every_widget_and_its_scripts(admin):
    response = admin.get("/ui-kit")
    html = response.get_data(as_text=True)
    tags = parse(html)
    attrs = [a for _t, a in tags.tags]
    for attribute in (
        "data-kanban",
        "data-move-url",
        "data-calendar",
        "data-events-url",
        "data-gantt",
        "data-tasks-url",
        "data-chart",
        "hx-post",
    ):
        assert any(attribute in a for a in attrs), attribute
    scripts = [a["src"] for tag, a in tags.tags if tag == "script"]
    for name in (
        "sortablejs/Sortable.min.js",
        "ui/kanban.js",
        "fullcalendar/index.global.min.js",
        "fullcalendar/locales/uk.global.min.js",
        "ui/calendar.js",
        "frappe-gantt/frappe-gantt.umd.js",
        "ui/gantt.js",
        "chartjs/chart.umd.js",
        "ui/chart.js",
        "htmx/htmx.min.js",
    ):
        assert any(src and src.endswith(name) for src in scripts), name
    for name in (
        "ui/kanban.css",
        "ui/calendar.css",
        "ui/gantt.css",
        "ui/chart.css",
        "ui/progress.css",
        "frappe-gantt/frappe-gantt.css",
    ):
        assert any(a.get("href", "").endswith(name) for t, a in tags.tags if t == "link"), name


def test_ui_kit_keeps_the_csp(admin):
    response = admin.get("/ui-kit")
    tags = parse(response.get_data(as_text=True))
    assert all(a.get("src") for tag, a in tags.tags if tag == "script"), "inline <script>"
    assert not tags.script_bodies
    assert not [t for t, a in tags.tags if "style" in a], "style= attribute"
    assert not [t for t, a in tags.tags if t == "style"], "<style> element"
    assert not [a for t, a in tags.tags if any(k.startswith("on") for k in a)], "on* handler"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    # Styles: our files, plus an EMPTY <style> (FullCalendar's), no CSS text and no inline
    # style attribute.
    assert f"style-src 'self' {EMPTY_STYLE_HASH};" in csp
    assert "unsafe-inline" not in csp


def test_every_static_file_the_widgets_use_exists(admin, vitrylo_app):
    tags = parse(admin.get("/ui-kit").get_data(as_text=True))
    urls = [a["src"] for t, a in tags.tags if t == "script"]
    urls += [a["href"] for t, a in tags.tags if t == "link" and a.get("rel") == "stylesheet"]
    for url in urls:
        with admin.get(url) as response:
            assert response.status_code == 200, url


# -- kanban ----------------------------------------------------------------------------------


def test_kanban_move_is_saved_with_new_totals(vitrylo_app, admin):
    html = admin.get("/ui-kit").get_data(as_text=True)
    assert column_ids(html, "new")[:3] == [1, 2, 3]
    assert re.search(r"data-kanban-count[^>]*>10\W?000<", html)
    work = column_ids(html, "work")
    moved = admin.post(
        MOVE,
        data={"card": "2", "column": "work", "position": "1"},
        headers=headers(vitrylo_app, admin),
    )
    assert moved.status_code == 200, moved.data
    body = moved.get_json()
    assert body["ok"] is True
    assert body["totals"]["new"]["count"] == 9_999 and body["totals"]["work"]["count"] == 7
    assert body["totals"]["work"]["amount"]
    html = admin.get("/ui-kit").get_data(as_text=True)
    assert column_ids(html, "work") == [work[0], 2, *work[1:]]
    assert column_ids(html, "new")[:2] == [1, 3]
    back = admin.post(
        MOVE,
        data={"card": "2", "column": "new", "position": "0"},
        headers=headers(vitrylo_app, admin),
    )
    assert back.status_code == 200
    assert column_ids(admin.get("/ui-kit").get_data(as_text=True), "new")[:3] == [2, 1, 3]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"card": "1", "column": "nowhere", "position": "0"}, 400),
        ({"card": "1", "column": "work", "position": "-1"}, 400),
        ({"card": "1", "column": "work", "position": "top"}, 400),
        ({"card": "99999999", "column": "work", "position": "0"}, 404),
        ({"card": "x", "column": "work", "position": "0"}, 404),
    ],
    ids=["unknown-column", "negative-position", "bad-position", "no-such-card", "bad-id"],
)
def test_kanban_move_validates_what_the_browser_sends(vitrylo_app, admin, data, status):
    admin.get("/ui-kit")
    response = admin.post(MOVE, data=data, headers=headers(vitrylo_app, admin))
    assert response.status_code == status
    assert response.get_json()["ok"] is False and response.get_json()["error"]


def test_kanban_move_needs_the_csrf_token(admin):
    admin.get("/ui-kit")
    refused = admin.post(
        MOVE, data={"card": "1", "column": "work", "position": "0"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400
    assert column_ids(admin.get("/ui-kit").get_data(as_text=True), "new")[0] == 1


def test_kanban_move_needs_the_right(vitrylo_app, login, admin):
    user = login(["core.user.read"])
    response = user.post(
        MOVE,
        data={"card": "1", "column": "work", "position": "0"},
        headers=headers(vitrylo_app, user),
    )
    assert response.status_code == 403
    html = admin.get("/ui-kit").get_data(as_text=True)
    locked = re.search(r'data-card-id="(\d+)" data-locked', html)
    assert locked is not None
    response = admin.post(
        MOVE,
        data={"card": locked.group(1), "column": "lost", "position": "0"},
        headers=headers(vitrylo_app, admin),
    )
    assert response.status_code == 403


def test_kanban_source_can_refuse_with_a_message(vitrylo_app, admin):
    admin.get("/ui-kit")
    response = admin.post(
        MOVE,
        data={"card": "5", "column": "won", "position": "0"},
        headers=headers(vitrylo_app, admin),
    )
    assert response.status_code == 409
    assert response.get_json()["error"]  # the addon's own message, in the user's language
    assert 5 in column_ids(admin.get("/ui-kit").get_data(as_text=True), "new")


def test_kanban_loads_a_big_column_page_by_page(admin):
    html = admin.get("/ui-kit").get_data(as_text=True)
    first = column_ids(html, "new")
    assert first == list(range(1, 21))
    assert len(column_ids(html, "work")) == 6  # a short column has no "more"
    seen = list(first)
    more = re.search(r'data-kanban-more\s+hx-get="([^"]+)"', html.split('data-column="new"')[2])
    assert more is not None
    url = more.group(1).replace("&amp;", "&")
    for _page in range(3):
        response = admin.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200
        fragment = response.get_data(as_text=True)
        ids = [int(x) for x in re.findall(r'data-card-id="(\d+)"', fragment)]
        assert ids == list(range(seen[-1] + 1, seen[-1] + 21))
        assert not set(ids) & set(seen)
        seen += ids
        url = re.search(r'hx-get="([^"]+)"', fragment).group(1).replace("&amp;", "&")
    assert admin.get(url.replace("column=new", "column=work")).status_code == 400
    assert admin.get(url[:-3] + "abc").status_code == 400
    assert admin.get("/ui-kit/kanban/cards?column=new").status_code == 400


def test_kanban_next_page_survives_a_move_above_it(vitrylo_app, admin):
    html = admin.get("/ui-kit").get_data(as_text=True)
    url = re.search(r'hx-get="(/ui-kit/kanban/cards[^"]+)"', html).group(1).replace("&amp;", "&")
    admin.post(
        MOVE,
        data={"card": "3", "column": "work", "position": "0"},
        headers=headers(vitrylo_app, admin),
    )
    fragment = admin.get(url).get_data(as_text=True)
    ids = [int(x) for x in re.findall(r'data-card-id="(\d+)"', fragment)]
    assert ids[0] == 21 and len(ids) == 20  # after card 20, nothing skipped or repeated


# The SQL source, on a table of its own made inside the test's transaction.


class _TestBase(DeclarativeBase):
    pass


class _Card(_TestBase):
    __tablename__ = "test_widgets_card"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    owner_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


def _source(db_session: Any, scoped: bool = False) -> SqlKanbanSource:
    return SqlKanbanSource(
        session=lambda: db_session,
        model=_Card,
        column_attr=_Card.stage,
        position_attr=_Card.position,
        kanban_columns=[KanbanColumn("a", "A"), KanbanColumn("b", "B")],
        card=lambda r: KanbanCard(id=r.id, column="", title=r.title, amount=r.amount),
        amount=_Card.amount,
        scope=(lambda stmt: scope_filter(stmt, "test.card", _Card.owner_id)) if scoped else None,
    )


@pytest.fixture
def cards_table(db_session):  # type: ignore[no-untyped-def]
    _TestBase.metadata.create_all(db_session.connection())
    owner = create_user(db_session, "kanban_owner")
    for n in range(1, 26):
        db_session.add(
            _Card(
                id=n,
                stage="a",
                position=n * 10,
                title=f"Card {n}",
                amount=Decimal("1.50"),
                owner_id=owner.id if n % 2 else None,
            )
        )
    db_session.add(_Card(id=100, stage="b", position=0, title="B0", amount=Decimal(7)))
    db_session.commit()
    return owner


def test_sql_source_pages_by_keyset_and_counts(db_session, cards_table):
    source = _source(db_session)
    totals = source.totals()
    assert totals["a"].count == 25 and totals["a"].amount == Decimal("37.50")
    assert totals["b"].count == 1
    seen: list[int] = []
    after = None
    while True:
        page = source.cards("a", after, 10)
        if not page:
            break
        seen += [c.id for c in page]
        after = page[-1].key
    assert seen == list(range(1, 26))
    assert source.get("3").title == "Card 3" and source.get("x") is None


def test_sql_source_moves_and_renumbers(db_session, cards_table):
    source = _source(db_session)
    source.move(source.get("5"), "b", 0)
    assert [c.id for c in source.cards("b", None, 10)] == [5, 100]
    source.move(source.get("1"), "a", 2)  # above the card now third in "a" (4)
    assert [c.id for c in source.cards("a", None, 4)] == [2, 3, 1, 4]
    source.move(source.get("2"), "a", 99)  # past the end: to the bottom
    assert [c.id for c in source.cards("a", None, 30)][-1] == 2
    positions = db_session.scalars(select(_Card.position).where(_Card.stage == "a")).all()
    assert len(positions) == len(set(positions))


def test_sql_source_drops_into_gaps_and_shifts_only_without_one(db_session, cards_table):
    source = _source(db_session)
    before = dict(db_session.execute(select(_Card.id, _Card.position)).all())
    source.move(source.get("7"), "a", 3)  # between 3 (30) and 4 (40): only card 7 is written
    after = dict(db_session.execute(select(_Card.id, _Card.position)).all())
    assert {k for k in before if before[k] != after[k]} == {7} and after[7] == 35
    db_session.execute(_Card.__table__.update().where(_Card.id == 8).values(position=36))
    db_session.commit()
    source.move(source.get("9"), "a", 4)  # between 7 (35) and 8 (36): no room, 8 on shift
    assert [c.id for c in source.cards("a", None, 6)] == [1, 2, 3, 7, 9, 8]
    positions = db_session.scalars(select(_Card.position).where(_Card.stage == "a")).all()
    assert len(positions) == len(set(positions))
    source.move(source.get("2"), "b", 1)  # below the last card of "b": max + step
    assert db_session.get(_Card, 2).position == POSITION_STEP


def test_kanban_helper_checks_the_right_and_the_scope(vitrylo_app, db_session, cards_table):
    board = Kanban(
        name="t",
        source=_source(db_session, scoped=True),
        page_endpoint="core.ui_kit_cards",
        move_endpoint="core.ui_kit_move",
        move_permission="core.user.update",
    )
    stranger = create_user(db_session, "kanban_stranger", ["core.user.update"])
    for user, card, status in (
        (cards_table, "3", 403),
        (stranger, "3", 404),
        (stranger, "100", 404),
    ):
        db_user = db_session.get(User, user.id)
        with vitrylo_app.test_request_context(
            "/ui-kit/kanban/move",
            method="POST",
            data={"card": card, "column": "b", "position": "0"},
        ):
            login_user(LoginUser(db_user))
            assert board.move().status_code == status
    allowed = create_user(db_session, "kanban_mover", ["core.user.update"])
    db_session.execute(_Card.__table__.update().values(owner_id=allowed.id))
    db_session.commit()
    with vitrylo_app.test_request_context(
        "/ui-kit/kanban/move", method="POST", data={"card": "3", "column": "b", "position": "1"}
    ):
        login_user(LoginUser(db_session.get(User, allowed.id)))
        response = board.move()
        assert response.status_code == 200
        assert response.get_json()["totals"]["b"]["count"] == 2
    assert db_session.get(_Card, 3).stage == "b"


# -- calendar --------------------------------------------------------------------------------


def _range(start: date, end: date) -> str:
    return f"start={start.isoformat()}T00:00:00%2B03:00&end={end.isoformat()}T00:00:00%2B03:00"


def test_calendar_events_in_the_visible_range(admin):
    today = datetime.now(UTC).date()
    response = admin.get(
        f"/ui-kit/calendar/events?{_range(today - timedelta(days=1), today + timedelta(days=2))}"
    )
    assert response.status_code == 200
    events = response.get_json()
    ids = {e["id"] for e in events}
    assert "1" in ids and "7" not in ids  # the quarterly report is 20 days away
    for event in events:
        start = datetime.fromisoformat(event["start"]) if "T" in event["start"] else None
        if start is not None:
            assert start.tzinfo is not None
        else:
            date.fromisoformat(event["start"])
        assert isinstance(event["allDay"], bool) and event["title"]
    wide = admin.get(
        f"/ui-kit/calendar/events?{_range(today - timedelta(days=40), today + timedelta(days=40))}"
    )
    assert {e["id"] for e in wide.get_json()} >= {"1", "2", "3", "4", "5", "6", "7"}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "start=yesterday&end=today",
        "start=2025-05-10&end=2025-05-01",
        "start=2020-01-01&end=2025-01-01",
    ],
)
def test_calendar_refuses_bad_ranges(admin, query):
    assert admin.get(f"/ui-kit/calendar/events?{query}").status_code == 400


def test_calendar_range_reads_fullcalendar_dates(vitrylo_app):
    start, end = calendar_range({"start": "2025-05-01T00:00:00 03:00", "end": "2025-06-01"})
    assert start == datetime(2025, 4, 30, 21, tzinfo=UTC)
    assert end == datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(BadRange):
        calendar_range({"start": "2025-05-01", "end": "2025-05-01"})


def test_calendar_event_json(vitrylo_app):
    timed = calendar_event(
        1, "Call", datetime(2025, 5, 1, 9), datetime(2025, 5, 1, 10), css="event-success"
    )
    assert timed == {
        "id": "1",
        "title": "Call",
        "start": "2025-05-01T09:00:00+00:00",
        "allDay": False,
        "end": "2025-05-01T10:00:00+00:00",
        "classNames": ["event-success"],
    }
    whole = calendar_event("x", "Fair", date(2025, 5, 1), date(2025, 5, 3), editable=False)
    assert whole["allDay"] is True and whole["start"] == "2025-05-01"
    assert whole["editable"] is False
    json.dumps([timed, whole])


def test_calendar_move(vitrylo_app, admin):
    today = datetime.now(UTC).date()
    target = today + timedelta(days=2)
    data = {
        "id": "1",
        "start": f"{target}T10:00:00+03:00",
        "end": f"{target}T11:30:00+03:00",
        "all_day": "0",
    }
    assert (
        admin.post("/ui-kit/calendar/move", data=data, headers={"HX-Request": "true"}).status_code
        == 400
    )  # no CSRF token
    moved = admin.post("/ui-kit/calendar/move", data=data, headers=headers(vitrylo_app, admin))
    assert moved.status_code == 200 and moved.get_json()["ok"] is True
    events = admin.get(f"/ui-kit/calendar/events?{_range(target, target + timedelta(days=1))}")
    event = next(e for e in events.get_json() if e["id"] == "1")
    assert datetime.fromisoformat(event["start"]) == datetime(
        target.year, target.month, target.day, 7, tzinfo=UTC
    )
    fixed = admin.post(
        "/ui-kit/calendar/move",
        headers=headers(vitrylo_app, admin),
        data={"id": "5", "start": str(today), "all_day": "1"},
    )
    assert fixed.status_code == 403 and fixed.get_json()["error"]
    missing = admin.post(
        "/ui-kit/calendar/move",
        headers=headers(vitrylo_app, admin),
        data={"id": "999", "start": str(today), "all_day": "1"},
    )
    assert missing.status_code == 404
    reversed_ = admin.post(
        "/ui-kit/calendar/move",
        headers=headers(vitrylo_app, admin),
        data={"id": "1", "start": f"{today}T10:00", "end": f"{today}T09:00"},
    )
    assert reversed_.status_code == 400


# -- Gantt and charts ------------------------------------------------------------------------


def test_gantt_tasks_json(admin):
    tasks = admin.get("/ui-kit/gantt/tasks").get_json()
    assert len(tasks) == 5
    for task in tasks:
        assert date.fromisoformat(task["start"]) <= date.fromisoformat(task["end"])
        assert 0 <= task["progress"] <= 100
    assert tasks[1]["dependencies"] == "t1"
    assert tasks[3]["name"] == "Тестування <і> виправлення" or "<" in tasks[3]["name"]


def test_gantt_task_clamps():
    task = gantt_task(7, "X", date(2025, 5, 3), date(2025, 5, 1), 140, [1, 2], css="late")
    assert task == {
        "id": "7",
        "name": "X",
        "start": "2025-05-03",
        "end": "2025-05-03",
        "progress": 100,
        "dependencies": "1, 2",
        "custom_class": "late",
    }


def test_chart_config_is_valid_json():
    bar = chart_config(
        "bar",
        ["Jan", "Feb"],
        [{"label": "Plan", "data": [Decimal("1.5"), 2]}, {"label": "Fact", "data": [1, None]}],
        title="Sales",
        stacked=True,
    )
    again = json.loads(json.dumps(bar))
    assert again["type"] == "bar" and again["data"]["labels"] == ["Jan", "Feb"]
    assert again["data"]["datasets"][0]["data"] == [1.5, 2.0]
    assert (
        again["data"]["datasets"][0]["borderColor"] != again["data"]["datasets"][1]["borderColor"]
    )
    assert again["options"]["scales"]["y"]["stacked"] is True
    assert again["options"]["plugins"]["title"]["text"] == "Sales"
    pie = chart_config("pie", ["a", "b", "c"], [{"label": "n", "data": [1, 2, 3]}])
    assert (
        len(pie["data"]["datasets"][0]["backgroundColor"]) == 3 and "scales" not in pie["options"]
    )
    with pytest.raises(ValueError, match="unknown chart kind"):
        chart_config("radar", [], [])
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        chart_config("line", ["a", "b", "c"], [{"label": "n", "data": [1, 2]}])
    with pytest.raises(TypeError):
        chart_config("line", ["a"], [{"label": "n", "data": ["1"]}])


def test_ui_kit_charts_carry_their_config(admin):
    tags = parse(admin.get("/ui-kit").get_data(as_text=True))
    configs = [json.loads(a["data-chart"]) for t, a in tags.tags if "data-chart" in a]
    assert [c["type"] for c in configs] == ["bar", "line", "pie"]
    assert all(c["data"]["datasets"] for c in configs)


def test_widget_macros_carry_json_safely_in_attributes(vitrylo_app):
    from flask import render_template_string

    tasks = [gantt_task(1, 'O\'Brien & <b>Sons</b> "quoted"', date(2025, 5, 1), date(2025, 5, 2))]
    config = chart_config("pie", ["it's <x>"], [{"label": 'a"b', "data": [1]}])
    with vitrylo_app.test_request_context("/"):
        html = render_template_string(
            '{% from "core/ui/gantt.html" import gantt %}'
            '{% from "core/ui/chart.html" import chart %}'
            "{{ gantt(tasks=tasks) }}{{ chart(config, label) }}",
            tasks=tasks,
            config=config,
            label="<script>",
        )
    assert "<b>" not in html and "<script>" not in html
    tags = parse(html)
    attrs = {k: v for _t, a in tags.tags for k, v in a.items() if k in ("data-tasks", "data-chart")}
    assert json.loads(attrs["data-tasks"]) == tasks
    assert json.loads(attrs["data-chart"]) == config
