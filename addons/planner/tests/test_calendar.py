"""The calendar (PN-1): the page, the JSON feed of the enabled addons' events (the test
addon ``plannertest``), filters by kind and by employee (forged owner: 403), bad ranges
(400) and drag & drop saved by the owning addon (200 / 403 / 404)."""

from __future__ import annotations

import pytest

READ = "planner.calendar.read"
OTHERS = "planner.calendar.others"
TASKS = "plannertest.task.read"
EDIT = "plannertest.task.update"
RANGE = {"start": "2025-05-05T00:00:00+03:00", "end": "2025-05-12T00:00:00+03:00"}
EVENTS = "/planner/calendar/events"
MOVE = "/planner/calendar/move"


@pytest.fixture
def reader(plogin, feeder):
    return plogin([READ, TASKS])


def events(client, **params):  # type: ignore[no-untyped-def]
    response = client.get(EVENTS, query_string={**RANGE, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {e["id"]: e for e in response.get_json()}


def test_page(reader, plogin):
    html = reader.get("/planner/calendar").get_data(as_text=True)
    assert 'data-calendar data-events-url="/planner/calendar/events"' in html
    assert 'data-move-url="/planner/calendar/move"' in html
    assert "/planner/static/planner/calendar.js" in html
    assert "vendor/fullcalendar/index.global.min.js" in html
    assert 'name="owner"' not in html  # the employee filter: managers with the right only
    manager = plogin([READ, OTHERS])
    html = manager.get("/planner/calendar").get_data(as_text=True)
    assert 'name="owner"' in html
    assert f'<option value="{reader.user_id}">' in html
    assert plogin([TASKS]).get("/planner/calendar").status_code == 403


def test_static_script_is_served(reader):
    assert reader.get("/planner/static/planner/calendar.js").status_code == 200


def test_feed_has_the_addons_events(reader):
    """PN-1: the user's own events by default, with what the filters need."""
    found = events(reader)
    me = reader.user_id
    assert set(found) == {f"plannertest.meeting.{me}", f"plannertest.holiday.{me}"}
    meeting = found[f"plannertest.meeting.{me}"]
    assert meeting["start"] == "2025-05-04T22:00:00+00:00"  # an hour after the range start
    assert meeting["end"] == "2025-05-04T23:00:00+00:00"
    assert meeting["allDay"] is False and meeting["editable"] is True
    assert meeting["url"] == f"/plannertest/meetings/{me}"
    props = meeting["extendedProps"]
    assert props["kind"] == "plannertest.meeting" and props["kindLabel"] == "Meetings"
    assert props["ownerId"] == me and props["owner"].startswith("Planner")
    assert props["addon"] == "plannertest"
    holiday = found[f"plannertest.holiday.{me}"]
    assert holiday["allDay"] is True and holiday["start"] == "2025-05-04"
    assert holiday["editable"] is False
    assert holiday["classNames"][0].startswith("event-")  # a colour per kind


def test_kinds_filter(reader):
    me = reader.user_id
    assert set(events(reader, kinds="plannertest.holiday")) == {f"plannertest.holiday.{me}"}
    both = events(reader, kinds="plannertest.holiday,plannertest.meeting")
    assert len(both) == 2
    assert events(reader, kinds="nosuch.kind") == {}


def test_nothing_of_an_addon_the_user_may_not_read(plogin):
    assert events(plogin([READ])) == {}


def test_employee_filter(plogin, feeder):
    employee = plogin([READ, TASKS])
    manager = plogin([READ, TASKS, OTHERS])
    theirs = events(manager, owner=str(employee.user_id))
    assert set(theirs) == {
        f"plannertest.meeting.{employee.user_id}",
        f"plannertest.holiday.{employee.user_id}",
    }
    assert theirs[f"plannertest.meeting.{employee.user_id}"]["extendedProps"]["ownerId"] == (
        employee.user_id
    )
    several = events(manager, owner=f"{employee.user_id},{manager.user_id}")
    assert len(several) == 4
    assert len(events(manager, owner=[str(employee.user_id), str(manager.user_id)])) == 4


def test_forged_owner_is_refused(plogin, feeder):
    employee = plogin([READ, TASKS])
    other = plogin([READ, TASKS])
    for owner in (str(other.user_id), f"{employee.user_id},{other.user_id}"):
        response = employee.get(EVENTS, query_string={**RANGE, "owner": owner})
        assert response.status_code == 403
        assert "error" in response.get_json()
    assert len(events(employee, owner=str(employee.user_id))) == 2  # one's own: fine


@pytest.mark.parametrize("owner", ["abc", "-1", "1.5", ",".join(["1"] * 51), "9" * 12])
def test_bad_owner_is_400(plogin, owner):
    manager = plogin([READ, OTHERS])
    assert manager.get(EVENTS, query_string={**RANGE, "owner": owner}).status_code == 400


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"start": "2025-05-05"},
        {"start": "garbage", "end": "2025-05-12"},
        {"start": "2025-05-12", "end": "2025-05-05"},  # reversed
        {"start": "2020-01-01", "end": "2025-01-01"},  # too long
    ],
)
def test_bad_range_is_400(reader, params):
    response = reader.get(EVENTS, query_string=params)
    assert response.status_code == 400
    assert "error" in response.get_json()


def test_feed_needs_the_right(papp, plogin):
    assert plogin([TASKS]).get(EVENTS, query_string=RANGE).status_code == 403
    assert papp.test_client().get(EVENTS, query_string=RANGE).status_code == 302


def move(client, post, **data):  # type: ignore[no-untyped-def]
    form = {"start": "2025-05-06T10:00:00+03:00", "end": "2025-05-06T11:00:00+03:00", **data}
    return post(client, MOVE, **form)


def test_move_saved_by_the_addon(plogin, post, feeder):
    editor = plogin([READ, TASKS, EDIT])
    event_id = f"plannertest.meeting.{editor.user_id}"
    answer = move(editor, post, id=event_id, all_day="0")
    assert answer.status_code == 200 and answer.get_json() == {"ok": True}
    [(user_id, saved_id, start, end, all_day)] = feeder.STATE["moves"]
    assert (user_id, saved_id, all_day) == (editor.user_id, event_id, False)
    assert start.isoformat() == "2025-05-06T07:00:00+00:00"
    assert end.isoformat() == "2025-05-06T08:00:00+00:00"
    answer = post(editor, MOVE, id=event_id, start="2025-05-07", end="", all_day="1")
    assert answer.status_code == 200
    _user, _id, start, end, all_day = feeder.STATE["moves"][-1]
    assert (start.isoformat(), end, all_day) == ("2025-05-07T00:00:00+00:00", None, True)


def test_move_refused_or_unknown(plogin, post, feeder):
    reader = plogin([READ, TASKS])
    editor = plogin([READ, TASKS, EDIT])
    meeting = f"plannertest.meeting.{editor.user_id}"
    refused = move(reader, post, id=meeting)  # no update right in the addon
    assert refused.status_code == 403 and refused.get_json()["ok"] is False
    fixed = move(editor, post, id=f"plannertest.holiday.{editor.user_id}")
    assert fixed.status_code == 403
    for unknown in ("plannertest.party.1", "crm_base.birthday.person.1.2025", "nosuch.1", ""):
        assert move(editor, post, id=unknown).status_code == 404, unknown
    assert feeder.STATE["moves"] == []


@pytest.mark.parametrize(
    "dates",
    [
        {"start": "garbage"},
        {"start": ""},
        {"start": "2025-05-06T10:00:00", "end": "2025-05-06T09:00:00"},
    ],
)
def test_move_bad_dates_is_400(plogin, post, feeder, dates):
    editor = plogin([READ, TASKS, EDIT])
    answer = post(editor, MOVE, id=f"plannertest.meeting.{editor.user_id}", **dates)
    assert answer.status_code == 400
    assert feeder.STATE["moves"] == []


def test_move_needs_csrf_and_the_right(plogin, post, feeder):
    editor = plogin([READ, TASKS, EDIT])
    data = {"id": f"plannertest.meeting.{editor.user_id}", "start": "2025-05-06"}
    assert editor.post(MOVE, data=data).status_code == 400  # no CSRF token
    assert post(plogin([TASKS, EDIT]), MOVE, **data).status_code == 403
    assert feeder.STATE["moves"] == []
