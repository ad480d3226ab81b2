"""Every hook, end to end through the facade, with the test-only addon ``hooktest``.

One ``test_hook_<name>`` per hook spec (``tests/test_hook_docs.py`` checks that none is
missing). Each proves that hooktest's contribution arrives stamped with ``addon="hooktest"``
and that it is gone once hooktest is uninstalled (an uninstalled addon's hooks are not called).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select

from core.app import create_app
from core.cli import Context, main
from core.facade import HookError
from core.hooktypes import (
    CalendarEvent,
    CardTab,
    JinjaExtras,
    NotificationEventType,
    PermissionDef,
    Reminder,
    ScheduledJob,
    SearchResult,
    SettingDef,
    ShellIndicator,
    TimelineEntry,
)
from core.kernel import Kernel
from core.models import Permission
from core.security import LoginUser
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token
from core.worker import Worker

ADDON = "hooktest"
TEST_ADDONS = Path(__file__).resolve().parent / "addons"
COUNTERPARTY = "crm_base.counterparty"


@pytest.fixture
def kernel(make_kernel) -> Kernel:
    """A kernel on a new database with crm_base and hooktest installed."""
    return make_kernel(["crm_base", ADDON])


@pytest.fixture
def user(kernel: Kernel) -> Iterator[LoginUser]:
    """A signed-in user, inside a request: per-user hooks are called while serving a page."""
    with kernel.db.session_factory() as session:
        row = create_user(session, "reader", ["crm_base.counterparty.read", "hooktest.thing.read"])
    with web_app(kernel).test_request_context("/"):
        signed_in = LoginUser(row)
        login_user(signed_in)
        yield signed_in


def uninstall(kernel: Kernel) -> None:
    kernel.manager.uninstall([ADDON])
    kernel.refresh()


def ours(items: Sequence) -> list:
    return [item for item in items if item.addon == ADDON]


def web_app(kernel: Kernel) -> Flask:
    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    return app


def sign_in(
    app: Flask, kernel: Kernel, login: str, permissions: Sequence[str] = (), superuser=False
) -> FlaskClient:
    """A client signed in through the login form as a new user holding ``permissions``."""
    with kernel.db.session_factory() as session:
        create_user(session, login, permissions, superuser=superuser)
    client = app.test_client()
    response = client.post(
        "/login",
        data={"login": login, "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# -- registration hooks -----------------------------------------------------------------


def test_hook_blueprints(make_kernel):
    kernel = make_kernel(["crm_base"])  # hooktest is found on disk, not installed
    assert [a for a, bp in kernel.hooks.blueprints(all_addons=True) if bp.name == ADDON] == [ADDON]
    assert [bp.name for a, bp in kernel.hooks.blueprints() if a == ADDON] == []
    app = web_app(kernel)
    admin = sign_in(app, kernel, "admin", superuser=True)
    assert admin.get("/hooktest/thing").status_code == 404  # not installed: no such page
    assert app.test_client().get("/hooktest/thing").status_code == 404

    kernel.manager.install([ADDON])  # the running app sees it without a restart
    kernel.refresh()
    assert [bp.name for a, bp in kernel.hooks.blueprints() if a == ADDON] == [ADDON]
    reader = sign_in(app, kernel, "reader", ["hooktest.thing.read"])
    page = reader.get("/hooktest/thing")
    assert page.status_code == 200
    assert "Hook test thing" in page.get_data(as_text=True)
    assert admin.get("/hooktest/thing").status_code == 200
    nobody = sign_in(app, kernel, "nobody", ["crm_base.counterparty.read"])
    assert nobody.get("/hooktest/thing").status_code == 403
    anonymous = app.test_client().get("/hooktest/thing")
    assert anonymous.status_code == 302 and "/login" in anonymous.location

    uninstall(kernel)
    assert reader.get("/hooktest/thing").status_code == 404
    assert admin.get("/hooktest/thing").status_code == 404
    assert [bp.name for a, bp in kernel.hooks.blueprints() if a == ADDON] == []


def test_hook_permissions(make_kernel):
    kernel = make_kernel(["crm_base"])
    with kernel.db.session_factory() as session:
        assert session.scalars(select(Permission).where(Permission.addon == ADDON)).all() == []
    assert ours(kernel.hooks.permissions()) == []

    kernel.manager.install([ADDON])
    kernel.refresh()
    assert ours(kernel.hooks.permissions()) == [
        PermissionDef("hooktest.thing.read", "Read things", addon=ADDON),
        PermissionDef("hooktest.thing.update", "Edit things", addon=ADDON),
    ]
    with kernel.db.session_factory() as session:
        rows = session.scalars(select(Permission).where(Permission.addon == ADDON)).all()
        assert {(r.name, r.label) for r in rows} == {
            ("hooktest.thing.read", "Read things"),
            ("hooktest.thing.update", "Edit things"),
        }

    uninstall(kernel)
    assert ours(kernel.hooks.permissions()) == []
    with kernel.db.session_factory() as session:  # uninstall keeps the data, rights included
        rows = session.scalars(select(Permission).where(Permission.addon == ADDON)).all()
        assert len(rows) == 2


def test_hook_menu_items(kernel):
    items = {i.id: i for i in ours(kernel.hooks.menu_items())}
    assert set(items) == {"hooktest.root", "hooktest.things"}
    assert items["hooktest.things"].parent == "hooktest.root"
    assert items["hooktest.things"].endpoint == "hooktest.thing"
    assert items["hooktest.things"].permission == "hooktest.thing.read"

    app = web_app(kernel)
    reader = sign_in(app, kernel, "reader", ["hooktest.thing.read"])
    nobody = sign_in(app, kernel, "nobody")
    home = reader.get("/").get_data(as_text=True)
    assert "Hook test things" in home and 'href="/hooktest/thing"' in home
    home = nobody.get("/").get_data(as_text=True)
    assert "Hook test things" not in home and "/hooktest/thing" not in home

    uninstall(kernel)
    assert ours(kernel.hooks.menu_items()) == []
    home = reader.get("/").get_data(as_text=True)
    assert "Hook test things" not in home and "/hooktest/thing" not in home


def test_hook_cli_commands(kernel, tmp_path):
    assert [(a, c.name) for a, c in kernel.hooks.cli_commands() if a == ADDON] == [
        (ADDON, "hooktest")
    ]
    instance = tmp_path / "cli-instance"
    instance.mkdir()  # an instance that was set up (``vitrylo init``)
    env = {
        "VITRYLO_DATABASE_URL": kernel.db.url,
        "VITRYLO_ADDONS_PATH": str(TEST_ADDONS),
        "VITRYLO_INSTANCE_PATH": str(instance),
        "VITRYLO_SECRET_KEY": "test-secret-key",
        "VITRYLO_SAFE_MODE": "0",
    }

    def vitrylo(*args: str):  # the ``vitrylo`` console script, as a partner's admin runs it
        context = Context()
        try:
            return CliRunner().invoke(main, list(args), env=env, obj=context)
        finally:
            if context._kernel is not None:
                context._kernel.db.dispose()

    result = vitrylo("hooktest", "hello", "--name", "Olena")
    assert result.exit_code == 0, result.output
    assert result.output == "hooktest says hello to Olena\n"
    assert "hooktest" in vitrylo("--help").output

    uninstall(kernel)
    assert [c.name for a, c in kernel.hooks.cli_commands() if a == ADDON] == []
    result = vitrylo("hooktest", "hello")
    assert result.exit_code != 0
    assert "No such command 'hooktest'" in result.output


def test_hook_jinja_setup(kernel):
    [extras] = ours(kernel.hooks.jinja_setup())
    assert isinstance(extras, JinjaExtras)
    assert set(extras.filters) == {"hooktest_shout"}
    assert dict(extras.globals) == {"hooktest_answer": 42}

    app = web_app(kernel)
    assert app.jinja_env.filters["hooktest_shout"]("thing") == "THING!"
    assert app.jinja_env.globals["hooktest_answer"] == 42
    with app.app_context():
        rendered = app.jinja_env.from_string("{{ 'ok'|hooktest_shout }} {{ hooktest_answer }}")
        assert rendered.render() == "OK! 42"
    page = sign_in(app, kernel, "reader", ["hooktest.thing.read"]).get("/hooktest/thing")
    text = page.get_data(as_text=True)
    assert '<p id="shout">THING!</p>' in text and '<p id="answer">42</p>' in text

    uninstall(kernel)
    assert ours(kernel.hooks.jinja_setup()) == []


def test_hook_scheduled_jobs(kernel):
    [job] = ours(kernel.hooks.scheduled_jobs())
    assert isinstance(job, ScheduledJob)
    assert (job.name, job.every_seconds, job.addon) == ("hooktest.tick", 60, ADDON)

    app = web_app(kernel)
    worker = Worker(app)
    assert "hooktest.tick" in worker.run_due(now=1000.0)
    assert app.extensions["hooktest"]["ticks"] == 1
    assert "hooktest.tick" not in worker.run_due(now=1030.0)  # not due yet
    assert "hooktest.tick" in worker.run_due(now=1061.0)
    assert app.extensions["hooktest"]["ticks"] == 2

    uninstall(kernel)
    assert ours(kernel.hooks.scheduled_jobs()) == []
    assert "hooktest.tick" not in worker.run_due(now=5000.0)
    assert app.extensions["hooktest"]["ticks"] == 2


def test_hook_notification_event_types(kernel):
    assert ours(kernel.hooks.notification_event_types()) == [
        NotificationEventType(
            "hooktest.thing_changed",
            "Thing changed",
            description="A thing was edited.",
            default_channels=("popup", "email"),
            addon=ADDON,
        )
    ]
    uninstall(kernel)
    assert ours(kernel.hooks.notification_event_types()) == []


def test_hook_printable_documents(kernel):
    [doc] = ours(kernel.hooks.printable_documents())
    assert (doc.name, doc.label, doc.subject, doc.permission) == (
        "hooktest.thing_sheet",
        "Thing sheet",
        COUNTERPARTY,
        "hooktest.thing.read",
    )
    assert doc.context(7) == {"record_id": 7, "title": "Thing sheet"}
    app = web_app(kernel)
    with app.app_context():
        html = app.jinja_env.get_template(doc.template).render(**doc.context(7))
    assert html.strip() == "<h1>Thing sheet #7</h1>"

    uninstall(kernel)
    assert ours(kernel.hooks.printable_documents()) == []


def test_hook_settings(kernel):
    assert ours(kernel.hooks.settings()) == [
        SettingDef("hooktest.greeting", "Greeting", default="hello", addon=ADDON),
        SettingDef(
            "hooktest.limit", "Limit", type="int", default=3, help="At most this many.", addon=ADDON
        ),
    ]
    uninstall(kernel)
    assert ours(kernel.hooks.settings()) == []


def test_hook_sms_gateways(kernel):
    (gateway,) = ours(kernel.hooks.sms_gateways())
    assert gateway.name == "hooktest.fake" and gateway.addon == ADDON
    assert gateway.configured({"hooktest.sms_on": "1"}) and not gateway.configured({})
    sender = gateway.factory({})
    sender.send("hello")
    assert sender.sent[-1] == "hello"
    uninstall(kernel)
    assert ours(kernel.hooks.sms_gateways()) == []


def test_hook_merge_records(kernel):
    import hooktest

    with kernel.db.session_factory() as session:
        moved = kernel.hooks.merge_records("hooktest.thing", 7, 3, session)
        assert moved[ADDON] == 1 and hooktest.MERGED[-1] == (7, 3)
        assert kernel.hooks.merge_records("other.subject", 7, 3, session)[ADDON] == 0
        uninstall(kernel)
        assert ADDON not in kernel.hooks.merge_records("hooktest.thing", 7, 3, session)


# -- per-user hooks ---------------------------------------------------------------------


def test_hook_reminders(kernel, user):
    day = date(2024, 5, 6)
    assert ours(kernel.hooks.reminders(user, day)) == [
        Reminder(
            "hooktest.thing",
            "Check the thing",
            due=day,
            url="/hooktest/thing",
            key="hooktest.thing.1",
            can_mark_done=True,
            kind_label="Things",
            detail="Second line",
            addon=ADDON,
        )
    ]
    uninstall(kernel)
    assert ours(kernel.hooks.reminders(user, day)) == []


def test_hook_calendar_events(kernel, user):
    start, end = datetime(2024, 5, 6, 9), datetime(2024, 5, 6, 18)
    meeting = CalendarEvent(
        "hooktest.event.1",
        "Hook test meeting",
        start=datetime(2024, 5, 6, 10),
        end=datetime(2024, 5, 6, 11),
        kind="hooktest.meeting",
        editable=True,
        kind_label="Meetings",
        owner_id=user.id,  # owner_ids defaults to the user's own id
        addon=ADDON,
    )
    assert ours(kernel.hooks.calendar_events(user, start, end)) == [meeting]
    [other] = ours(kernel.hooks.calendar_events(user, start, end, owner_ids=(99,)))
    assert other.owner_id == 99
    assert ours(kernel.hooks.calendar_events(user, start, end, owner_ids=())) == []
    uninstall(kernel)
    assert ours(kernel.hooks.calendar_events(user, start, end)) == []


def _editor(kernel: Kernel) -> LoginUser:
    """A second user, holding hooktest's update right (``user`` holds only read)."""
    with kernel.db.session_factory() as session:
        row = create_user(session, "editor", ["hooktest.thing.read", "hooktest.thing.update"])
        return LoginUser(row)


def test_hook_reminder_action(kernel, user):
    import hooktest

    editor = _editor(kernel)
    day = date(2024, 5, 7)
    key = "hooktest.thing.1"
    assert kernel.hooks.reminder_action(editor, key, "snooze", day) is True
    assert hooktest.ACTIONS[-1] == (editor.id, key, "snooze", day)
    assert kernel.hooks.reminder_action(editor, key, "done") is True
    assert hooktest.ACTIONS[-1] == (editor.id, key, "done", None)
    assert kernel.hooks.reminder_action(user, key, "done") is False  # no update right
    assert kernel.hooks.reminder_action(editor, "hooktest.thing.404", "done") is None
    # Routed by the key's addon only: other addons' keys never reach hooktest.
    asked = len(hooktest.ACTIONS)
    assert kernel.hooks.reminder_action(editor, "crm_base.thing.1", "done") is None
    assert kernel.hooks.reminder_action(editor, "nosuchaddon.x", "done") is None
    assert kernel.hooks.reminder_action(editor, "no-dot", "done") is None
    assert len(hooktest.ACTIONS) == asked
    with pytest.raises(HookError, match="addon 'hooktest': hook 'reminder_action'"):
        kernel.hooks.reminder_action(editor, "hooktest.bad", "done")

    uninstall(kernel)  # an uninstalled addon is not asked: the key is unknown
    assert kernel.hooks.reminder_action(editor, key, "done") is None
    assert len(hooktest.ACTIONS) == asked


def test_hook_move_calendar_event(kernel, user):
    import hooktest

    editor = _editor(kernel)
    start, end = datetime(2024, 5, 8, 9, tzinfo=UTC), datetime(2024, 5, 8, 10, tzinfo=UTC)
    event_id = "hooktest.event.1"
    assert kernel.hooks.move_calendar_event(editor, event_id, start, end, False) is True
    assert hooktest.MOVES[-1] == (editor.id, event_id, start, end, False)
    assert kernel.hooks.move_calendar_event(editor, event_id, start, None, True) is True
    assert hooktest.MOVES[-1] == (editor.id, event_id, start, None, True)
    assert kernel.hooks.move_calendar_event(user, event_id, start, end, False) is False
    assert kernel.hooks.move_calendar_event(editor, "hooktest.event.2", start, end, False) is None
    assert kernel.hooks.move_calendar_event(editor, "crm_base.x.1", start, end, False) is None

    moved = len(hooktest.MOVES)
    uninstall(kernel)
    assert kernel.hooks.move_calendar_event(editor, event_id, start, end, False) is None
    assert len(hooktest.MOVES) == moved


def test_hook_timeline_entries(kernel, user):
    assert ours(kernel.hooks.timeline_entries(COUNTERPARTY, 5, user)) == [
        TimelineEntry(
            datetime(2024, 1, 2, 3, 4, 5), "hooktest.note", "Hook test note on 5", addon=ADDON
        )
    ]
    assert ours(kernel.hooks.timeline_entries("crm_base.other", 5, user)) == []
    uninstall(kernel)
    assert ours(kernel.hooks.timeline_entries(COUNTERPARTY, 5, user)) == []


def test_hook_card_tabs(kernel, user):
    assert ours(kernel.hooks.card_tabs(COUNTERPARTY, 5, user)) == [
        CardTab(
            "hooktest.things",
            "Things",
            "/hooktest/thing?counterparty=5",
            order=50,
            count=3,
            addon=ADDON,
        )
    ]
    assert ours(kernel.hooks.card_tabs("crm_base.other", 5, user)) == []
    uninstall(kernel)
    assert ours(kernel.hooks.card_tabs(COUNTERPARTY, 5, user)) == []


def test_hook_global_search(kernel, user):
    assert ours(kernel.hooks.global_search(user, "thing", limit=10)) == [
        SearchResult("hooktest.thing", "alpha thing", "/hooktest/thing?q=alpha+thing", addon=ADDON),
        SearchResult("hooktest.thing", "beta thing", "/hooktest/thing?q=beta+thing", addon=ADDON),
    ]
    assert [h.title for h in ours(kernel.hooks.global_search(user, "THING", limit=1))] == [
        "alpha thing"
    ]
    assert ours(kernel.hooks.global_search(user, "nothing like it", limit=10)) == []
    uninstall(kernel)
    assert ours(kernel.hooks.global_search(user, "thing", limit=10)) == []


def test_hook_dashboard_widgets(kernel, user):
    [widget] = ours(kernel.hooks.dashboard_widgets(user))
    assert (widget.id, widget.title, widget.order) == ("hooktest.hello", "Hook test", 50)
    assert widget.render() == "<p>Hook test widget</p>"
    uninstall(kernel)
    assert ours(kernel.hooks.dashboard_widgets(user)) == []


def test_hook_shell_indicators(kernel, user):
    assert ours(kernel.hooks.shell_indicators(user)) == [  # sorted by order, then label
        ShellIndicator(
            "hooktest.alerts",
            "Alerts",
            "exclamation-triangle",
            "/hooktest/thing?part=alerts",
            count_url="/hooktest/thing?part=alerts-count",
            menu_url="/hooktest/thing?part=alerts-menu",
            every_seconds=30,
            order=900,
            dom_id="ht-alerts",
            addon=ADDON,
        ),
        ShellIndicator(
            "hooktest.things",
            "Things",
            "box",
            "/hooktest/thing",
            count_url="/hooktest/thing?part=count",
            order=900,
            addon=ADDON,
        ),
    ]

    app = web_app(kernel)
    reader = sign_in(app, kernel, "reader2", ["hooktest.thing.read"])
    html = reader.get("/").get_data(as_text=True)
    # A plain icon: its count loaded once after the page, never computed for it.
    assert (
        '<a class="nav-link" href="/hooktest/thing" id="hooktest-things" title="Things"'
        ' hx-get="/hooktest/thing?part=count" hx-trigger="load" hx-swap="innerHTML">'
        '<i class="bi bi-box" aria-hidden="true"></i>'
        '<span class="visually-hidden">Things</span></a>'
    ) in html
    # A dropdown: its count polled, its menu loaded when it opens; ids from dom_id.
    assert (
        'id="ht-alerts-toggle" role="button" data-bs-toggle="dropdown" aria-expanded="false"'
        ' title="Alerts" hx-get="/hooktest/thing?part=alerts-count"'
        ' hx-trigger="load, every 30s" hx-swap="innerHTML">'
    ) in html
    assert (
        '<div class="dropdown-menu dropdown-menu-end" id="ht-alerts-menu"'
        ' hx-get="/hooktest/thing?part=alerts-menu"'
        ' hx-trigger="show.bs.dropdown from:closest li" hx-swap="innerHTML"></div>'
    ) in html
    nobody = sign_in(app, kernel, "nobody", ["crm_base.counterparty.read"])
    assert "hooktest-things" not in nobody.get("/").get_data(as_text=True)
    login = app.test_client().get("/login").get_data(as_text=True)
    assert "hooktest-things" not in login  # signed out: not asked

    uninstall(kernel)
    assert ours(kernel.hooks.shell_indicators(user)) == []
    html = reader.get("/").get_data(as_text=True)
    assert "hooktest-things" not in html and "ht-alerts" not in html
