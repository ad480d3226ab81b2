"""The calendar page in a real browser (Chromium through Playwright; skipped without it):
the kit's FullCalendar widget loads the planner's feed, the kind filter is built from the
events and hides a kind, the employee filter asks for another user's events, and a drag
is saved by the owning addon. ``browser`` is the test plugin's shared Chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from addons.planner.tests.conftest import TEST_ADDONS
from core.testing.plugin import TEST_PASSWORD, app_for, create_user, kernel_with

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A live server with planner and the test addon; yields (base URL, other user's id)."""
    with kernel_with(
        tmp_path_factory.mktemp("planner-browser"),
        ["planner", "plannertest"],
        addon_paths=[TEST_ADDONS],
    ) as kernel:
        with kernel.db.session_factory() as session:
            create_user(session, "chief", superuser=True).language = "en"
            session.commit()
            other = create_user(session, "worker", ["plannertest.task.read"]).id
        app = app_for(kernel)
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_port}", other
        httpd.shutdown()


def test_calendar_filters_and_drag(browser, server):  # type: ignore[no-untyped-def]
    import plannertest

    plannertest.reset()
    base, other = server
    context = browser.new_context(base_url=base, timezone_id="UTC")
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto("/login")
    page.fill("input[name=login]", "chief")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/")
    badge = page.locator("#planner-badge .planner-badge-count")  # loaded by htmx
    assert badge.inner_text() == "3"

    page.goto("/planner/calendar")
    page.wait_for_selector(".fc-event")
    page.wait_for_selector("input[name=kinds][value='plannertest.meeting']")
    labels = page.locator("[data-planner-kinds] label").all_inner_texts()
    assert sorted(labels) == ["Holidays", "Meetings"]
    meeting = page.locator(".fc-event", has_text="Meeting of")
    assert meeting.count() == 1

    page.locator("input[name=kinds][value='plannertest.meeting']").uncheck()
    page.wait_for_function("document.querySelectorAll('.fc-event').length === 1")
    assert page.locator(".fc-event", has_text="Meeting of").count() == 0
    page.locator("input[name=kinds][value='plannertest.meeting']").check()
    page.wait_for_function("document.querySelectorAll('.fc-event').length === 2")

    with page.expect_response(lambda r: f"owner={other}" in r.url) as answer:
        page.select_option("select[name=owner]", str(other))
    assert answer.value.status == 200
    page.wait_for_selector(f".fc-event:has-text('Meeting of {other}')")

    with page.expect_response("**/planner/calendar/move") as moved:
        page.locator(".fc-timegrid-event", has_text="Meeting of").drag_to(
            page.locator(".fc-timegrid-slot-lane[data-time='10:00:00']")
        )
    assert moved.value.status == 200
    [(_user, event_id, _start, _end, all_day)] = plannertest.STATE["moves"]
    assert event_id == f"plannertest.meeting.{other}" and all_day is False
    assert not errors
    context.close()
