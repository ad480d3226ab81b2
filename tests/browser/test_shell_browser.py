"""The shell in a real browser (issue 4): sign in, menu, search, language switch."""

from __future__ import annotations

from tests.browser.conftest import sign_in


def test_sign_in_open_the_menu_and_search(page):
    sign_in(page)
    assert page.locator("h1").first.inner_text().startswith("Вітаємо")
    page.get_by_role("button", name="Клієнти").click() if page.get_by_role(
        "button", name="Клієнти"
    ).count() else page.get_by_text("Клієнти").first.click()
    page.get_by_role("link", name="Контрагенти").first.click()
    page.wait_for_url("**/crm/counterparties**")
    assert "Ромашка" in page.content()
    page.fill("input[name=q][type=search]", "ромаш")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=**")
    assert page.get_by_role("link", name="ТОВ «Ромашка»").count() == 1
    assert page.console_errors == []


def test_switch_language(page):
    sign_in(page)
    page.get_by_role("button", name="boss".title()).click() if page.get_by_role(
        "button", name="Boss"
    ).count() else page.get_by_text("Boss").first.click()
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").first.inner_text().startswith("Welcome")
    assert page.console_errors == []
