"""Every widget of /ui-kit in a real browser under the real CSP (issue 4): kanban drag and
drop (saved, refused and sent back, lazy column), calendar, Gantt, charts, job progress."""

from __future__ import annotations

import core.views.demo_widgets as demo
from tests.browser.conftest import sign_in

EXPECTED_CSP_REPORTS = {
    "font-src data",  # FullCalendar's data: icon font; calendar.css uses Bootstrap Icons
    "style-src-attr inline",  # frappe-gantt's hatch pattern for "ignored dates" (unused)
}


def test_every_widget_works_in_the_browser(page, monkeypatch):
    monkeypatch.setattr(demo, "DEMO_STEP_SECONDS", 0.05)
    page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    page.set_viewport_size({"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page)
    page.goto("/ui-kit")
    page.wait_for_selector(".fc-event")
    page.wait_for_selector(".gantt .bar-wrapper")

    def ids(column: str) -> list[str]:
        return page.evaluate(
            "c => Array.from(document.querySelectorAll("
            "`[data-kanban-cards][data-column=${c}] .kanban-card`))"
            ".map(e => e.dataset.cardId)",
            column,
        )

    with page.expect_response("**/ui-kit/kanban/move") as moved:
        page.locator('[data-card-id="1"]').drag_to(page.locator('[data-card-id="10001"]'))
    assert moved.value.status == 200
    assert ids("work")[:2] == ["1", "10001"] and ids("new")[0] == "2"
    with page.expect_response("**/ui-kit/kanban/move") as refused:
        page.locator('[data-card-id="5"]').drag_to(page.locator('[data-card-id="10007"]'))
    assert refused.value.status == 409
    page.wait_for_selector("[data-kanban-message]:not(.d-none)")
    assert "5" in ids("new") and "5" not in ids("won")  # went back
    page.locator("[data-kanban-cards][data-column=new] [data-kanban-more]").click()
    page.locator("[data-kanban-cards][data-column=new] .kanban-card").nth(38).wait_for()
    assert len(set(ids("new"))) == len(ids("new")) == 39

    holiday = page.locator(".fc-event", has_text="(")  # the fixed one
    day = "e => e.closest('.fc-daygrid-day').dataset.date"
    before = holiday.evaluate(day)
    with page.expect_response("**/ui-kit/calendar/move") as fixed:
        holiday.drag_to(page.locator(f".fc-daygrid-day:not([data-date='{before}'])").nth(3))
    assert fixed.value.status == 403
    page.wait_for_selector("[data-calendar-message]:not(.d-none)")
    assert holiday.evaluate(day) == before
    page.locator(".fc-timeGridWeek-button").click()
    page.wait_for_selector(".fc-timegrid-slot")

    assert page.locator(".gantt .bar-wrapper").count() == 5
    assert page.evaluate(
        "Array.from(document.querySelectorAll('[data-chart]')).every(b => b.chart)"
    )

    page.click("[data-demo-job-start]")
    page.wait_for_selector('.job-progress[data-job-state="done"]', timeout=20_000)
    assert page.locator(".job-progress .progress-bar.progress-pct-100").count() == 1

    assert not errors
    assert set(page.evaluate("window.__csp")) <= EXPECTED_CSP_REPORTS
