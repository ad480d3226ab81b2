"""Direct mail (MS-4, CL-8): an e-mail to a mailing list's members, queued in the
notifications outbox once per member with an e-mail, once per form (a double click sends
once); hidden and 404 without the notifications addon."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import MailingList
from addons.notifications.models import OutboxMessage
from addons.sales.direct_mail import SEND
from addons.sales.tests.helpers import make_counterparty
from core.kernel import Kernel
from core.models import AuditEntry
from core.testing.plugin import (
    csrf_token,
    rolled_back,
    signed_in_client,
)

pytest_plugins = ("addons.sales.tests.helpers",)  # nkernel, napp: sales with notifications

READ_LISTS = ("crm_base.mailing_list.read", "crm_base.counterparty.read")


@pytest.fixture
def db(nkernel: Kernel) -> Iterator[Session]:
    with rolled_back(nkernel.db) as session:
        yield session


@pytest.fixture
def sender(napp: Flask, db: Session) -> FlaskClient:
    return signed_in_client(napp, db, "mailer", (SEND, *READ_LISTS), language="en")


@pytest.fixture
def mailing(db: Session, sender: FlaskClient) -> MailingList:
    """Three counterparties of the sender: two e-mails (main second), one, none."""
    emails = {"ТОВ «Два»": ("other@dva.ua", "main@dva.ua"), "ТОВ «Один»": ("one@odyn.ua",)}
    for name in ("ТОВ «Два»", "ТОВ «Один»", "ТОВ «Жоден»"):
        make_counterparty(db, name, sender.user_id, *emails.get(name, ()), kind="email")
    mailing = MailingList(name="Клієнти", subject="counterparty", query="", owner_id=sender.user_id)
    db.add(mailing)
    db.commit()
    return mailing


def form_fields(client: FlaskClient) -> dict[str, str]:
    """The hidden fields of the compose page (CSRF token, mailing id)."""
    page = client.get("/sales/mail")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    return {
        name: unescape(value)
        for name, value in re.findall(r'name="(csrf_token|mailing_id)"[^>]*value="([^"]*)"', text)
    }


def send(client: FlaskClient, fields: dict[str, str], **data: Any):  # type: ignore[no-untyped-def]
    return client.post("/sales/mail", data={**fields, **data})


def outbox(db: Session) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).order_by(OutboxMessage.recipient)))


def test_mail_queued_per_member_once(napp, db, sender, mailing):
    """MS-4: one outbox e-mail per member with an e-mail (the main address), members
    without one counted; the same form posted again queues nothing; audited."""
    chosen = sender.get(f"/sales/mail?list={mailing.id}").get_data(as_text=True)
    assert f'<option selected value="{mailing.id}">' in chosen
    fields = form_fields(sender)
    letter = {"mailing_list_id": mailing.id, "subject": "Знижки у травні", "body": "Шановні!"}
    answer = send(sender, fields, **letter)
    assert answer.status_code == 303, answer.data
    page = sender.get(answer.location).get_data(as_text=True)
    assert "E-mails queued: 2." in page and "Members without an e-mail address: 1." in page
    rows = outbox(db)
    assert [(r.channel, r.recipient, r.subject, r.body) for r in rows] == [
        ("email", "main@dva.ua", "Знижки у травні", "Шановні!"),
        ("email", "one@odyn.ua", "Знижки у травні", "Шановні!"),
    ]

    answer = send(sender, fields, **letter)  # the double click
    assert "already queued" in sender.get(answer.location).get_data(as_text=True)
    assert len(outbox(db)) == 2
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "direct_mail")).all()
    assert len(entries) == 2 and '"queued": 2' in entries[0].changes

    send(sender, form_fields(sender), **letter)  # a new mailing sends again
    assert len(outbox(db)) == 4


def test_bad_input_sends_nothing(napp, db, sender, mailing):
    """MS-4: a missing subject, an unknown list or a forged mailing id: 400, nothing queued."""
    fields = form_fields(sender)
    for data in (
        {"mailing_list_id": mailing.id, "subject": "", "body": "Текст"},
        {"mailing_list_id": 999_999, "subject": "Тема", "body": "Текст"},
        {"mailing_list_id": mailing.id, "subject": "Тема", "body": ""},
    ):
        answer = send(sender, fields, **data)
        assert answer.status_code == 400
        assert "Nothing was sent" in answer.get_data(as_text=True)
    forged = {**fields, "mailing_id": "../../x"}
    answer = send(sender, forged, mailing_list_id=mailing.id, subject="Т", body="Т")
    assert answer.status_code == 400
    assert "The form has expired" in answer.get_data(as_text=True)
    assert outbox(db) == []


def test_rights(napp, db, mailing):
    """MS-4: without "Send direct mail" 403; a list the sender may not read is no choice,
    and members out of the sender's scope get nothing."""
    reader = signed_in_client(napp, db, "reader", READ_LISTS, language="en")
    assert reader.get("/sales/mail").status_code == 403
    blind = signed_in_client(napp, db, "blind", (SEND,), language="en")
    assert "Клієнти" not in blind.get("/sales/mail").get_data(as_text=True)
    answer = send(blind, form_fields(blind), mailing_list_id=mailing.id, subject="Т", body="Т")
    assert answer.status_code == 400
    # own scope: the members are none of theirs
    stranger = signed_in_client(napp, db, "stranger", (SEND, *READ_LISTS), language="en")
    answer = send(
        stranger, form_fields(stranger), mailing_list_id=mailing.id, subject="Т", body="Т"
    )
    assert answer.status_code == 303
    assert outbox(db) == []


def test_menu_shows_direct_mail(napp, sender):
    """MS-4: with notifications installed the menu offers "Direct mail"."""
    assert 'href="/sales/mail"' in sender.get("/").get_data(as_text=True)


def test_hidden_without_notifications(sales_app, slogin: Callable[..., FlaskClient]):
    """MS-4: the shared sales app has no notifications: no menu item, the page is 404."""
    client = slogin(superuser=True)
    assert 'href="/sales/mail"' not in client.get("/").get_data(as_text=True)
    assert client.get("/sales/mail").status_code == 404
    answer = client.post("/sales/mail", data={"csrf_token": csrf_token(sales_app, client)})
    assert answer.status_code == 404
