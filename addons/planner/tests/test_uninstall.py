"""Uninstalling an addon removes its rows from the reminders, the calendar, the iCalendar
feed and the badge at once, without errors: the facade no longer calls its hooks. And the
planner keeps the addon contract."""

from __future__ import annotations

import re

from addons.planner.tests.conftest import TEST_ADDONS, sign_in
from core.testing.contract import AddonContract
from core.testing.plugin import app_for, csrf_token

PERMS = ["planner.reminders.read", "planner.calendar.read", "plannertest.task.read"]
RANGE = {"start": "2025-05-05T00:00:00Z", "end": "2025-05-12T00:00:00Z"}


class TestPlannerContract(AddonContract):
    addon = "planner"


def test_uninstalled_addon_rows_are_gone(make_kernel):
    kernel = make_kernel(["planner", "plannertest"], addon_paths=[TEST_ADDONS])
    app = app_for(kernel)
    with kernel.db.session_factory() as session:
        client = sign_in(app, session, PERMS)

    def post(client, url, **data):  # type: ignore[no-untyped-def]
        return client.post(url, data={"csrf_token": csrf_token(app, client), **data})

    page = client.get("/planner/reminders").get_data(as_text=True)
    assert "Write the report" in page
    assert 'planner-badge-count">3<' in client.get("/planner/badge").get_data(as_text=True)
    events = client.get("/planner/calendar/events", query_string=RANGE).get_json()
    assert len(events) == 2
    answer = post(client, "/planner/ical/new").get_data(as_text=True)
    feed = re.search(r'value="http://localhost(/planner/ical/[^"]+\.ics)"', answer).group(1)
    assert b"plannertest.meeting" in app.test_client().get(feed).data

    kernel.manager.uninstall(["plannertest"])
    kernel.refresh()

    page = client.get("/planner/reminders")
    assert page.status_code == 200
    assert "Write the report" not in page.get_data(as_text=True)
    assert client.get("/").status_code == 200
    badge = client.get("/planner/badge")
    assert badge.status_code == 200 and "planner-badge-count" not in badge.get_data(as_text=True)
    events = client.get("/planner/calendar/events", query_string=RANGE)
    assert events.status_code == 200 and events.get_json() == []
    for url, data in [
        ("/planner/reminders/action", {"key": "plannertest.task.1", "action": "done"}),
        ("/planner/calendar/move", {"id": "plannertest.meeting.1", "start": "2025-05-06"}),
    ]:
        assert post(client, url, **data).status_code == 404  # its keys are unknown now
    body = app.test_client().get(feed)
    assert body.status_code == 200 and b"plannertest" not in body.data
