"""Helpers of the notifications tests: a recording SMTP server's mailbox, settings as the
admin page saves them, users and queued e-mails made in their own transactions."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

from addons.notifications.outbox import enqueue_many
from addons.notifications.settings_page import save_settings
from core.kernel import Kernel
from core.models import User


class Mailbox:
    """What the test SMTP server received; ``fail_next`` refusals (451) come first, and
    each message waits ``delay`` seconds before being accepted (a slow server)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.fail_next = 0
        self.delay = 0.0
        self.calls = 0
        self.port = 0

    def by_message_id(self) -> Counter[str]:
        return Counter(str(msg["Message-ID"]) for msg in self.messages)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.calls += 1
        if self.fail_next > 0:
            self.fail_next -= 1
            return "451 4.3.0 Try again later"
        if self.delay:
            # A killed client cancels this (aiosmtpd cancels the handler when the connection
            # is lost): like a real MTA, a message counts as accepted only once 250 is sent.
            await asyncio.sleep(self.delay)
        msg = message_from_bytes(envelope.original_content, policy=email_policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def configure(kernel: Kernel, **values: str) -> None:
    """Save ``notifications.<name>`` settings as the admin page would."""
    with kernel.db.transaction() as session:
        save_settings(session, {f"notifications.{k}": str(v) for k, v in values.items()})


def use_smtp(kernel: Kernel, box: Mailbox, **extra: str) -> None:
    configure(
        kernel,
        smtp_host="127.0.0.1",
        smtp_port=str(box.port),
        smtp_security="none",
        smtp_from="Віталій CRM <crm@vitrylo.test>",
        **extra,
    )


def make_user(kernel: Kernel, login: str, **fields: Any) -> int:
    with kernel.db.transaction() as session:
        user = User(login=login, name=login.title(), **fields)
        session.add(user)
        session.flush()
        return user.id


def queue(kernel: Kernel, count: int, prefix: str = "m") -> list[str]:
    keys = [f"{prefix}:{i}" for i in range(count)]
    with kernel.db.transaction() as session:
        enqueue_many(
            session,
            [
                {
                    "channel": "email",
                    "recipient": f"user{i}@example.com",
                    "subject": f"Повідомлення {i}",
                    "body": f"Текст {i}",
                    "idempotency_key": key,
                }
                for i, key in enumerate(keys)
            ],
        )
    return keys
