"""The list view and the form view in a real browser (issue 4): page, sort, export, and an
edit that meets someone else's change."""

from __future__ import annotations

import re

from tests.browser.conftest import sign_in


def row_names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("table tbody tr td:nth-child(2) a").all_inner_texts()


def test_page_through_sort_and_export_the_list(page):
    sign_in(page)
    page.goto("/crm/counterparties?q=Сторінка")
    first = row_names(page)
    assert first[0] == "ТОВ «Сторінка 00»" and len(first) == 25
    page.locator("a.list-page-next").first.click()
    page.wait_for_function("() => !document.body.innerText.includes('Сторінка 00»')")
    second = row_names(page)
    assert second[0] == "ТОВ «Сторінка 25»" and not set(first) & set(second)
    page.locator("a.list-sort").first.click()  # sorted by name already: now descending
    page.wait_for_function("() => document.body.innerText.includes('Сторінка 59»')")
    assert row_names(page)[0] == "ТОВ «Сторінка 59»"
    page.get_by_role("button", name=re.compile("Експорт|Export")).click()
    with page.expect_download() as download:
        page.locator("a.list-export", has_text="CSV").first.click()
    with open(download.value.path(), encoding="utf-8-sig") as exported:
        content = exported.read()
    assert "ТОВ «Сторінка 59»" in content and "ТОВ «Сторінка 00»" in content
    assert page.console_errors == []


def test_an_edit_that_meets_another_change_keeps_what_was_typed(page, browser, live_server):
    sign_in(page)
    page.goto("/crm/counterparties?q=Сторінка 07")
    page.get_by_role("link", name="ТОВ «Сторінка 07»").click()
    card_url = page.url
    page.goto(card_url.rstrip("/") + "/edit")
    page.fill("input[name=name]", "ТОВ «Моя назва»")

    other = browser.new_context(base_url=live_server).new_page()
    sign_in(other)
    other.goto(card_url.rstrip("/") + "/edit")
    other.fill("input[name=name]", "ТОВ «Чужа назва»")
    other.locator("form:has(input[name=name]) button[type=submit]").click()
    other.wait_for_load_state()

    page.locator("form:has(input[name=name]) button[type=submit]").click()
    page.wait_for_selector(".form-conflict")
    assert "ТОВ «Чужа назва»" in page.locator(".form-conflict").inner_text()
    assert page.input_value("input[name=name]") == "ТОВ «Моя назва»"  # nothing lost
    page.locator("form:has(input[name=name]) button[type=submit]").click()  # save knowingly
    page.wait_for_load_state()
    assert "ТОВ «Моя назва»" in page.content()
    other.context.close()
