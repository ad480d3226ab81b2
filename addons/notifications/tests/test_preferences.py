"""The pages: a user's notification preferences (NT-5), the admin's e-mail/SMS settings
(secrets masked, test e-mail) and default channels; rights, CSRF and bad input."""

from __future__ import annotations

import itertools

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from addons.notifications import models as m
from addons.notifications.channels import read_settings
from addons.notifications.events import channels_for, event_types
from addons.notifications.tests.helpers import Mailbox, configure, queue, use_smtp
from core.kernel import Kernel
from core.models import AuditEntry, User
from core.testing.plugin import csrf_token, signed_in_client

PM = "notifications.private_message"
ADMIN = ["notifications.settings.update"]
_logins = itertools.count(1)


def signed_in(
    kernel: Kernel, app: Flask, permissions: list[str] = (), **fields: str
) -> FlaskClient:  # type: ignore[assignment]
    """A client signed in as a new user, committed for good (``fields``: email, phone…)."""
    with kernel.db.session_factory() as session:
        client = signed_in_client(app, session, f"pref{next(_logins)}", permissions)
        user = session.get(User, client.user_id)  # type: ignore[attr-defined]
        for name, value in fields.items():
            setattr(user, name, value)
        session.commit()
    return client


def post(app: Flask, client: FlaskClient, url: str, data: dict | list) -> object:  # type: ignore[type-arg]
    items = list(data.items()) if isinstance(data, dict) else list(data)
    items.append(("csrf_token", csrf_token(app, client)))
    return client.post(url, data=MultiDict(items))


# -- preferences ---------------------------------------------------------------------------


def test_preferences_table_and_saving(nkweb: Kernel, napp: Flask):
    client = signed_in(nkweb, napp, email="me@example.com")
    page = client.get("/notifications/preferences")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'value="{PM}|popup" ' in html and f'value="{PM}|popup"' in html
    assert "checked" in html.split(f'value="{PM}|popup"')[1].split(">")[0]  # the type's default
    assert "no-phone" in html and "no-email" not in html  # warns SMS cannot reach this user

    response = post(napp, client, "/notifications/preferences", [("choice", f"{PM}|email")])
    assert response.status_code == 302
    with nkweb.db.session_factory() as session:
        row = session.get(m.Preference, (client.user_id, PM))
        assert row.channels == "email"
        assert channels_for(session, [(client.user_id, PM)], event_types(nkweb.hooks)) == {
            (client.user_id, PM): ("email",)
        }
    # Choosing exactly the default stores nothing: a later admin default still applies.
    post(napp, client, "/notifications/preferences", [("choice", f"{PM}|popup")])
    with nkweb.db.session_factory() as session:
        assert session.get(m.Preference, (client.user_id, PM)) is None
    # Unticked everywhere = nothing.
    post(napp, client, "/notifications/preferences", [("action", "save")])
    with nkweb.db.session_factory() as session:
        assert session.get(m.Preference, (client.user_id, PM)).channels == ""
    post(napp, client, "/notifications/preferences", [("action", "reset")])
    with nkweb.db.session_factory() as session:
        assert session.get(m.Preference, (client.user_id, PM)) is None


def test_preferences_ignore_unknown_types_and_channels(nkweb: Kernel, napp: Flask):
    client = signed_in(nkweb, napp)
    post(
        napp,
        client,
        "/notifications/preferences",
        [("choice", "other.type|email"), ("choice", f"{PM}|fax"), ("choice", "garbage")],
    )
    with nkweb.db.session_factory() as session:
        rows = session.scalars(select(m.Preference).where(m.Preference.user_id == client.user_id))
        saved = {r.event_type: r.channels for r in rows}
    # Unknown types and channels are dropped: every known type is stored as "nothing ticked".
    assert PM in saved and "other.type" not in saved and set(saved.values()) == {""}


def test_preferences_need_a_signed_in_user_and_csrf(nkweb: Kernel, napp: Flask):
    anonymous = napp.test_client()
    assert anonymous.get("/notifications/preferences").status_code == 302
    client = signed_in(nkweb, napp)
    assert client.post("/notifications/preferences", data={}).status_code == 400  # no CSRF token


def test_a_type_switched_off_is_not_offered(nkweb: Kernel, napp: Flask):
    with nkweb.db.transaction() as session:
        session.add(m.DefaultPreference(event_type=PM, channels="popup", enabled=False))
    client = signed_in(nkweb, napp)
    assert PM not in client.get("/notifications/preferences").get_data(as_text=True)


# -- the admin's settings ---------------------------------------------------------------


FORM = {
    "smtp_host": "smtp.example.com",
    "smtp_port": "465",
    "smtp_security": "ssl",
    "smtp_user": "crm",
    "smtp_password": "very-secret-password-1234",
    "smtp_from": "CRM <crm@example.com>",
    "sms_gateway": "notifications.http",
    "sms_url": "https://sms.example.com/send",
    "sms_method": "POST",
    "sms_auth_header": "Authorization: Bearer token-abcdef-9876",
    "sms_content_type": "application/json",
    "sms_body_template": '{"to": "{phone}", "text": "{text}"}',
    "site_url": "https://crm.example.com",
    "timezone": "Europe/Kyiv",
}


def test_settings_are_saved_and_secrets_never_shown(nkweb: Kernel, napp: Flask):
    admin = signed_in(nkweb, napp, ADMIN)
    assert post(napp, admin, "/notifications/settings", FORM).status_code == 302
    with nkweb.db.session_factory() as session:
        saved = read_settings(session)
        audit = session.scalars(
            select(AuditEntry.changes).where(AuditEntry.subject == "core_setting")
        ).all()
    assert saved["notifications.smtp_password"] == "very-secret-password-1234"
    assert saved["notifications.smtp_port"] == "465"
    assert all("very-secret" not in entry and "token-abcdef" not in entry for entry in audit)

    html = admin.get("/notifications/settings").get_data(as_text=True)
    assert "very-secret-password" not in html and "token-abcdef" not in html
    assert "••••1234" in html and "••••9876" in html
    assert 'value="smtp.example.com"' in html

    # Empty secret fields keep the saved values; other fields change.
    form = {**FORM, "smtp_password": "", "sms_auth_header": "", "smtp_host": "mail.example.com"}
    post(napp, admin, "/notifications/settings", form)
    with nkweb.db.session_factory() as session:
        saved = read_settings(session)
    assert saved["notifications.smtp_password"] == "very-secret-password-1234"
    assert saved["notifications.sms_auth_header"] == "Authorization: Bearer token-abcdef-9876"
    assert saved["notifications.smtp_host"] == "mail.example.com"

    # "Remove the saved password" does.
    post(napp, admin, "/notifications/settings", {**form, "smtp_password_clear": "y"})
    with nkweb.db.session_factory() as session:
        assert read_settings(session)["notifications.smtp_password"] == ""


def test_bad_settings_are_refused_and_nothing_is_saved(nkweb: Kernel, napp: Flask):
    admin = signed_in(nkweb, napp, ADMIN)
    bad = {
        **FORM,
        "smtp_port": "99999",
        "sms_url": "file:///etc/passwd",
        "smtp_from": "not an address",
        "timezone": "Mars/Olympus",
        "smtp_security": "rot13",
    }
    response = post(napp, admin, "/notifications/settings", bad)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "http://" in html and "Europe/Kyiv" in html
    assert "very-secret-password" not in html  # not even the value just typed
    with nkweb.db.session_factory() as session:
        assert read_settings(session)["notifications.smtp_host"] == ""


def test_settings_pages_are_for_admins_only(nkweb: Kernel, napp: Flask):
    user = signed_in(nkweb, napp)
    for url in ("/notifications/settings", "/notifications/settings/defaults"):
        assert user.get(url).status_code == 403
    for url in (
        "/notifications/settings",
        "/notifications/settings/test-email",
        "/notifications/settings/test-sms",
        "/notifications/settings/retry",
        "/notifications/settings/defaults",
    ):
        assert post(napp, user, url, FORM).status_code == 403
    with nkweb.db.session_factory() as session:
        assert read_settings(session)["notifications.smtp_host"] == ""
    anonymous = napp.test_client().get("/notifications/settings")
    assert anonymous.status_code == 302, anonymous.get_data(as_text=True)[-3000:]


def test_send_a_test_email(nkweb: Kernel, napp: Flask, smtp: Mailbox):
    admin = signed_in(nkweb, napp, ADMIN, email="admin@example.com")
    page = admin.get("/notifications/settings").get_data(as_text=True)
    assert 'value="admin@example.com"' in page
    response = post(napp, admin, "/notifications/settings/test-email", {"to": "a@example.com"})
    assert response.status_code == 302
    assert smtp.messages == []  # not configured yet: says so
    assert "flash-danger" in admin.get("/notifications/settings").get_data(as_text=True)

    use_smtp(nkweb, smtp)
    post(napp, admin, "/notifications/settings/test-email", {"to": "admin@example.com"})
    (msg,) = smtp.messages
    assert msg["To"] == "admin@example.com"
    assert "admin@example.com" in admin.get("/notifications/settings").get_data(as_text=True)

    smtp.fail_next = 1
    post(napp, admin, "/notifications/settings/test-email", {"to": "admin@example.com"})
    assert "451" in admin.get("/notifications/settings").get_data(as_text=True)

    response = post(napp, admin, "/notifications/settings/test-email", {"to": "nope"})
    assert response.status_code == 400


def test_outbox_state_and_retrying_failed_messages(nkweb: Kernel, napp: Flask):
    admin = signed_in(nkweb, napp, ADMIN)
    queue(nkweb, 3)
    with nkweb.db.transaction() as session:
        session.execute(
            m.OutboxMessage.__table__.update().values(state="failed", last_error="550 no such user")
        )
    html = admin.get("/notifications/settings").get_data(as_text=True)
    assert "550 no such user" in html
    post(napp, admin, "/notifications/settings/retry", {})
    with nkweb.db.session_factory() as session:
        assert set(session.scalars(select(m.OutboxMessage.state))) == {"pending"}


def test_default_channels_page(nkweb: Kernel, napp: Flask):
    admin = signed_in(nkweb, napp, ADMIN)
    html = admin.get("/notifications/settings/defaults").get_data(as_text=True)
    assert PM in html
    post(
        napp,
        admin,
        "/notifications/settings/defaults",
        [("enabled", PM), ("choice", f"{PM}|popup"), ("choice", f"{PM}|email")],
    )
    with nkweb.db.session_factory() as session:
        row = session.get(m.DefaultPreference, PM)
        assert (row.channels, row.enabled) == ("popup,email", True)
        user = session.scalars(select(User.id).order_by(User.id)).first()
        assert channels_for(session, [(user, PM)], event_types(nkweb.hooks)) == {
            (user, PM): ("popup", "email")
        }
    # Back to the type's own default: no row.
    post(
        napp,
        admin,
        "/notifications/settings/defaults",
        [("enabled", PM), ("choice", f"{PM}|popup")],
    )
    with nkweb.db.session_factory() as session:
        assert session.get(m.DefaultPreference, PM) is None
    # Switched off.
    post(napp, admin, "/notifications/settings/defaults", [("choice", f"{PM}|popup")])
    with nkweb.db.session_factory() as session:
        assert session.get(m.DefaultPreference, PM).enabled is False


def test_settings_are_declared_through_the_hook(nkweb: Kernel):
    defs = {d.name: d for d in nkweb.hooks.settings()}
    assert defs["notifications.smtp_password"].type == "secret"
    assert defs["notifications.sms_auth_header"].type == "secret"
    assert defs["notifications.smtp_port"].type == "int"
    configure(nkweb, smtp_host="x")
