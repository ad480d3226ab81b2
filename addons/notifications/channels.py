"""Delivery channels of the outbox (NT-4): e-mail over SMTP and SMS through a gateway.

The outbox (:mod:`addons.notifications.outbox`) asks :func:`senders` for one sender per
configured channel and hands it the messages of a batch; a sender keeps its connection open
for the whole batch (one SMTP session for fifty e-mails, not fifty handshakes).

Settings live in ``core_setting`` under ``notifications.*`` (declared through the
``settings`` hook, see :func:`setting_defs`); :func:`read_settings` merges them over the
defaults. SMS gateways are pluggable through the ``sms_gateways`` hook; the generic HTTP
gateway is this addon's own contribution.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses
from functools import cached_property
from typing import Protocol

from flask import has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.hooktypes import SettingDef, SmsGateway
from core.models import Setting

PREFIX = "notifications."
SMTP_SECURITY = ("starttls", "ssl", "none")
SMS_METHODS = ("POST", "GET", "PUT")
SMS_CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain")
DEFAULT_SMS_TEMPLATE = '{"phone": "{phone}", "text": "{text}"}'
SMTP_TIMEOUT = 30.0
HTTP_TIMEOUT = 15.0
SMS_MAX_LENGTH = 480  # three SMS parts in Latin, about seven in Cyrillic: enough for a title


def setting_defs() -> list[SettingDef]:
    """The settings of the notifications addon (the ``settings`` hook returns these)."""
    s = SettingDef
    return [
        s("notifications.smtp_host", _l("SMTP server"), default=""),
        s("notifications.smtp_port", _l("SMTP port"), "int", 587),
        s(
            "notifications.smtp_security",
            _l("SMTP security"),
            default="starttls",
            help=_l("starttls (port 587), ssl (port 465) or none (a local relay only)."),
        ),
        s("notifications.smtp_user", _l("SMTP user"), default=""),
        s("notifications.smtp_password", _l("SMTP password"), "secret", ""),
        s(
            "notifications.smtp_from",
            _l("Sender address"),
            default="",
            help=_l('For example "CRM <crm@example.com>".'),
        ),
        s("notifications.sms_gateway", _l("SMS gateway"), default="notifications.http"),
        s("notifications.sms_url", _l("SMS gateway URL"), default=""),
        s("notifications.sms_method", _l("HTTP method"), default="POST"),
        s(
            "notifications.sms_auth_header",
            _l("Authorization header"),
            "secret",
            "",
            help=_l(
                '"Name: value", e.g. "Authorization: Bearer …"; a bare value means Authorization.'
            ),
        ),
        s("notifications.sms_content_type", _l("Request body type"), default="application/json"),
        s(
            "notifications.sms_body_template",
            _l("Request body template"),
            default=DEFAULT_SMS_TEMPLATE,
            help=_l("{phone}, {text} and {id} are replaced (escaped for the body type)."),
        ),
        s(
            "notifications.site_url",
            _l("Address of the application"),
            default="",
            help=_l("Used for links in e-mails, e.g. https://crm.example.com"),
        ),
        s("notifications.timezone", _l("Time zone of the scans"), default="Europe/Kyiv"),
    ]


def defaults() -> dict[str, str]:
    """Every setting's default as the text stored in ``core_setting``."""
    return {d.name: "" if d.default is None else str(d.default) for d in setting_defs()}


def secret_names() -> frozenset[str]:
    return frozenset(d.name for d in setting_defs() if d.type == "secret")


def read_settings(session: Session) -> dict[str, str]:
    """The addon's settings: stored values over the declared defaults (one query)."""
    values = defaults()
    rows = session.execute(
        select(Setting.name, Setting.value).where(Setting.name.in_(list(values)))
    )
    values.update({name: value for name, value in rows})
    return values


# -- what senders share -------------------------------------------------------------------


@dataclass(frozen=True)
class OutgoingMessage:
    """One message as a sender sees it; ``key`` is the outbox idempotency key."""

    recipient: str
    subject: str
    body: str
    key: str


class DeliveryError(Exception):
    """A message was not delivered. ``permanent``: retrying cannot help (a refused address);
    ``connection``: the server itself is unreachable, so the rest of the batch would fail
    the same way and is put back without trying."""

    def __init__(self, message: str, permanent: bool = False, connection: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection = connection


class Sender(Protocol):
    """Sends messages of one channel; may keep a connection open until :meth:`close`."""

    def send(self, message: OutgoingMessage) -> None: ...

    def close(self) -> None: ...


# -- e-mail -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    user: str
    password: str
    sender: str
    timeout: float = SMTP_TIMEOUT

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> SmtpConfig:
        try:
            port = int(values.get(f"{PREFIX}smtp_port") or 587)
        except ValueError:
            port = 587
        security = values.get(f"{PREFIX}smtp_security") or "starttls"
        return cls(
            host=(values.get(f"{PREFIX}smtp_host") or "").strip(),
            port=port,
            security=security if security in SMTP_SECURITY else "starttls",
            user=values.get(f"{PREFIX}smtp_user") or "",
            password=values.get(f"{PREFIX}smtp_password") or "",
            sender=(values.get(f"{PREFIX}smtp_from") or "").strip(),
        )

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender_address)

    @property
    def sender_address(self) -> str:
        """The bare address of ``sender`` (``crm@example.com`` of ``CRM <crm@example.com>``)."""
        return self._sender[1]

    @cached_property
    def _sender(self) -> tuple[str, str]:
        pairs = getaddresses([self.sender])
        name, addr = pairs[0] if pairs else ("", "")
        return _one_line(name), addr if "@" in addr else ""

    @cached_property
    def from_header(self) -> str:
        name, addr = self._sender
        return formataddr((name, addr), charset="utf-8")

    @property
    def domain(self) -> str:
        return self._sender[1].rpartition("@")[2]


def message_id(key: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key only: a retry of the same outbox row
    carries the same Message-ID, so a receiving system that deduplicates by it (most
    mailbox providers do) shows a message delivered twice once."""
    left = re.sub(r"[^A-Za-z0-9.-]+", ".", key).strip(".")[:60] or "m"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    domain = re.sub(r"[^A-Za-z0-9.-]+", "", domain) or "vitrylo.invalid"
    return f"<{left}.{digest}@{domain}>"


def _one_line(text: str) -> str:
    """Header values on one line: a title with a newline must not inject headers."""
    return " ".join(text.split())


ADDRESS_RE = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+")


def build_email(config: SmtpConfig, message: OutgoingMessage) -> Message:
    """A UTF-8 e-mail: the subject and the sender's name RFC 2047-encoded, the body base64.

    Built with the compat32 classes (``MIMEText``, ``Header``), about four times cheaper
    than ``EmailMessage``'s header registry, which dominated the outbox's throughput."""
    if not ADDRESS_RE.fullmatch(message.recipient):
        raise DeliveryError(f"not an e-mail address: {message.recipient!r}", permanent=True)
    msg = MIMEText(message.body, "plain", "utf-8")
    msg["From"] = config.from_header
    msg["To"] = message.recipient
    msg["Subject"] = Header(_one_line(message.subject), "utf-8", header_name="Subject")
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id(message.key, config.domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to robots
    return msg


def _smtp_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return DeliveryError(f"recipient refused: {exc.recipients}", permanent=min(codes) >= 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return DeliveryError(f"SMTP login refused: {exc.smtp_code} {text}", connection=True)
        return DeliveryError(f"SMTP {exc.smtp_code} {text}", permanent=exc.smtp_code >= 500)
    return DeliveryError(f"SMTP: {type(exc).__name__}: {exc}")


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """``SMTP.login``, except that a non-ASCII user or password (which smtplib cannot
    encode) goes as AUTH PLAIN in UTF-8 (RFC 4616)."""
    if (user + password).isascii():
        conn.login(user, password)
        return
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    code, reply = conn.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


class SmtpSender:
    """Sends e-mails over one SMTP connection, opened at the first message."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._conn: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        context = ssl.create_default_context()
        try:
            if cfg.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    cfg.host, cfg.port, timeout=cfg.timeout, context=context
                )
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            try:
                conn.ehlo()
                if cfg.security == "starttls":
                    conn.starttls(context=context)
                    conn.ehlo()
                if cfg.user:
                    _login(conn, cfg.user, cfg.password)
            except BaseException:
                conn.close()
                raise
        except smtplib.SMTPAuthenticationError as exc:
            raise _smtp_error(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}",
                connection=True,
            ) from exc
        return conn

    def send(self, message: OutgoingMessage) -> None:
        if self._conn is None:
            self._conn = self._connect()
        msg = build_email(self.config, message)
        try:
            self._conn.send_message(
                msg, from_addr=self.config.sender_address, to_addrs=[message.recipient]
            )
        except smtplib.SMTPServerDisconnected as exc:
            self.close()  # the next message reconnects
            raise DeliveryError(f"SMTP connection lost: {exc}") from exc
        except smtplib.SMTPException as exc:  # (a subclass of OSError: caught first)
            raise _smtp_error(exc) from exc
        except OSError as exc:
            self.close()
            raise DeliveryError(f"SMTP connection lost: {exc}") from exc

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()


# -- SMS: the generic HTTP gateway -----------------------------------------------------


@dataclass(frozen=True)
class HttpGatewayConfig:
    url: str
    method: str = "POST"
    auth_header: str = ""
    content_type: str = "application/json"
    body_template: str = DEFAULT_SMS_TEMPLATE
    timeout: float = HTTP_TIMEOUT

    @classmethod
    def from_settings(cls, values: Mapping[str, str]) -> HttpGatewayConfig:
        method = (values.get(f"{PREFIX}sms_method") or "POST").upper()
        ctype = values.get(f"{PREFIX}sms_content_type") or "application/json"
        return cls(
            url=(values.get(f"{PREFIX}sms_url") or "").strip(),
            method=method if method in SMS_METHODS else "POST",
            auth_header=values.get(f"{PREFIX}sms_auth_header") or "",
            content_type=ctype if ctype in SMS_CONTENT_TYPES else "text/plain",
            body_template=values.get(f"{PREFIX}sms_body_template") or DEFAULT_SMS_TEMPLATE,
        )

    @property
    def configured(self) -> bool:
        return self.url.startswith(("http://", "https://"))


def _escape_for(content_type: str) -> Callable[[str], str]:
    if content_type == "application/json":
        return lambda value: json.dumps(value, ensure_ascii=False)[1:-1]
    if content_type == "application/x-www-form-urlencoded":
        return lambda value: urllib.parse.quote_plus(value)
    return lambda value: value


def fill_template(template: str, values: Mapping[str, str], escape: Callable[[str], str]) -> str:
    """Replace ``{phone}``, ``{text}``, ``{id}`` (only those: JSON braces stay as they are)."""
    return re.sub(r"\{(phone|text|id)\}", lambda m: escape(values[m.group(1)]), template)


def auth_header(line: str) -> tuple[str, str] | None:
    """``"X-Api-Key: abc"`` → ``("X-Api-Key", "abc")``; a bare value is an Authorization."""
    line = line.strip()
    if not line:
        return None
    name, sep, value = line.partition(":")
    if sep and re.fullmatch(r"[A-Za-z0-9-]+", name.strip()):
        return name.strip(), value.strip()
    return "Authorization", line


class HttpSmsSender:
    """Sends an SMS as one HTTP request; any 2xx answer means the gateway took it."""

    def __init__(self, config: HttpGatewayConfig) -> None:
        self.config = config

    def request(self, message: OutgoingMessage) -> urllib.request.Request:
        cfg = self.config
        if not cfg.configured:  # http(s) only: never file:// or a custom scheme
            raise DeliveryError("the SMS gateway URL must start with http:// or https://")
        values = {"phone": message.recipient, "text": message.body, "id": message.key}
        url = fill_template(cfg.url, values, lambda v: urllib.parse.quote(v, safe=""))
        data = None
        headers = {"Idempotency-Key": message.key, "User-Agent": "Vitrylo"}
        if cfg.method != "GET":
            body = fill_template(cfg.body_template, values, _escape_for(cfg.content_type))
            data = body.encode("utf-8")
            headers["Content-Type"] = f"{cfg.content_type}; charset=utf-8"
        auth = auth_header(cfg.auth_header)
        if auth:
            headers[auth[0]] = auth[1]
        return urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=data, headers=headers, method=cfg.method
        )

    def send(self, message: OutgoingMessage) -> None:
        try:
            with urllib.request.urlopen(  # noqa: S310 - the URL is the admin's own setting
                self.request(message), timeout=self.config.timeout
            ) as response:
                status = response.status
                response.read(65536)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace")
            raise DeliveryError(f"SMS gateway answered {exc.code}: {detail}") from exc
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"SMS gateway unreachable: {exc}", connection=True) from exc
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS gateway answered {status}")

    def close(self) -> None:
        return None


# -- the gateway registry -------------------------------------------------------------


HTTP_GATEWAY = SmsGateway(
    "notifications.http",
    _l("Generic HTTP gateway"),
    lambda values: HttpSmsSender(HttpGatewayConfig.from_settings(values)),
    lambda values: HttpGatewayConfig.from_settings(values).configured,
)
FORMER_NAMES = {"http": HTTP_GATEWAY.name}  # what older settings may still hold


def gateways() -> dict[str, SmsGateway]:
    """The gateways every enabled addon offers (``sms_gateways`` hook); the built-in HTTP
    gateway also outside a request (scripts, the worker before its app context)."""
    found = {HTTP_GATEWAY.name: HTTP_GATEWAY}
    if has_app_context():
        from core.web import kernel

        found |= {gateway.name: gateway for gateway in kernel().hooks.sms_gateways()}
    return found


def sms_gateway(values: Mapping[str, str]) -> SmsGateway | None:
    name = values.get(f"{PREFIX}sms_gateway") or HTTP_GATEWAY.name
    return gateways().get(FORMER_NAMES.get(name, name))


def senders(values: Mapping[str, str]) -> dict[str, Sender]:
    """A sender for each channel whose settings are complete; messages of the others wait."""
    result: dict[str, Sender] = {}
    smtp = SmtpConfig.from_settings(values)
    if smtp.configured:
        result["email"] = SmtpSender(smtp)
    gateway = sms_gateway(values)
    if gateway is not None and gateway.configured(values):
        result["sms"] = gateway.factory(values)
    return result
