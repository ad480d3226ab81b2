"""Browser tests: Debian's Chromium driven by Playwright against a live server.

The server runs in a thread on a fresh database with crm_base and demo data; ``browser``
comes from the Vitrylo test plugin (one Chromium for the whole run). Without Chromium the
tests skip and say how to get it. A failing test leaves a screenshot in
``test-artifacts/``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from addons.crm_base.models import Counterparty
from core.app import create_app
from core.config import Settings
from core.kernel import Kernel
from core.testing.databases import drop_database, fresh_database_url
from core.testing.plugin import TEST_PASSWORD, create_user

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP server over a fresh database; yields its base URL."""
    tmp = tmp_path_factory.mktemp("live")
    url = fresh_database_url(tmp)
    settings = Settings.from_env(
        env={},
        instance_path=str(tmp / "instance"),
        database_url=url,
        secret_key="browser-test-secret",
    )
    kernel = Kernel(settings)
    kernel.manager.init_core()
    kernel.manager.install(["crm_base"], demo=True)
    with kernel.db.transaction() as session:
        session.add_all(Counterparty(name=f"ТОВ «Сторінка {n:02d}»") for n in range(60))
    with kernel.db.session_factory() as session:
        create_user(session, "boss", superuser=True)
    app = create_app(settings, kernel=kernel)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    kernel.db.dispose()
    drop_database(url)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if page is not None:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{item.name}.png"), full_page=True)


@pytest.fixture
def page(browser, live_server):  # type: ignore[no-untyped-def]
    """A new browser tab (fresh cookies) in English-speaking Chromium."""
    context = browser.new_context(base_url=live_server, locale="uk-UA")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.console_errors = errors
    yield tab
    context.close()


def sign_in(page, login: str = "boss", password: str = TEST_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/")
