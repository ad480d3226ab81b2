"""The system administration pages: addons and licence, audit log, maintenance.

Installing and uninstalling need a database of their own (the manager writes on its own
connections), so those tests build a kernel with throw-away addons and an app over it.
Test users are switched to English so the assertions survive new translations.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import event, inspect, select, text, update

from core.addons import bump_counter
from core.app import create_app
from core.licensing import generate_keypair, issue
from core.models import AuditEntry, InstalledAddon, LicenseRecord, User
from core.testing.databases import drop_database, fresh_database_url, is_postgres
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token
from tests.addon_factory import add_upgrade, unique, write_addon

ADDON_URLS = ("install", "upgrade", "uninstall", "purge")


# -- helpers ----------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "addons"
    path.mkdir()
    return path


@pytest.fixture
def vendor(tmp_path):
    private, public = tmp_path / "vendor.pem", tmp_path / "vendor.pub"
    generate_keypair(private, public)
    return private, public


def app_for(kernel):
    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    return app


def sign_in(app, kernel, name="admin", permissions=(), superuser=True):
    """A client signed in as a new English-speaking user of ``kernel``'s database."""
    with kernel.db.session_factory() as s:
        user = create_user(s, name, permissions, superuser=superuser)
        s.execute(update(User).where(User.id == user.id).values(language="en"))
        s.commit()
    client = app.test_client()
    response = client.post(
        "/login",
        data={"login": name, "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert response.status_code == 302
    return client


def english(db_session, client):
    db_session.execute(update(User).where(User.login == client.user_login).values(language="en"))
    db_session.commit()
    return client


def post(app, client, url, follow=False, **data):
    return client.post(
        url, data={"csrf_token": csrf_token(app, client), **data}, follow_redirects=follow
    )


def upload(app, client, url, content, filename="licence.lic", **data):
    return client.post(
        url,
        data={
            "csrf_token": csrf_token(app, client),
            **data,
            "file": (io.BytesIO(content), filename),
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def states(kernel):
    with kernel.db.session_factory() as s:
        return {r.name: r.state for r in s.scalars(select(InstalledAddon))}


def row_states(page, name):
    match = re.search(rf'id="addon-{name}" data-states="([^"]*)"', page)
    assert match, f"no row for {name}"
    return match.group(1).split()


def tables(kernel):
    return set(inspect(kernel.db.engine).get_table_names())


def licence(private, addons, **kw):
    return issue(
        private,
        customer="ТОВ «Покупець»",
        addons=addons,
        max_users=kw.pop("users", 5),
        expires=kw.pop("expires", date.today() + timedelta(days=30)),
        **kw,
    )


# -- the addons page ----------------------------------------------------------------------


def test_addons_page_lists_every_addon_with_its_state(make_kernel, root):
    on, off, new, paid = unique("on"), unique("off"), unique("new"), unique("paid")
    write_addon(root, on)
    write_addon(root, off)
    write_addon(root, new, depends=(on,))
    write_addon(root, paid, license="commercial")
    kernel = make_kernel([on, off], addon_paths=[root])
    kernel.manager.uninstall([off])
    app = app_for(kernel)
    page = sign_in(app, kernel).get("/admin/addons").get_data(as_text=True)
    assert row_states(page, on) == ["installed"]
    assert row_states(page, off) == ["uninstalled"]
    assert row_states(page, new) == ["available"]
    assert row_states(page, paid) == ["available"]
    assert row_states(page, "crm_base") == ["available"]
    assert f"Test addon {on}" in page and "Uninstalled, data kept" in page
    assert "Commercial" in page and "Bundled" in page and "Folder" in page
    new_row = page[page.index(f'id="addon-{new}"') :]
    assert on in new_row[: new_row.index("</tr>")]  # its dependency is listed
    assert f"/admin/addons/{off}/purge" in page and f"/admin/addons/{on}/uninstall" in page
    assert "No licence" in page


def test_install_shows_the_dependencies_then_installs_them_and_the_routes_answer(make_kernel, root):
    base, top = unique("base"), unique("top")
    write_addon(root, base)
    write_addon(root, top, depends=(base,))
    kernel = make_kernel(addon_paths=[root])
    app = app_for(kernel)
    client = sign_in(app, kernel)
    assert client.get(f"/{top}/items").status_code == 404
    page = client.get(f"/admin/addons/{top}/install").get_data(as_text=True)
    assert page.index(f"<code>{base}</code>") < page.index(f"<code>{top}</code>")
    assert f"needed by Test addon {top}" in page
    assert states(kernel) == {}  # the confirmation page changes nothing
    response = post(app, client, f"/admin/addons/{top}/install")
    assert response.status_code == 302 and response.location.endswith("/admin/addons")
    assert states(kernel) == {base: "installed", top: "installed"}
    assert client.get(f"/{top}/items").status_code == 200  # no restart
    page = client.get("/admin/addons").get_data(as_text=True)
    assert f"Installed: Test addon {base}, Test addon {top}." in page
    assert row_states(page, top) == ["installed"]


def test_install_refusals_and_failures_are_messages_not_errors(make_kernel, root):
    orphan, broken = unique("orphan"), unique("broken")
    write_addon(root, orphan, depends=("nowhere",))
    write_addon(root, broken, extra_manifest=f'post_install = "{broken}.lifecycle:boom"\n')
    (root / broken / "lifecycle.py").write_text(
        "def boom(session):\n    raise RuntimeError('no')\n"
    )
    kernel = make_kernel(addon_paths=[root])
    app = app_for(kernel)
    client = sign_in(app, kernel)
    page = client.get(f"/admin/addons/{orphan}/install").get_data(as_text=True)
    assert f"addon &#39;nowhere&#39; is not available (needed by &#39;{orphan}&#39;)" in page
    assert 'type="submit">Install<' not in page
    response = post(app, client, f"/admin/addons/{orphan}/install", follow=True)
    assert response.status_code == 200
    assert "was not done" in response.get_data(as_text=True)
    response = post(app, client, f"/admin/addons/{broken}/install", follow=True)
    assert response.status_code == 200
    assert "failed (RuntimeError: no)" in response.get_data(as_text=True)
    assert states(kernel) == {}
    assert client.get("/admin/addons/no_such_addon/install").status_code == 404


def test_commercial_addon_without_a_licence_is_refused_clearly(make_kernel, root):
    paid = unique("paid")
    write_addon(root, paid, license="commercial")
    kernel = make_kernel(addon_paths=[root])
    app = app_for(kernel)
    client = sign_in(app, kernel)
    page = client.get(f"/admin/addons/{paid}/install").get_data(as_text=True)
    assert f"Commercial addon(s) {paid} need a licence that covers them" in page
    assert "no licence installed" in page
    page = post(app, client, f"/admin/addons/{paid}/install", follow=True).get_data(as_text=True)
    assert f"Commercial addon(s) {paid} need a licence" in page
    assert states(kernel) == {}


def test_upgrade_is_shown_confirmed_and_run(make_kernel, root):
    a = unique("a")
    write_addon(root, a)
    kernel = make_kernel([a], addon_paths=[root])
    write_addon(root, a, version="0.2.0")
    add_upgrade(root, a, "0.2.0")
    sys.modules.pop(a)  # a new process would import the new code
    newer = make_kernel(addon_paths=[root], url=kernel.db.url)
    app = app_for(newer)
    client = sign_in(app, newer)
    assert row_states(client.get("/admin/addons").get_data(as_text=True), a) == [
        "installed",
        "upgrade",
    ]
    page = client.get(f"/admin/addons/{a}/upgrade").get_data(as_text=True)
    assert "version 0.1.0" in page and "version 0.2.0" in page
    page = post(app, client, f"/admin/addons/{a}/upgrade", follow=True).get_data(as_text=True)
    assert "upgraded to 0.2.0" in page
    assert row_states(page, a) == ["installed"]
    assert "note" in {c["name"] for c in inspect(newer.db.engine).get_columns(f"{a}_item")}


def test_uninstall_with_a_dependent_needs_the_dependents_confirmed(make_kernel, root):
    base, top = unique("base"), unique("top")
    write_addon(root, base)
    write_addon(root, top, depends=(base,))
    kernel = make_kernel([top], addon_paths=[root])
    app = app_for(kernel)
    client = sign_in(app, kernel)
    page = client.get(f"/admin/addons/{base}/uninstall").get_data(as_text=True)
    assert "will be uninstalled with it" in page and f"<code>{top}</code>" in page
    assert "data is kept" in page
    page = post(app, client, f"/admin/addons/{base}/uninstall", follow=True).get_data(as_text=True)
    assert f"{top} depend(s) on {base}" in page
    assert states(kernel) == {base: "installed", top: "installed"}
    page = post(
        app, client, f"/admin/addons/{base}/uninstall", follow=True, with_dependents="y"
    ).get_data(as_text=True)
    assert "Their data is kept" in page
    assert states(kernel) == {base: "uninstalled", top: "uninstalled"}
    assert {f"{base}_item", f"{top}_item"} <= tables(kernel)
    assert client.get(f"/{top}/items").status_code == 404


def test_purge_shows_tables_and_rows_and_needs_the_name_typed(make_kernel, root):
    a = unique("a")
    write_addon(root, a)
    kernel = make_kernel([a], addon_paths=[root])
    with kernel.db.transaction() as s:
        s.execute(text(f"INSERT INTO {a}_item (title) VALUES ('one'), ('two')"))
    app = app_for(kernel)
    client = sign_in(app, kernel)
    page = client.get(f"/admin/addons/{a}/purge").get_data(as_text=True)
    assert "uninstall before purging" in page and "Purge for good" not in page
    kernel.manager.uninstall([a])
    page = client.get(f"/admin/addons/{a}/purge").get_data(as_text=True)
    assert f'data-table="{a}_item" data-rows="2"' in page
    assert f"{a}_item (2 rows)" in page
    response = post(app, client, f"/admin/addons/{a}/purge", confirm="yes")
    assert response.status_code == 400
    assert f"Type exactly {a} to confirm" in response.get_data(as_text=True)
    assert f"{a}_item" in tables(kernel)
    page = post(app, client, f"/admin/addons/{a}/purge", follow=True, confirm=a).get_data(
        as_text=True
    )
    assert "1 table(s) and 2 row(s) dropped" in page
    assert f"{a}_item" not in tables(kernel)
    assert a not in states(kernel)
    assert row_states(page, a) == ["available"]


# -- the licence --------------------------------------------------------------------------


def test_a_good_licence_is_installed_and_shown(make_kernel, root, vendor):
    paid = unique("paid")
    write_addon(root, paid, license="commercial")
    kernel = make_kernel(addon_paths=[root], trusted_keys=str(vendor[1]))
    app = app_for(kernel)
    client = sign_in(app, kernel)
    page = upload(
        app, client, "/admin/license", licence(vendor[0], [paid], demo=True, users=7)
    ).get_data(as_text=True)
    assert "Licence installed for ТОВ «Покупець»" in page
    assert "license-valid" in page and "DEMO" in page
    assert paid in page and "1 of 7 allowed" in page
    assert "active users but the licence allows" not in page
    assert (date.today() + timedelta(days=30)).isoformat() in page
    assert kernel.snapshot.license.state == "valid"  # this process sees it at once
    post(app, client, f"/admin/addons/{paid}/install")
    assert states(kernel) == {paid: "installed"}
    with kernel.db.transaction() as s:  # the licence goes away: the addon stays, read-only
        s.execute(update(LicenseRecord).values(active=False))
        bump_counter(s)
    page = client.get("/admin/addons").get_data(as_text=True)
    assert row_states(page, paid) == ["installed", "read_only"]
    assert "Read-only: not licensed" in page and "license-none" in page


def test_a_licence_for_fewer_users_than_are_active_says_so(make_kernel, vendor):
    kernel = make_kernel(trusted_keys=str(vendor[1]))
    app = app_for(kernel)
    client = sign_in(app, kernel)
    with kernel.db.session_factory() as s:
        create_user(s, "second")
    page = upload(app, client, "/admin/license", licence(vendor[0], ["*"], users=1))
    text_ = page.get_data(as_text=True)
    assert "Licence installed" in text_ and "2 of 1 allowed" in text_
    assert "There are 2 active users but the licence allows 1" in text_


def _tampered_payload(content: bytes) -> bytes:
    """The licence with more users in it, and the vendor's signature left as it was."""
    lines = content.decode().splitlines()
    payload = json.loads(base64.b64decode(lines[1]))
    payload["max_users"] = 1000
    lines[1] = base64.b64encode(json.dumps(payload).encode()).decode()
    return "\n".join(lines).encode()


def test_bad_licence_files_are_refused_and_change_nothing(make_kernel, vendor, tmp_path):
    kernel = make_kernel(trusted_keys=str(vendor[1]))
    app = app_for(kernel)
    client = sign_in(app, kernel)
    current = licence(vendor[0], ["*"], users=3)
    assert "Licence installed" in upload(app, client, "/admin/license", current).get_data(
        as_text=True
    )
    good = licence(vendor[0], ["*"])
    signature_at = good.index(b"signature: ") + len(b"signature: ")
    flipped = b"A" if good[signature_at : signature_at + 1] != b"A" else b"B"
    tampered = good[:signature_at] + flipped + good[signature_at + 1 :]
    past = date.today() - timedelta(days=1)
    expired = licence(vendor[0], ["*"], expires=past, issued=past - timedelta(days=30))
    generate_keypair(tmp_path / "other.pem", tmp_path / "other.pub")
    foreign = licence(tmp_path / "other.pem", ["*"])
    cases = {
        tampered: "bad licence signature",
        _tampered_payload(good): "bad licence signature",
        b"\x89PNG\r\n\x1a\n\x00\xff": "it is not text",
        b"hello, I am a licence": "markers missing",
        expired: "expired on",
        foreign: "unknown key",
        b"x" * (64 * 1024 + 1): "at most 64 KB",
    }
    for content, reason in cases.items():
        page = upload(app, client, "/admin/license", content).get_data(as_text=True)
        assert "The licence was not installed" in page and reason in page, reason
        assert "license-valid" in page and "1 of 3 allowed" in page  # the old one stays
    page = upload(app, client, "/admin/license", b"").get_data(as_text=True)
    assert "The licence was not installed" in page
    with kernel.db.session_factory() as s:
        records = s.scalars(select(LicenseRecord)).all()
    assert [(r.content.encode(), r.active) for r in records] == [(current, True)]


# -- the audit log ------------------------------------------------------------------------


def test_audit_log_shows_logins_and_changes_with_filters(login, db_session):
    viewer = english(db_session, login(["core.audit.read"]))
    user = create_user(db_session, "renamed")
    user.name = "Renamed Person"
    db_session.commit()
    renamed = (
        '<span class="old text-body-secondary">Renamed</span> → <span class="new">Renamed Person'
    )
    page = viewer.get("/admin/audit").get_data(as_text=True)
    login_row = re.search(r'data-action="login">(?:(?!</tr>).)*', page, re.S).group(0)
    assert f'<td class="audit-user">{viewer.user_login}</td>' in login_row
    assert renamed in page
    assert page.index(renamed) < page.index('data-action="login"')  # newest first

    def show(**args):
        response = viewer.get("/admin/audit", query_string=args)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert renamed not in show(action="login")
    only = show(action="update", subject="core_user", subject_id=str(user.id))
    assert renamed in only and 'data-action="login"' not in only
    assert renamed in show(date_from=date.today().isoformat(), date_to=date.today().isoformat())
    mine = show(user=viewer.user_login)
    assert 'data-action="login"' in mine and renamed not in mine  # the change was no one's
    viewer_id = db_session.scalar(select(User.id).where(User.login == viewer.user_login))
    assert 'data-action="login"' in show(user=str(viewer_id))  # by number, too
    assert "No entries." in show(date_to="2000-01-01")
    assert "No user has the login “nobody-here”" in show(user="nobody-here")


def test_audit_log_ignores_bad_filter_values_with_a_message(login, db_session):
    viewer = english(db_session, login(["core.audit.read"]))
    page = viewer.get(
        "/admin/audit",
        query_string={
            "before": "abc",
            "date_from": "31.12.2024",
            "date_to": "2024-02-30",
            "action": "<script>",
            "user": "x" * 500,
            "subject_id": "'; DROP TABLE x",
        },
    )
    assert page.status_code == 200
    text_ = page.get_data(as_text=True)
    assert "is not an entry number" in text_
    assert "“31.12.2024” is not a date" in text_ and "“2024-02-30” is not a date" in text_
    assert "Unknown action “&lt;script&gt;”" in text_


def test_audit_log_pages_by_keyset(login, db_session):
    viewer = login(["core.audit.read"])
    db_session.add_all(
        AuditEntry(action="update", subject="paging_test", subject_id=str(n)) for n in range(150)
    )
    db_session.commit()
    page = viewer.get("/admin/audit?subject=paging_test").get_data(as_text=True)
    assert page.count('id="audit-') == 100
    next_url = re.search(r'rel="next" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "subject=paging_test" in next_url and "before=" in next_url
    older = viewer.get(next_url).get_data(as_text=True)
    assert older.count('id="audit-') == 50
    assert 'rel="next"' not in older
    assert not set(re.findall(r'id="audit-(\d+)"', page)) & set(
        re.findall(r'id="audit-(\d+)"', older)
    )


def test_audit_log_resolves_user_logins_in_one_query(login, db_session, _vitrylo_db):
    viewer = login(["core.audit.read"])
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if "core_user." in statement and "core_user_group" not in statement:
            statements.append(statement)

    def user_queries(subject):
        statements.clear()
        event.listen(_vitrylo_db.db.engine, "before_cursor_execute", count)
        try:
            assert viewer.get(f"/admin/audit?subject={subject}").status_code == 200
        finally:
            event.remove(_vitrylo_db.db.engine, "before_cursor_execute", count)
        return len(statements)

    users = [create_user(db_session, f"actor{n}") for n in range(6)]
    db_session.add_all(
        AuditEntry(action="update", subject="few_actors", user_id=users[0].id) for _ in range(3)
    )
    db_session.add_all(
        AuditEntry(action="update", subject="many_actors", user_id=u.id) for u in users
    )
    db_session.commit()
    assert user_queries("many_actors") == user_queries("few_actors")
    page = viewer.get("/admin/audit?subject=many_actors").get_data(as_text=True)
    assert all(f'<td class="audit-user">actor{n}</td>' in page for n in range(6))


# -- rights and CSRF ----------------------------------------------------------------------


def _all_urls():
    gets = ["/admin/addons", "/admin/audit", "/admin/maintenance"]
    gets += [f"/admin/addons/crm_base/{action}" for action in ADDON_URLS]
    posts = [f"/admin/addons/crm_base/{action}" for action in ADDON_URLS]
    posts += [
        "/admin/license",
        "/admin/maintenance/backup",
        "/admin/maintenance/check",
        "/admin/maintenance/optimize",
        "/admin/maintenance/restore",
    ]
    return gets, posts


def test_a_user_without_the_rights_gets_403_everywhere(vitrylo_app, login):
    nobody = login([])
    gets, posts = _all_urls()
    for url in gets:
        assert nobody.get(url).status_code == 403, url
    for url in posts:
        assert (
            post(vitrylo_app, nobody, url, confirm="crm_base", with_dependents="y").status_code
            == 403
        ), url
    assert nobody.get("/admin/audit?before=abc").status_code == 403


def test_reading_addons_does_not_allow_changing_them(vitrylo_app, login):
    reader = login(["core.addon.read"])
    page = reader.get("/admin/addons").get_data(as_text=True)
    assert 'id="addon-crm_base"' in page
    assert "/admin/addons/crm_base/uninstall" not in page
    assert "/admin/license" not in page  # no upload form without core.license.update
    assert reader.get("/admin/addons/crm_base/uninstall").status_code == 403
    assert post(vitrylo_app, reader, "/admin/addons/crm_base/uninstall").status_code == 403
    assert upload(vitrylo_app, reader, "/admin/license", b"x").status_code == 403


def test_posts_without_a_csrf_token_are_refused(vitrylo_app, login, _vitrylo_db):
    admin = login(superuser=True)
    _gets, posts = _all_urls()
    for url in posts:
        assert admin.post(url, data={"confirm": "crm_base"}).status_code == 400, url
    assert "crm_base" in _vitrylo_db.snapshot.enabled


# -- maintenance --------------------------------------------------------------------------


@pytest.fixture
def maintained(make_kernel):
    kernel = make_kernel()
    app = app_for(kernel)
    return kernel, app, sign_in(app, kernel)


def test_backup_downloads_a_file_and_leaves_nothing_behind(maintained):
    kernel, app, client = maintained
    page = client.get("/admin/maintenance").get_data(as_text=True)
    assert "Download a backup" in page and "Check integrity" in page
    response = post(app, client, "/admin/maintenance/backup")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = response.get_data()
    response.close()
    assert data.startswith(b"PGDMP" if is_postgres() else b"SQLite format 3\x00")
    instance = kernel.settings.instance_path
    assert not list(instance.glob("backup-*"))  # the temporary copy is gone
    with kernel.db.session_factory() as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "backup"))


def test_check_and_optimize_report_what_they_did(maintained):
    _kernel, app, client = maintained
    page = post(app, client, "/admin/maintenance/check").get_data(as_text=True)
    assert "No problems found." in page
    page = post(app, client, "/admin/maintenance/optimize").get_data(as_text=True)
    assert "ANALYZE" in page


def test_restore_needs_the_word_and_a_fresh_database(maintained, tmp_path):
    kernel, app, client = maintained
    backup = post(app, client, "/admin/maintenance/backup").get_data()
    target = fresh_database_url(tmp_path)
    try:
        response = upload(
            app,
            client,
            "/admin/maintenance/restore",
            backup,
            "db.backup",
            target_url=target,
            confirm="yes",
        )
        assert response.status_code == 400
        assert "Type exactly RESTORE to confirm" in response.get_data(as_text=True)
        response = upload(
            app,
            client,
            "/admin/maintenance/restore",
            backup,
            "db.backup",
            target_url=kernel.db.url,
            confirm="RESTORE",
        )
        assert response.status_code == 400
        assert "restore only into a fresh, empty database" in response.get_data(as_text=True)
        response = upload(
            app,
            client,
            "/admin/maintenance/restore",
            b"junk",
            "db.backup",
            target_url=target,
            confirm="RESTORE",
        )
        assert "is not a Vitrylo backup" in response.get_data(as_text=True)
        response = upload(
            app,
            client,
            "/admin/maintenance/restore",
            backup,
            "db.backup",
            target_url=target,
            confirm="RESTORE",
        )
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page
        assert "The backup was restored into" in page and "VITRYLO_DATABASE_URL" in page
        assert not list(kernel.settings.instance_path.glob("restore-*"))
    finally:
        drop_database(target)
