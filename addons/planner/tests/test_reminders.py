"""The reminders table (RM-1): what the enabled addons contribute (the test addon
``plannertest``), grouped by kind; snooze and done routed to the addon that gave the row;
the day picker; the shell's badge and the dashboard widget."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

READ = "planner.reminders.read"
TASKS = "plannertest.task.read"
EDIT = "plannertest.task.update"


@pytest.fixture
def reader(plogin, feeder):
    return plogin([READ, TASKS])


@pytest.fixture
def editor(plogin, feeder):
    return plogin([READ, TASKS, EDIT])


def text(response) -> str:
    return response.get_data(as_text=True)


def headings(html: str) -> list[str]:
    return re.findall(r'<h2 class="h6 mb-0">([^<]+)</h2>', html)


def test_rows_grouped_by_kind_and_sorted(reader, today):
    """RM-1: the test addon's rows, under their kind labels (sorted), due then title."""
    day = today
    html = text(reader.get("/planner/reminders"))
    assert headings(html) == ["Calls", "Tasks"]
    tasks = html[html.index(">Tasks<") :]
    assert tasks.index("Call back") < tasks.index("Write the report")  # overdue first
    assert "overdue since" in tasks
    assert 'href="/plannertest/tasks/1">Write the report</a>' in html
    assert "For &lt;b&gt;Olena&lt;/b&gt;" in html  # the detail line, escaped
    # Buttons only where the row allows: snooze on the report, done on both tasks.
    assert html.count('name="action" value="snooze"') == 1
    assert html.count('name="action" value="done"') == 2
    assert f'value="{(day + timedelta(days=1)).isoformat()}"' in html  # snooze: tomorrow
    assert html.count('name="csrf_token"') >= 3


def test_nothing_of_an_addon_the_user_may_not_read(plogin):
    """The test addon checks its own right: without it, its rows are not shown."""
    html = text(plogin([READ]).get("/planner/reminders"))
    assert headings(html) == []
    assert "Nothing to be reminded of on this day." in html
    assert "Write the report" not in html


def test_page_needs_the_right(papp, plogin):
    assert plogin([TASKS]).get("/planner/reminders").status_code == 403
    anonymous = papp.test_client().get("/planner/reminders")
    assert anonymous.status_code == 302 and "/login" in anonymous.location


def test_another_day(reader):
    html = text(reader.get("/planner/reminders?day=2024-02-29"))
    assert "Thursday, February 29, 2024" in html
    assert 'href="/planner/reminders?day=2024-02-28"' in html
    assert 'href="/planner/reminders?day=2024-03-01"' in html
    assert "Feb 28, 2024" in html  # the overdue task's due day
    assert ">Today</a>" in html


@pytest.mark.parametrize("bad", ["garbage", "2024-02-30", "0001-01-01", "9999-12-31", "x" * 500])
def test_a_bad_day_shows_today_with_a_message(reader, today, bad):
    response = reader.get("/planner/reminders", query_string={"day": bad})
    assert response.status_code == 200
    html = text(response)
    assert "is not a date; showing today." in html
    assert f'value="{today.isoformat()}"' in html


def test_snooze_and_done_are_saved_by_the_addon(editor, post, today, feeder):
    day = today
    until = day + timedelta(days=3)
    answer = post(
        editor,
        "/planner/reminders/action",
        key=feeder.REPORT,
        action="snooze",
        until=until.isoformat(),
        day=day.isoformat(),
    )
    assert answer.status_code == 302
    assert answer.location.endswith(f"/planner/reminders?day={day.isoformat()}")
    assert feeder.STATE["actions"] == [(editor.user_id, feeder.REPORT, "snooze", until)]
    html = text(editor.get(answer.location))
    assert "Snoozed to" in html and "Write the report" not in html

    answer = post(editor, "/planner/reminders/action", key=feeder.CALLBACK, action="done")
    assert answer.status_code == 302
    html = text(editor.get("/planner/reminders"))
    assert "Marked as done." in html and "Call back" not in html
    assert "Alpha call" in html  # the other rows stay


def test_action_refused_or_unknown(reader, editor, post, feeder, today):
    url = "/planner/reminders/action"
    # The addon refuses: no update right, or an action it does not offer on that row.
    assert post(reader, url, key=feeder.REPORT, action="done").status_code == 403
    until = (today + timedelta(days=2)).isoformat()
    refused = post(editor, url, key=feeder.CALLBACK, action="snooze", until=until)
    assert refused.status_code == 403
    # Unknown keys: the addon's own, another addon's, an addon that does not exist.
    for key in ("plannertest.task.99", "crm_base.birthday.1", "nosuch.x", "nodot"):
        assert post(editor, url, key=key, action="done").status_code == 404, key
    assert feeder.STATE["actions"] == []


@pytest.mark.parametrize(
    "data",
    [
        {"action": "snooze"},  # no day to snooze to
        {"action": "snooze", "until": "not a date"},
        {"action": "snooze", "until": "2000-01-01"},  # in the past
        {"action": "explode"},
        {"action": "done", "key": ""},
        {"action": "done", "key": "k" * 300},
    ],
)
def test_bad_action_forms_change_nothing(editor, post, feeder, data):
    answer = post(editor, "/planner/reminders/action", **{"key": feeder.REPORT, **data})
    assert answer.status_code == 302
    html = text(editor.get(answer.location))
    assert "could not be changed" in html or "Choose a day after today" in html
    assert feeder.STATE["actions"] == []


def test_action_needs_csrf(editor, feeder):
    plain = editor.post("/planner/reminders/action", data={"key": feeder.REPORT, "action": "done"})
    assert plain.status_code == 400
    assert feeder.STATE["actions"] == []


def test_action_needs_the_planner_right(plogin, post, feeder):
    client = plogin([TASKS, EDIT])
    answer = post(client, "/planner/reminders/action", key=feeder.REPORT, action="done")
    assert answer.status_code == 403
    assert feeder.STATE["actions"] == []


def test_badge_counts_todays_rows(reader, plogin):
    """The shell's badge: on any page an icon whose count htmx loads after the page;
    the count is today's rows (the overdue one included)."""
    html = text(reader.get("/account"))
    assert re.search(r'id="planner-badge"[^>]*hx-get="/planner/badge" hx-trigger="load"', html)
    assert "planner-badge-count" not in html  # not computed for the page itself
    answer = reader.get("/planner/badge")
    assert answer.status_code == 200
    assert 'planner-badge-count">3</span>' in text(answer)
    assert "private" in answer.headers["Cache-Control"] and answer.headers["Vary"] == "Cookie"
    # The reminders page of today knows the count already: shown at once, nothing to load.
    html = text(reader.get("/planner/reminders"))
    assert 'planner-badge-count">3</span>' in html and 'hx-get="/planner/badge"' not in html
    # Without the addon's right: no count; without the planner's: no badge at all.
    empty = plogin([READ])
    assert "planner-badge-count" not in text(empty.get("/planner/badge"))
    outsider = plogin([TASKS])
    assert 'id="planner-badge"' not in text(outsider.get("/"))
    assert outsider.get("/planner/badge").status_code == 403


def test_hooks_asked_once_per_request_and_never_for_other_pages(papp, reader, monkeypatch):
    """The reminders page and its badge share one call; other pages make none (their
    badge is loaded afterwards)."""
    calls = []
    hooks = papp.extensions["vitrylo"].hooks
    original = hooks.reminders

    def counted(user, day):  # type: ignore[no-untyped-def]
        calls.append(day)
        return original(user, day)

    monkeypatch.setattr(hooks, "reminders", counted)
    assert reader.get("/planner/reminders").status_code == 200
    assert len(calls) == 1
    reader.get("/planner/calendar")
    reader.get("/account")
    assert len(calls) == 1
    reader.get("/planner/reminders?day=2024-01-01")  # another day: the badge loads later
    assert len(calls) == 2
    reader.get("/planner/badge")
    assert len(calls) == 3


def test_badge_survives_a_broken_addon(papp, reader, monkeypatch):
    def broken(user, day):  # type: ignore[no-untyped-def]
        raise RuntimeError("addon bug")

    monkeypatch.setattr(papp.extensions["vitrylo"].hooks, "reminders", broken)
    answer = reader.get("/planner/badge")
    assert answer.status_code == 200 and "bi-alarm" in text(answer)
    assert "planner-badge-count" not in text(answer)
    assert 'id="planner-badge"' in text(reader.get("/account"))


def test_dashboard_widget(reader, plogin):
    html = text(reader.get("/"))
    widget = html[html.index('id="widget-planner-reminders"') :]
    assert "3 reminders today" in widget
    assert widget.index("Call back") < widget.index("Alpha call") < widget.index("Write the")
    assert 'href="/planner/reminders">All reminders</a>' in widget
    html = text(plogin([READ]).get("/"))
    assert "Nothing to be reminded of today." in html
    assert 'id="widget-planner-reminders"' not in text(plogin([TASKS]).get("/"))


def test_long_groups_show_their_first_rows(reader, monkeypatch):
    """Thousands of overdue rows: each group shows its first rows (the longest overdue
    first) and how many more; "Show all" lists the whole group."""
    import addons.planner.reminders as page

    monkeypatch.setattr(page, "GROUP_ROWS", 1)
    html = text(reader.get("/planner/reminders"))
    assert "Call back" in html and "Write the report" not in html
    assert "1 more row is not shown." in html
    assert html.count("planner-more") == 1  # "Calls" has one row only
    assert "all=plannertest.task" in html
    html = text(reader.get("/planner/reminders?all=plannertest.task"))
    assert "Call back" in html and "Write the report" in html and "planner-more" not in html
