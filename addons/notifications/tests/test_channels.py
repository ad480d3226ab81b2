"""Channels (NT-4): the generic HTTP SMS gateway against a local HTTP server, the SMTP
sender's message and login, and the gateway registry."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select

from addons.notifications import channels as ch
from addons.notifications import models as m
from addons.notifications.outbox import enqueue, process_outbox
from addons.notifications.tests.helpers import Mailbox, configure, free_port
from core.kernel import Kernel


class Gateway:
    """A fake SMS gateway: records requests, answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.url = ""


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            gw.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length).decode("utf-8"),
                }
            )
            self.send_response(gw.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if gw.status < 300 else b'{"error": "quota"}')

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()


MSG = ch.OutgoingMessage("+380 50 123-45-67", "", 'Привіт, "Іване"!\nДо зустрічі', "7:3:sms")


def test_http_gateway_posts_json(gateway: Gateway):
    sender = ch.HttpSmsSender(
        ch.HttpGatewayConfig(
            url=f"{gateway.url}/send",
            auth_header="Authorization: Bearer s3cret-token",
            body_template='{"to": "{phone}", "message": "{text}", "ref": "{id}"}',
        )
    )
    sender.send(MSG)
    (req,) = gateway.requests
    assert (req["method"], req["path"]) == ("POST", "/send")
    assert req["headers"]["Authorization"] == "Bearer s3cret-token"
    assert req["headers"]["Idempotency-Key"] == "7:3:sms"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(req["body"]) == {
        "to": "+380 50 123-45-67",
        "message": 'Привіт, "Іване"!\nДо зустрічі',
        "ref": "7:3:sms",
    }


def test_http_gateway_form_body_and_custom_header(gateway: Gateway):
    sender = ch.HttpSmsSender(
        ch.HttpGatewayConfig(
            url=f"{gateway.url}/sms",
            method="PUT",
            auth_header="X-Api-Key: abc",
            content_type="application/x-www-form-urlencoded",
            body_template="login=firm&phone={phone}&text={text}",
        )
    )
    sender.send(MSG)
    (req,) = gateway.requests
    assert req["method"] == "PUT" and req["headers"]["X-Api-Key"] == "abc"
    assert urllib.parse.parse_qs(req["body"]) == {
        "login": ["firm"],
        "phone": ["+380 50 123-45-67"],
        "text": ['Привіт, "Іване"!\nДо зустрічі'],
    }


def test_http_gateway_get_with_the_values_in_the_url(gateway: Gateway):
    sender = ch.HttpSmsSender(
        ch.HttpGatewayConfig(url=f"{gateway.url}/api?to={{phone}}&msg={{text}}", method="GET")
    )
    sender.send(MSG)
    (req,) = gateway.requests
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(req["path"]).query)
    assert query == {"to": ["+380 50 123-45-67"], "msg": ['Привіт, "Іване"!\nДо зустрічі']}
    assert req["body"] == ""


def test_http_gateway_failures(gateway: Gateway):
    gateway.status = 503
    sender = ch.HttpSmsSender(ch.HttpGatewayConfig(url=gateway.url))
    with pytest.raises(ch.DeliveryError, match="503") as err:
        sender.send(MSG)
    assert not err.value.permanent
    dead = ch.HttpSmsSender(ch.HttpGatewayConfig(url=f"http://127.0.0.1:{free_port()}/"))
    with pytest.raises(ch.DeliveryError, match="unreachable") as err:
        dead.send(MSG)
    assert err.value.connection
    with pytest.raises(ch.DeliveryError, match="http"):
        ch.HttpSmsSender(ch.HttpGatewayConfig(url="file:///etc/passwd")).send(MSG)


def test_sms_through_the_outbox(nk: Kernel, gateway: Gateway):
    configure(nk, sms_url=f"{gateway.url}/send", sms_auth_header="tok-123456789")
    gateway.status = 500
    with nk.db.transaction() as session:
        enqueue(session, "sms", "+380501234567", "", "Нагадування", "e:1:sms")
    first = process_outbox(nk.db, "w1")
    assert first.retried == 1
    with nk.db.session_factory() as session:
        row = session.scalars(select(m.OutboxMessage)).one()
        assert row.state == "pending" and "500" in row.last_error
    gateway.status = 200
    with nk.db.transaction() as session:
        session.execute(m.OutboxMessage.__table__.update().values(next_attempt_at=row.created_at))
    assert process_outbox(nk.db, "w1").sent == 1
    assert [json.loads(r["body"])["text"] for r in gateway.requests] == ["Нагадування"] * 2
    assert gateway.requests[-1]["headers"]["Authorization"] == "tok-123456789"


def test_auth_header_parsing():
    assert ch.auth_header("") is None
    assert ch.auth_header("X-Key: v:1") == ("X-Key", "v:1")
    assert ch.auth_header("Bearer abc") == ("Authorization", "Bearer abc")
    assert ch.auth_header("Basic dXNlcjpwYXNz") == ("Authorization", "Basic dXNlcjpwYXNz")


def test_template_replaces_only_the_placeholders():
    values = {"phone": "1", "text": "a{b}", "id": "k"}
    assert ch.fill_template('{"x": {"p": "{phone}"}, "t": "{text}"}', values, str) == (
        '{"x": {"p": "1"}, "t": "a{b}"}'
    )


def test_the_built_in_gateway_is_found_also_by_its_former_name():
    assert "notifications.http" in ch.gateways()
    assert ch.sms_gateway({"notifications.sms_gateway": "http"}) is ch.HTTP_GATEWAY
    assert ch.sms_gateway({}) is ch.HTTP_GATEWAY
    assert ch.senders({"notifications.sms_gateway": "missing"}) == {}


def test_email_headers():
    cfg = ch.SmtpConfig("h", 25, "none", "", "", "ТОВ «Ромашка» <crm@romashka.ua>")
    msg = ch.build_email(
        cfg, ch.OutgoingMessage("a@b.ua", "Тема\r\nBcc: evil@x.com", "Текст", "5:6:email")
    )
    raw = msg.as_bytes()
    assert b"Bcc" not in raw.split(b"\n\n", 1)[0].replace(b"Bcc: evil", b"")  # no injection
    parsed = message_from_bytes(raw, policy=email_policy.default)
    assert parsed["Subject"] == "Тема Bcc: evil@x.com"
    assert parsed["From"].addresses[0].display_name == "ТОВ «Ромашка»"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content().rstrip("\n") == "Текст"
    assert parsed["Message-ID"] == ch.message_id("5:6:email", "romashka.ua")
    assert ch.message_id("5:6:email", "x") == ch.message_id("5:6:email", "x")
    assert ch.message_id("5:6:email", "x") != ch.message_id("5.6.email", "x")
    assert ch.message_id("5:6:email", "x").startswith("<5.6.email.")


def test_smtp_login(nk: Kernel):
    box = Mailbox()
    box.port = free_port()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            b"crm",
            "пароль-123".encode(),
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        good = ch.SmtpConfig("127.0.0.1", box.port, "none", "crm", "пароль-123", "crm@x.ua")
        sender = ch.SmtpSender(good)
        sender.send(ch.OutgoingMessage("a@x.ua", "Тест", "Тіло", "t1"))
        sender.send(ch.OutgoingMessage("b@x.ua", "Тест", "Тіло", "t2"))  # same connection
        sender.close()
        assert len(box.messages) == 2
        bad = ch.SmtpSender(
            ch.SmtpConfig("127.0.0.1", box.port, "none", "crm", "ні", "c@x.ua", timeout=5)
        )
        with pytest.raises(ch.DeliveryError, match="login refused") as err:
            bad.send(ch.OutgoingMessage("a@x.ua", "Тест", "Тіло", "t3"))
        assert err.value.connection
    finally:
        controller.stop()


def test_refused_recipient_is_permanent(nk: Kernel):
    class Refusing(Mailbox):
        async def handle_RCPT(self, server, session, envelope, address, options):
            return "550 5.1.1 No such user"

    box = Refusing()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        sender = ch.SmtpSender(ch.SmtpConfig("127.0.0.1", box.port, "none", "", "", "c@x.ua"))
        with pytest.raises(ch.DeliveryError) as err:
            sender.send(ch.OutgoingMessage("nobody@x.ua", "Тест", "Тіло", "t4"))
        sender.close()
        assert err.value.permanent and "550" in str(err.value)
    finally:
        controller.stop()
