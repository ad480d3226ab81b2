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

from addons.crm_base.models import Channel, Counterparty, MailingList
from addons.notifications.models import OutboxMessage
from addons.sales.direct_mail import SEND
from core.models import AuditEntry
from core.testing.plugin import (
    TEST_PASSWORD,
    app_for,
    create_user,
    csrf_token,
    kernel_with,
    rolled_back,
)

READ_LISTS = ("crm_base.mailing_list.read", "crm_base.counterparty.read")


@pytest.fixture(scope="module")
def mail_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    with kernel_with(
        tmp_path_factory.mktemp("sales_mail"), ["sales", "notifications"], licensed=True
    ) as kernel:
        yield app_for(kernel)


@pytest.fixture
def db(mail_app: Flask) -> Iterator[Session]:
    with rolled_back(mail_app.extensions["vitrylo"].db) as session:
        yield session


def sign_in(app: Flask, db: Session, login: str, perms: tuple[str, ...]) -> FlaskClient:
    user = create_user(db, login, perms)
    user.language = "en"  # the tests read English texts
    db.commit()
    client = app.test_client()
    answer = client.post(
        "/login",
        data={"login": login, "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert answer.status_code == 302, answer.data
    client.user_id = user.id  # type: ignore[attr-defined]
    return client


@pytest.fixture
def sender(mail_app: Flask, db: Session) -> FlaskClient:
    return sign_in(mail_app, db, "mailer", (SEND, *READ_LISTS))


@pytest.fixture
def mailing(db: Session, sender: FlaskClient) -> MailingList:
    """Three counterparties of the sender: two e-mails (main second), one, none."""
    emails = {"ТОВ «Два»": ("other@dva.ua", "main@dva.ua"), "ТОВ «Один»": ("one@odyn.ua",)}
    for name in ("ТОВ «Два»", "ТОВ «Один»", "ТОВ «Жоден»"):
        record = Counterparty(name=name, manager_id=sender.user_id)
        db.add(record)
        db.flush()
        for index, value in enumerate(emails.get(name, ())):
            db.add(
                Channel(counterparty_id=record.id, kind="email", value=value, is_primary=index == 1)
            )
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


def test_mail_queued_per_member_once(mail_app, db, sender, mailing):
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


def test_bad_input_sends_nothing(mail_app, db, sender, mailing):
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


def test_rights(mail_app, db, mailing):
    """MS-4: without "Send direct mail" 403; a list the sender may not read is no choice,
    and members out of the sender's scope get nothing."""
    reader = sign_in(mail_app, db, "reader", READ_LISTS)
    assert reader.get("/sales/mail").status_code == 403
    blind = sign_in(mail_app, db, "blind", (SEND,))
    assert "Клієнти" not in blind.get("/sales/mail").get_data(as_text=True)
    answer = send(blind, form_fields(blind), mailing_list_id=mailing.id, subject="Т", body="Т")
    assert answer.status_code == 400
    stranger = sign_in(mail_app, db, "stranger", (SEND, *READ_LISTS))  # own scope: none theirs
    answer = send(
        stranger, form_fields(stranger), mailing_list_id=mailing.id, subject="Т", body="Т"
    )
    assert answer.status_code == 303
    assert outbox(db) == []


def test_menu_shows_direct_mail(mail_app, sender):
    """MS-4: with notifications installed the menu offers "Direct mail"."""
    assert 'href="/sales/mail"' in sender.get("/").get_data(as_text=True)


def test_hidden_without_notifications(sales_app, slogin: Callable[..., FlaskClient]):
    """MS-4: the shared sales app has no notifications: no menu item, the page is 404."""
    client = slogin(superuser=True)
    assert 'href="/sales/mail"' not in client.get("/").get_data(as_text=True)
    assert client.get("/sales/mail").status_code == 404
    answer = client.post("/sales/mail", data={"csrf_token": csrf_token(sales_app, client)})
    assert answer.status_code == 404
