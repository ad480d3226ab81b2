"""Sign-in security (issue 3): server-side sessions, throttling, TOTP, headers, audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from core import sessions
from core.db import utcnow
from core.models import AuditEntry, LoginFailure, User, UserSession
from core.security import PasswordError, check_password_policy
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token


def sign_in(app, client, login, password=TEST_PASSWORD, **extra):
    data = {"login": login, "password": password, "csrf_token": csrf_token(app, client), **extra}
    return client.post("/login", data=data)


@pytest.fixture
def anna(db_session):
    return create_user(db_session, "anna", ["crm_base.counterparty.read"])


def test_sign_in_opens_a_server_session_and_sign_out_ends_it(vitrylo_app, client, anna, db_session):
    assert sign_in(vitrylo_app, client, "anna").status_code == 302
    with client.session_transaction() as s:
        first_sid = s["sid"]
    assert client.get("/").status_code == 200
    row = db_session.get(UserSession, first_sid)
    assert row.user_id == anna.id and row.revoked_at is None
    client.post("/logout", data={"csrf_token": csrf_token(vitrylo_app, client)})
    db_session.expire_all()
    assert db_session.get(UserSession, first_sid).revoked_at is not None
    assert client.get("/").status_code == 302
    sign_in(vitrylo_app, client, "anna")
    with client.session_transaction() as s:
        assert s["sid"] != first_sid  # a new session id at every sign-in


def test_a_revoked_or_idle_session_signs_the_user_out(vitrylo_app, client, anna, db_session):
    sign_in(vitrylo_app, client, "anna")
    assert client.get("/").status_code == 200
    sessions.revoke_all(db_session, anna.id)
    db_session.commit()
    assert client.get("/").status_code == 302
    sign_in(vitrylo_app, client, "anna")
    db_session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(hours=3)))
    db_session.commit()
    assert client.get("/").status_code == 302


def test_deactivated_user_is_signed_out_at_once(vitrylo_app, client, anna, db_session):
    sign_in(vitrylo_app, client, "anna")
    anna.active = False
    db_session.commit()
    assert client.get("/").status_code == 302
    assert sign_in(vitrylo_app, client, "anna").status_code == 200  # refused, form again


def test_repeated_failures_are_held_with_429_then_released(vitrylo_app, client, anna, db_session):
    for _ in range(5):
        assert sign_in(vitrylo_app, client, "anna", "wrong-password").status_code == 200
    held = sign_in(vitrylo_app, client, "anna")  # even the right password waits
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) > 0
    other = create_user(db_session, "boris")
    assert sign_in(vitrylo_app, client, other.login).status_code == 302  # not the others
    db_session.execute(update(LoginFailure).values(at=utcnow() - timedelta(minutes=16)))
    db_session.commit()
    assert sign_in(vitrylo_app, client, "anna").status_code == 302  # never locked for good


def test_many_failures_from_one_address_hold_every_login(vitrylo_app, client, db_session):
    for n in range(20):
        sign_in(vitrylo_app, client, f"nobody{n}", "wrong-password")
    create_user(db_session, "clara")
    assert sign_in(vitrylo_app, client, "clara").status_code == 429


def test_totp_sign_in_with_code_and_single_use_recovery_code(vitrylo_app, client, anna, db_session):
    sign_in(vitrylo_app, client, "anna")
    page = client.get("/account/2fa").get_data(as_text=True)
    with client.session_transaction() as s:
        secret = s["totp_setup"]
    assert secret in page
    wrong = client.post(
        "/account/2fa", data={"code": "000000", "csrf_token": csrf_token(vitrylo_app, client)}
    )
    assert "not right" in wrong.get_data(as_text=True) or "не" in wrong.get_data(as_text=True)
    done = client.post(
        "/account/2fa",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_token(vitrylo_app, client)},
    )
    codes = re.findall(
        r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == 10
    client.post("/logout", data={"csrf_token": csrf_token(vitrylo_app, client)})

    step = sign_in(vitrylo_app, client, "anna")
    assert "/login/code" in step.location
    assert client.get("/").status_code == 302  # the password alone is not enough
    token = csrf_token(vitrylo_app, client)
    ok = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert ok.status_code == 302 and client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(vitrylo_app, client)})

    sign_in(vitrylo_app, client, "anna")
    used = client.post(
        "/login/code", data={"code": codes[0], "csrf_token": csrf_token(vitrylo_app, client)}
    )
    assert used.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(vitrylo_app, client)})
    sign_in(vitrylo_app, client, "anna")
    again = client.post(
        "/login/code", data={"code": codes[0], "csrf_token": csrf_token(vitrylo_app, client)}
    )
    assert again.status_code == 200 and client.get("/").status_code == 302


def test_changing_the_password_ends_other_sessions(vitrylo_app, anna):
    laptop, phone = vitrylo_app.test_client(), vitrylo_app.test_client()
    sign_in(vitrylo_app, laptop, "anna")
    sign_in(vitrylo_app, phone, "anna")
    short = laptop.post(
        "/account",
        data={
            "current": TEST_PASSWORD,
            "new": "short",
            "confirm": "short",
            "csrf_token": csrf_token(vitrylo_app, laptop),
        },
    )
    assert short.status_code == 400 and phone.get("/").status_code == 200
    new = "a-brand-new-passphrase"
    changed = laptop.post(
        "/account",
        data={
            "current": TEST_PASSWORD,
            "new": new,
            "confirm": new,
            "csrf_token": csrf_token(vitrylo_app, laptop),
        },
    )
    assert changed.status_code == 302
    assert laptop.get("/").status_code == 200  # the browser that changed it stays in
    assert phone.get("/").status_code == 302
    assert sign_in(vitrylo_app, phone, "anna", new).status_code == 302


@pytest.mark.parametrize("password", ["short", "qwertyuiop", "1234567890", "anna-is-me-123"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(PasswordError):
        check_password_policy(password, login="anna")


def test_every_page_carries_security_headers(vitrylo_app, client):
    headers = client.get("/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    secure = client.get("/login", base_url="https://localhost").headers
    assert "max-age" in secure["Strict-Transport-Security"]
    cookie = vitrylo_app.test_client().get("/login").headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_ins_refusals_and_changes_are_audited(vitrylo_app, client, anna, db_session):
    sign_in(vitrylo_app, client, "anna", "wrong-password")
    sign_in(vitrylo_app, client, "anna")
    client.get("/no-such-right-needed")  # 404, not audited
    limited = client.get("/crm/counterparties")
    assert limited.status_code == 200
    anna.name = "Anna K."
    db_session.commit()
    actions = [
        (a.action, a.subject)
        for a in db_session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert ("login_failed", "core_user") in actions
    assert ("login", "core_user") in actions
    change = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "update", AuditEntry.subject == "core_user")
    ).all()[-1]
    assert '"name": ["Anna", "Anna K."]' in change.changes
    created = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.subject == "core_user")
    ).first()
    assert '"password_hash": ["", "***"]' in created.changes


def test_a_refused_request_is_audited(vitrylo_app, login, db_session):
    nobody = login([])
    assert nobody.get("/crm/counterparties").status_code == 403
    denied = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "denied")).all()
    assert denied and denied[-1].subject_id == "crm_base.counterparty.read"


def test_users_see_pages_in_their_own_language(vitrylo_app, client, db_session):
    user = create_user(db_session, "eng")
    user.language = "en"
    db_session.commit()
    sign_in(vitrylo_app, client, "eng")
    assert "Sign out" in client.get("/").get_data(as_text=True)
    assert db_session.scalar(select(User.language).where(User.login == "eng")) == "en"
