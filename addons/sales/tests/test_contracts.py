"""Contracts (MS-7): creating and editing, "from a proposal", the printed contract, record
scope and rights, bad input, the purchase history (CL-5), reminders and the expiring
contracts job with the notifications addon."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.models import Counterparty
from addons.sales import contracts
from addons.sales.models import Contract
from addons.sales.tests.helpers import as_user, count, make_person
from addons.sales.tests.test_proposals import make_proposal
from core.kernel import Kernel
from core.models import Setting
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token

pytest_plugins = ("addons.sales.tests.helpers",)  # nkernel, napp: sales with notifications

READ = "sales.contract.read"
PERMS = (
    READ,
    "sales.contract.create",
    "sales.contract.update",
    "sales.contract.delete",
    "sales.proposal.read",
    "crm_base.counterparty.read",
)
WORDS = "Сто двадцять тисяч гривень 50 копійок"


def form_data(client: Any, app: Flask, counterparty_id: int, **fields: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf_token(app, client),
        "number": "ДГ-2031-0001",
        "counterparty_id": f"#{counterparty_id}",
        "opportunity_id": "",
        "proposal_id": "",
        "subject": "Постачання обладнання",
        "signed_on": "2031-03-01",
        "starts_on": "2031-03-01",
        "ends_on": "2031-12-31",
        "amount": "120 000,50",
        "currency": "UAH",
        "status": "active",
        "template": "standard",
        "responsible_id": str(client.user_id),
    }
    data.update(fields)
    return data


def make_contract(
    sdb: Session, counterparty_id: int, responsible_id: int | None, number: str, **kw: Any
) -> Contract:
    record = Contract(
        number=number,
        counterparty_id=counterparty_id,
        responsible_id=responsible_id,
        subject=kw.pop("subject", "Послуги"),
        amount=kw.pop("amount", Decimal("1000.00")),
        status=kw.pop("status", "active"),
        **kw,
    )
    sdb.add(record)
    sdb.commit()
    return record


# -- creating and editing -----------------------------------------------------------------


def test_create_then_edit(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: a contract with its dates and amount ("120 000,50" typed the Ukrainian way);
    the suggested number of a new one is the year's next."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    page = client.get(f"/sales/contracts/new?counterparty={cp.id}").get_data(as_text=True)
    assert f"ДГ-{date.today().year}-0001" in page and f"(#{cp.id})" in page
    response = client.post("/sales/contracts/new", data=form_data(client, sales_app, cp.id))
    assert response.status_code == 303, response.get_data(as_text=True)
    record = sdb.scalars(select(Contract)).one()
    assert (record.number, record.amount, record.status) == (
        "ДГ-2031-0001",
        Decimal("120000.50"),
        "active",
    )
    assert (record.starts_on, record.ends_on) == (date(2031, 3, 1), date(2031, 12, 31))
    edit = form_data(client, sales_app, cp.id, version=str(record.version), status="completed")
    assert client.post(f"/sales/contracts/{record.id}/edit", data=edit).status_code == 303
    sdb.expire_all()
    assert sdb.get(Contract, record.id).status == "completed"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_on": "2031-02-28"}, "The contract cannot end before it starts."),
        ({"amount": "-1"}, "The amount cannot be negative."),
        ({"amount": ""}, "Enter the amount."),
        ({"number": ""}, "This field is required."),
        ({"counterparty_id": ""}, "Choose a counterparty."),
        ({"starts_on": "31.02.2031"}, "Not a valid date value."),
    ],
)
def test_bad_input_saves_nothing(sales_app, sdb, slogin, counterparty, change, message) -> None:
    """MS-7: a wrong field answers 400 with its message; nothing is saved."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    data = form_data(client, sales_app, cp.id)
    data.update(change)
    response = client.post("/sales/contracts/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(sdb, Contract) == 0


def test_duplicate_number_is_refused(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: contract numbers are unique, also against another manager's contract and when
    editing; a contract keeps its own number."""
    client = slogin(PERMS)
    other = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    make_contract(sdb, cp.id, other.user_id, "ДГ-2031-0001")
    response = client.post("/sales/contracts/new", data=form_data(client, sales_app, cp.id))
    assert response.status_code == 400
    assert "A contract with this number exists already." in response.get_data(as_text=True)
    assert count(sdb, Contract) == 1
    mine = make_contract(sdb, cp.id, client.user_id, "ДГ-2031-0002")
    url = f"/sales/contracts/{mine.id}/edit"
    same = form_data(client, sales_app, cp.id, number="ДГ-2031-0002", version=str(mine.version))
    assert client.post(url, data=same).status_code == 303
    taken = {**same, "number": "ДГ-2031-0001", "version": str(mine.version)}
    assert client.post(url, data=taken).status_code == 400
    sdb.expire_all()
    assert sdb.get(Contract, mine.id).number == "ДГ-2031-0002"


def test_from_a_proposal(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: "Contract from a proposal" takes its counterparty, amount and subject."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    proposal = make_proposal(sdb, cp.id, client.user_id, "КП-2031-0005", total=Decimal("1200.00"))
    page = client.get(f"/sales/proposals/{proposal.id}/contract").get_data(as_text=True)
    assert 'value="1200.00"' in page
    assert "Послуга (комерційна пропозиція № КП-2031-0005)" in page
    assert f'<option selected value="{proposal.id}">КП-2031-0005</option>' in page
    data = form_data(client, sales_app, cp.id, proposal_id=str(proposal.id), amount="1200.00")
    url = f"/sales/proposals/{proposal.id}/contract"
    assert client.post(url, data=data).status_code == 303
    assert sdb.scalars(select(Contract.proposal_id)).one() == proposal.id
    other = slogin(PERMS)
    assert other.get(url).status_code == 404


# -- printing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["standard", "short"])
def test_pdf_has_parties_amount_and_term(sales_app, sdb, slogin, counterparty, template) -> None:
    """MS-7: the printed contract: a PDF with the amount in figures and words and the term."""
    client = slogin(PERMS)
    cp = counterparty("ТОВ «Замовник»", manager_id=client.user_id)
    record = make_contract(
        sdb,
        cp.id,
        client.user_id,
        "ДГ-2031-0009",
        amount=Decimal("120000.50"),
        starts_on=date(2031, 3, 1),
        ends_on=date(2031, 12, 31),
        template=template,
    )
    response = client.get(f"/print/sales.contract/{record.id}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(response.data)).pages
    )
    assert "Договір № ДГ-2031-0009" in text and "ТОВ «Замовник»" in text
    assert "120 000,50 грн" in text.replace("\u00a0", " ")
    assert WORDS in text
    assert "Договір діє з 01.03.2031 до 31.12.2031" in text


# -- scope and rights -----------------------------------------------------------------------


def test_another_managers_contract_is_404(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: list, card, edit and PDF see only the user's own contracts (own scope)."""
    owner = slogin(PERMS)
    client = slogin(PERMS)
    cp = counterparty(manager_id=owner.user_id)
    theirs = make_contract(sdb, cp.id, owner.user_id, "ДГ-2031-0077")
    assert "ДГ-2031-0077" not in client.get("/sales/contracts").get_data(as_text=True)
    assert "ДГ-2031-0077" in owner.get("/sales/contracts").get_data(as_text=True)
    for url in (
        f"/sales/contracts/{theirs.id}",
        f"/sales/contracts/{theirs.id}/edit",
        f"/print/sales.contract/{theirs.id}",
        "/sales/contracts/424242",
        "/print/sales.contract/424242",
    ):
        assert client.get(url).status_code == 404, url
    token = csrf_token(sales_app, client)
    assert (
        client.post(f"/sales/contracts/{theirs.id}/delete", data={"csrf_token": token}).status_code
        == 404
    )


def test_rights_are_checked(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: 403 without the rights; a reader cannot save or delete."""
    owner = slogin(PERMS)
    cp = counterparty(manager_id=owner.user_id)
    record = make_contract(sdb, cp.id, owner.user_id, "ДГ-2031-0001")
    nobody = slogin(["crm_base.counterparty.read"])
    for url in (
        "/sales/contracts",
        "/sales/contracts/new",
        f"/sales/contracts/{record.id}",
        f"/print/sales.contract/{record.id}",
    ):
        assert nobody.get(url).status_code == 403, url
    reader = slogin([READ], scopes={"sales.contract": "all"})
    assert reader.get(f"/sales/contracts/{record.id}").status_code == 200
    token = csrf_token(sales_app, reader)
    for url in (f"/sales/contracts/{record.id}/edit", f"/sales/contracts/{record.id}/delete"):
        assert reader.post(url, data={"csrf_token": token}).status_code == 403


# -- the card's purchase history, chronology, search, reminders, merge ------------------------


def test_purchase_history_lists_contracts_with_active_total(
    sales_app, sdb, slogin, counterparty
) -> None:
    """CL-5: the tab shows the contracts the user reaches and the total of active ones."""
    client = slogin(PERMS)
    other = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    make_contract(sdb, cp.id, client.user_id, "ДГ-1", amount=Decimal("1000.00"))
    make_contract(sdb, cp.id, client.user_id, "ДГ-2", amount=Decimal("500.00"), status="completed")
    make_contract(sdb, cp.id, other.user_id, "ДГ-3", amount=Decimal("9999.00"))
    html = client.get(
        f"/sales/counterparties/{cp.id}/purchases", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "ДГ-1" in html and "ДГ-2" in html and "ДГ-3" not in html
    assert "active: 1\u00a0000,00" in html
    make_contract(sdb, cp.id, client.user_id, "ДГ-4", signed_on=date(2031, 3, 1), status="draft")
    card = client.get(f"/crm/counterparties/{cp.id}").get_data(as_text=True)
    assert "Contract ДГ-4 signed" in card
    found = client.get("/search", query_string={"q": "дг-"}).get_data(as_text=True)
    assert "Contract ДГ-1" in found and "ДГ-3" not in found


def test_reminders_of_contracts_ending_soon(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: the user's active contracts ending within the setting's days are reminders."""
    client = slogin(PERMS)
    other = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    day = date(2031, 6, 1)
    make_contract(sdb, cp.id, client.user_id, "ДГ-SOON", ends_on=day + timedelta(days=30))
    make_contract(sdb, cp.id, client.user_id, "ДГ-LATER", ends_on=day + timedelta(days=31))
    make_contract(sdb, cp.id, client.user_id, "ДГ-DONE", ends_on=day, status="completed")
    make_contract(sdb, cp.id, other.user_id, "ДГ-OTHER", ends_on=day)
    with sales_app.test_request_context(), force_locale("en"):
        user = as_user(sdb, client.user_id)
        found = contracts.reminders(user, day)
        assert [(r.title, r.due, r.kind) for r in found] == [
            ("Contract ДГ-SOON ends", day + timedelta(days=30), "sales.contract")
        ]
        assert not found[0].can_snooze and not found[0].can_mark_done
        sdb.add(Setting(name=contracts.EXPIRY_SETTING, value="5"))
        sdb.flush()
        assert contracts.reminders(user, day) == []
        assert contracts.reminders(as_user(sdb, slogin([]).user_id), day) == []


def test_merge_moves_contracts(sales_app, sdb, slogin, counterparty) -> None:
    """CL-5: merging a duplicate counterparty moves its contracts to the one kept."""
    client = slogin(PERMS)
    source, target = counterparty("Дубль"), counterparty("Основний")
    record = make_contract(sdb, source.id, client.user_id, "ДГ-1")
    assert contracts.merge_records(COUNTERPARTY, source.id, target.id, sdb) == 1
    sdb.expire_all()
    assert sdb.get(Contract, record.id).counterparty_id == target.id


# -- with the notifications addon -----------------------------------------------------------


def _seed(session: Session, name: str) -> tuple[int, int]:
    """A user (with rights on proposals) and a counterparty of theirs."""
    user = create_user(session, name, ["sales.proposal.read", "sales.proposal.update"])
    cp = Counterparty(name=f"ТОВ «{name}»", manager_id=user.id)
    session.add(cp)
    session.commit()
    return user.id, cp.id


def test_expiring_contracts_are_raised_once(nkernel: Kernel, napp: Flask) -> None:
    """MS-7: the hourly job raises ``sales.contract_expiring`` once per contract and end
    date, for active contracts ending within the setting's days, to the responsible."""
    from addons.notifications.models import Event, Notification

    today = date.today()
    with nkernel.db.session_factory() as session:
        uid, cp = _seed(session, "expiry")
        for number, ends, status in (
            ("ДГ-E1", today + timedelta(days=10), "active"),
            ("ДГ-E2", today + timedelta(days=90), "active"),
            ("ДГ-E3", today + timedelta(days=5), "completed"),
        ):
            make_contract(session, cp, uid, number, ends_on=ends, status=status)
    with napp.app_context():
        contracts.expiry_job(napp)
        contracts.expiry_job(napp)
    with nkernel.db.session_factory() as session:
        events = session.execute(
            select(Event.key, Event.title).where(Event.type == contracts.EXPIRING)
        ).all()
        assert len(events) == 1
        assert "ДГ-E1" in events[0].title
        assert session.scalar(select(Notification.user_id)) == uid
        # A wider window finds the second contract; a new end date warns again.
        session.add(Setting(name=contracts.EXPIRY_SETTING, value="100"))
        assert contracts.scan_expiring_contracts(session, today, nkernel.hooks) == 1
        moved = session.scalars(select(Contract).where(Contract.number == "ДГ-E1")).one()
        moved.ends_on = today + timedelta(days=20)
        assert contracts.scan_expiring_contracts(session, today, nkernel.hooks) == 1
        assert contracts.scan_expiring_contracts(session, today, nkernel.hooks) == 0
        session.rollback()


def test_sending_a_proposal_queues_an_email(nkernel: Kernel, napp: Flask) -> None:
    """MS-7: with notifications enabled, "Send" queues an e-mail with the PDF's link to the
    contact person, in the same transaction as the status."""
    from addons.notifications.models import OutboxMessage

    with nkernel.db.session_factory() as session:
        uid, cp = _seed(session, "sender")
        person = make_person(session, uid, email="koval@example.com")
        proposal = make_proposal(session, cp, uid, "КП-2031-0100", person_id=person.id)
        proposal_id, version = proposal.id, proposal.version
    client = napp.test_client()
    form = {"login": "sender", "password": TEST_PASSWORD, "csrf_token": csrf_token(napp, client)}
    assert client.post("/login", data=form).status_code == 302
    response = client.post(
        f"/sales/proposals/{proposal_id}/status",
        data={"csrf_token": csrf_token(napp, client), "version": version, "to": "sent"},
    )
    assert response.status_code == 303
    with nkernel.db.session_factory() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == "koval@example.com")
        ).one()
        assert "КП-2031-0100" in message.subject
        assert f"/print/sales.proposal/{proposal_id}" in message.body
