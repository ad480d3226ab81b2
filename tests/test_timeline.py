"""The timeline widget (core.ui.timeline): crm_base's entries for a counterparty (created,
changed, file attached) newest first, grouped by day, and other addons' entries merged in
through the ``timeline_entries`` hook."""

from __future__ import annotations

import io
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask_login import login_user
from sqlalchemy import select, update

import addons.crm_base.card  # noqa: F401 - its routes are on crm_base's blueprint
from addons.crm_base.models import SUBJECT, Counterparty
from core.app import create_app
from core.hooktypes import TimelineEntry
from core.models import User
from core.security import LoginUser
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token
from core.ui.timeline import group_by_day, icon_for, register_icon

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
CREATE = "crm_base.counterparty.create"


def kinds(page: str) -> list[str]:
    """The kinds of the timeline's entries, in the order shown."""
    return re.findall(r'class="timeline-item[^"]*" data-kind="([^"]+)"', page)


def timeline_html(page: str) -> str:
    start = page.index('<div class="timeline">')
    return page[start : page.index('id="pane-attachments"', start)]


def post(app: Flask, client, url: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(url, data={**data, "csrf_token": csrf_token(app, client)}, **kwargs)


def create_edit_attach(app: Flask, client) -> int:  # type: ignore[no-untyped-def]
    """Create a counterparty, rename it, attach a file, all through the pages."""
    created = post(app, client, "/crm/counterparties", {"name": "ТОВ «Ромашка»"})
    record_id = int(created.location.rstrip("/").rsplit("/", 1)[-1])
    edit = f"/crm/counterparties/{record_id}/edit"
    page = client.get(edit).get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)
    manager = re.search(r'<option selected value="(\d+)"', page)
    assert version and manager
    saved = post(
        app,
        client,
        edit,
        {"name": "ТОВ «Волошка»", "manager_id": manager.group(1), "version": version.group(1)},
    )
    assert saved.status_code == 303
    attached = post(
        app,
        client,
        f"/attachments/for/{SUBJECT}/{record_id}",
        {"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "Договір.pdf")},
        content_type="multipart/form-data",
    )
    assert attached.status_code == 303
    return record_id


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    client = login([READ, UPDATE, CREATE], login_name="olena")
    db_session.execute(update(User).where(User.login == "olena").values(language="en"))
    db_session.commit()
    return client


def test_crm_base_tells_creation_change_and_file_newest_first(vitrylo_app, olena):
    record_id = create_edit_attach(vitrylo_app, olena)
    page = olena.get(f"/crm/counterparties/{record_id}/edit?tab=timeline").get_data(as_text=True)
    assert 'id="pane-timeline" role="tabpanel"' in page
    assert re.search(r'class="tab-pane fade show active" id="pane-timeline"', page)
    shown = timeline_html(page)
    assert kinds(shown) == ["crm_base.attachment", "crm_base.changed", "crm_base.created"]
    assert shown.count('class="timeline-day') == 1 and "Today" in shown
    assert "Olena attached Договір.pdf" in shown
    assert "Olena changed Name" in shown
    assert "Name: ТОВ «Ромашка» → ТОВ «Волошка»" in shown
    assert "Olena created the counterparty" in shown
    assert "bi-paperclip" in shown and "bi-pencil-square" in shown and "bi-plus-circle" in shown
    assert re.search(r'href="/attachments/\d+">Olena attached', shown)


def test_the_hook_gives_nothing_outside_the_users_rights_or_scope(vitrylo_app, olena, db_session):
    record_id = create_edit_attach(vitrylo_app, olena)
    hooks = vitrylo_app.extensions["vitrylo"].hooks
    owner = db_session.scalar(select(User).where(User.login == "olena"))
    stranger = create_user(db_session, "stranger", [READ])  # may read, but only his own
    nobody = create_user(db_session, "nobody")  # no right at all
    assert owner is not None
    for user, expected in (
        (owner, ["crm_base.attachment", "crm_base.changed", "crm_base.created"]),
        (stranger, []),
        (nobody, []),
    ):
        with vitrylo_app.test_request_context("/"):
            login_user(LoginUser(user))
            entries = hooks.timeline_entries(SUBJECT, record_id, user)
            assert [e.kind for e in entries] == expected
            assert hooks.timeline_entries("crm_base.other", record_id, user) == []


def test_entries_are_grouped_by_local_day_newest_first(vitrylo_app):
    now = datetime.now(UTC).replace(hour=12, minute=0)  # midday: no flakiness at midnight
    entries = [
        TimelineEntry(now - timedelta(days=1, minutes=5), "x.call", "Called"),
        TimelineEntry(now - timedelta(seconds=30), "x.note", "Noted", url="javascript:alert(1)"),
        TimelineEntry(datetime(2020, 3, 1, 9, 30), "x.mystery", "Long ago", body="a\nb"),
        TimelineEntry(now - timedelta(days=1), "x.email", "Mailed", url="/x/1"),
    ]
    register_icon("x.mystery", "question-circle")
    with vitrylo_app.test_request_context("/", headers={"Accept-Language": "en"}):
        days = group_by_day(entries)
        assert [d.label for d in days] == ["Today", "Yesterday", "March 1, 2020"]
        assert [[i.entry.title for i in d.items] for d in days] == [
            ["Noted"],
            ["Mailed", "Called"],
            ["Long ago"],
        ]
        assert [i.icon for i in days[1].items] == ["envelope", "telephone"]
        assert days[0].items[0].url == ""  # javascript: is never a link
        assert days[1].items[0].url == "/x/1"
        assert days[2].items[0].icon == "question-circle"
        assert days[2].items[0].body_lines == ["a", "b"]
        assert days[2].items[0].time == "9:30\u202fAM"
    assert icon_for("sales.unknown") == "dot"


ADDON_TOML = """\
name = "{name}"
label = "Timeline test"
summary = "Contributes timeline entries."
version = "0.1.0"
license = "free"
category = "Testing"
depends = ["crm_base"]
"""

ADDON_INIT = """\
from datetime import UTC, datetime

from core import hookimpl
from core.hooktypes import TimelineEntry


@hookimpl
def timeline_entries(subject, subject_id, user):
    if subject != "crm_base.counterparty":
        return []
    return [
        TimelineEntry(datetime(2024, 1, 2, 10, 0, tzinfo=UTC), "{name}.call",
                      "Call with the director", body="Agreed on a demo"),
        TimelineEntry(datetime(2024, 1, 2, 9, 0, tzinfo=UTC), "{name}.note",
                      "Script link", url="javascript:alert(1)"),
    ]
"""


def write_timeline_addon(root: Path, name: str) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "addon.toml").write_text(ADDON_TOML.format(name=name), encoding="utf-8")
    (folder / "__init__.py").write_text(
        textwrap.dedent(ADDON_INIT).format(name=name), encoding="utf-8"
    )


def test_other_addons_entries_come_through_the_hook(make_kernel, tmp_path):
    name = f"tl_{tmp_path.name[-6:].lower().replace('-', '_')}"
    name = re.sub(r"[^a-z0-9_]", "_", name)
    write_timeline_addon(tmp_path / "extra", name)
    kernel = make_kernel(["crm_base", name], addon_paths=[tmp_path / "extra"])
    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    with kernel.db.session_factory() as session:
        create_user(session, "boss", superuser=True)
        session.execute(update(User).where(User.login == "boss").values(language="en"))
        session.commit()
    client = app.test_client()
    signed_in = client.post(
        "/login",
        data={"login": "boss", "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert signed_in.status_code == 302
    record_id = create_edit_attach(app, client)
    card = f"/crm/counterparties/{record_id}/edit?tab=timeline"

    shown = timeline_html(client.get(card).get_data(as_text=True))
    assert kinds(shown) == [
        "crm_base.attachment",
        "crm_base.changed",
        "crm_base.created",
        f"{name}.call",
        f"{name}.note",
    ]
    assert "January 2, 2024" in shown and "Call with the director" in shown
    assert "Agreed on a demo" in shown and "bi-telephone" in shown
    assert "javascript:" not in shown

    kernel.manager.uninstall([name])  # an addon that goes dark says nothing any more
    kernel.refresh()
    shown = timeline_html(client.get(card).get_data(as_text=True))
    assert kinds(shown) == ["crm_base.attachment", "crm_base.changed", "crm_base.created"]
    assert db_count(kernel, record_id) == 1


def db_count(kernel, record_id: int) -> int:  # type: ignore[no-untyped-def]
    with kernel.db.session_factory() as session:
        return len(session.scalars(select(Counterparty).where(Counterparty.id == record_id)).all())
