"""Telemarketing (MS-3): call campaigns over mailing lists, the queue built from the
members' phones, the operator's queue with atomic claims, outcomes recorded as contacts
(and "interested" as an opportunity), the progress page, merges."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from addons.crm_base.models import Channel, Counterparty, MailingList
from addons.sales import telemarketing as tm
from addons.sales.models import Call, Campaign, CampaignOperator, Contact, Opportunity
from addons.sales.tests.helpers import make_counterparty, make_person, post
from core.db import utcnow

MANAGE = (tm.READ, tm.CREATE, tm.UPDATE, tm.DELETE)
LISTS = ("crm_base.mailing_list.read", "crm_base.counterparty.read", "crm_base.person.read")


def aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive UTC datetimes."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def add_list(sdb: Session, owner_id: int, subject: str = "counterparty") -> MailingList:
    mailing = MailingList(name=f"List of {owner_id}", subject=subject, query="", owner_id=owner_id)
    sdb.add(mailing)
    sdb.commit()
    return mailing


def add_campaign(
    sdb: Session, responsible_id: int, operators: tuple[int, ...] = (), **kw: Any
) -> Campaign:
    record = Campaign(name=kw.pop("name", "Spring calls"), responsible_id=responsible_id, **kw)
    sdb.add(record)
    sdb.flush()
    sdb.add_all(CampaignOperator(campaign_id=record.id, user_id=u) for u in operators)
    sdb.commit()
    return record


def calls_of(sdb: Session, campaign_id: int) -> list[Call]:
    sdb.expire_all()
    return list(sdb.scalars(select(Call).where(Call.campaign_id == campaign_id).order_by(Call.id)))


@pytest.fixture
def setup(sales_app: Flask, sdb: Session, slogin: Callable[..., FlaskClient]) -> dict[str, Any]:
    """A manager with a list of two counterparties with phones, an active campaign with a
    built queue, and an operator of it."""
    manager = slogin((*MANAGE, *LISTS))
    operator = slogin((tm.CALL,))
    first = make_counterparty(sdb, "ТОВ «Перший»", manager.user_id, "+380441111111")
    second = make_counterparty(sdb, "ТОВ «Другий»", manager.user_id, "+380442222222")
    mailing = add_list(sdb, manager.user_id)
    campaign = add_campaign(
        sdb, manager.user_id, (operator.user_id,), mailing_list_id=mailing.id, script="Добрий день!"
    )
    answer = post(sales_app, manager, f"/sales/campaigns/{campaign.id}/status", status="active")
    assert answer.status_code == 303
    return {
        "manager": manager,
        "operator": operator,
        "campaign": campaign,
        "counterparties": (first, second),
        "mailing": mailing,
    }


# -- campaigns: CRUD and scope ---------------------------------------------------------------


def test_campaign_crud_and_scope(sales_app, sdb, slogin):
    """MS-3: create, read, edit with operators, delete; another manager gets 404 (also for
    guessed ids), a user without the right 403."""
    manager = slogin((*MANAGE, *LISTS))
    operator = slogin((tm.CALL,))
    mailing = add_list(sdb, manager.user_id)
    assert f'value="{mailing.id}"' in manager.get("/sales/campaigns/new").get_data(as_text=True)
    answer = post(
        sales_app,
        manager,
        "/sales/campaigns/new",
        name="Осінній обдзвін",
        mailing_list_id=mailing.id,
        script="Привітатися",
        responsible_id=manager.user_id,
        operator_ids=[operator.user_id],
    )
    assert answer.status_code == 303, answer.data
    record = sdb.scalar(select(Campaign).where(Campaign.name == "Осінній обдзвін"))
    assert record.status == "draft" and record.mailing_list_id == mailing.id
    assert tm.operator_ids(sdb, record.id) == [operator.user_id]
    assert "Осінній обдзвін" in manager.get("/sales/campaigns").get_data(as_text=True)
    card = manager.get(f"/sales/campaigns/{record.id}")
    assert card.status_code == 200 and "Build the queue" in card.get_data(as_text=True)

    answer = post(
        sales_app,
        manager,
        f"/sales/campaigns/{record.id}/edit",
        name="Осінній обдзвін 2",
        mailing_list_id=mailing.id,
        responsible_id=manager.user_id,
        version=record.version,
        original="",
    )
    assert answer.status_code == 303, answer.data
    sdb.expire_all()
    assert record.name == "Осінній обдзвін 2"
    assert tm.operator_ids(sdb, record.id) == []  # none chosen now

    other = slogin(MANAGE)
    for url in ("", "/edit", "/progress"):
        assert other.get(f"/sales/campaigns/{record.id}{url}").status_code == 404
    for url in ("/build", "/status", "/delete"):
        assert post(sales_app, other, f"/sales/campaigns/{record.id}{url}").status_code == 404
    for guessed in (record.id + 1000, 2**40):
        assert manager.get(f"/sales/campaigns/{guessed}").status_code == 404
    assert "Осінній" not in other.get("/sales/campaigns").get_data(as_text=True)
    reader = slogin((tm.CALL,))
    assert reader.get("/sales/campaigns").status_code == 403
    assert reader.get("/sales/campaigns/new").status_code == 403

    answer = post(
        sales_app, manager, f"/sales/campaigns/{record.id}/delete", version=record.version
    )
    assert answer.status_code == 303
    assert sdb.get(Campaign, record.id) is None


def test_new_campaign_bad_input_saves_nothing(sales_app, sdb, slogin):
    """MS-3: an empty name or an end before the start: the form again, nothing saved."""
    manager = slogin(MANAGE)
    before = sdb.scalar(select(func.count()).select_from(Campaign))
    answer = post(sales_app, manager, "/sales/campaigns/new", name="")
    assert answer.status_code == 400
    answer = post(
        sales_app,
        manager,
        "/sales/campaigns/new",
        name="Х",
        starts_on="2025-05-10",
        ends_on="2025-05-01",
    )
    assert answer.status_code == 400
    assert "The end comes before the start." in answer.get_data(as_text=True)
    answer = post(sales_app, manager, "/sales/campaigns/new", name="Х", mailing_list_id="999999")
    assert answer.status_code == 400
    assert sdb.scalar(select(func.count()).select_from(Campaign)) == before


# -- building the queue ------------------------------------------------------------------


def test_build_queue_phones_and_no_duplicates(sales_app, sdb, slogin):
    """MS-3: one call per member with a phone (the main one), members without a phone are
    counted, a rebuild adds only new members."""
    manager = slogin((*MANAGE, *LISTS))
    two = make_counterparty(sdb, "Два телефони", manager.user_id, "+380441000001", "+380441000002")
    one = make_counterparty(sdb, "Один телефон", manager.user_id, "+380441000003")
    make_counterparty(sdb, "Без телефону", manager.user_id)
    campaign = add_campaign(sdb, manager.user_id, mailing_list_id=add_list(sdb, manager.user_id).id)
    answer = post(sales_app, manager, f"/sales/campaigns/{campaign.id}/build")
    assert answer.status_code == 303
    page = manager.get(answer.location).get_data(as_text=True)
    assert "Calls queued: 2; already in the queue: 0." in page
    assert "Members without a phone (not queued): 1." in page
    calls = calls_of(sdb, campaign.id)
    assert {(c.counterparty_id, c.phone) for c in calls} == {
        (two.id, "+380441000002"),  # the main phone
        (one.id, "+380441000003"),
    }
    assert all(c.outcome == "pending" and c.due_at is not None for c in calls)

    three = make_counterparty(sdb, "Новий", manager.user_id, "+380441000004")
    answer = post(sales_app, manager, f"/sales/campaigns/{campaign.id}/build")
    assert "Calls queued: 1; already in the queue: 2." in manager.get(answer.location).get_data(
        as_text=True
    )
    assert sorted(c.counterparty_id for c in calls_of(sdb, campaign.id)) == sorted(
        [two.id, one.id, three.id]
    )


def test_build_queue_of_persons(sales_app, sdb, slogin):
    """MS-3: a list of contact persons calls each person at their own phone, for their
    counterparty; a person of no counterparty is reported, not queued."""
    manager = slogin((*MANAGE, *LISTS))
    company = make_counterparty(sdb, "ТОВ «Роботодавець»", manager.user_id)
    linked = make_person(
        sdb, manager.user_id, counterparty_id=company.id, primary=True, phone="+380501111111"
    )
    make_person(sdb, manager.user_id, "Самотній", phone="+380502222222")  # no counterparty
    campaign = add_campaign(
        sdb, manager.user_id, mailing_list_id=add_list(sdb, manager.user_id, "person").id
    )
    answer = post(sales_app, manager, f"/sales/campaigns/{campaign.id}/build")
    assert "Persons of no counterparty (not queued): 1." in manager.get(answer.location).get_data(
        as_text=True
    )
    [call] = calls_of(sdb, campaign.id)
    assert (call.counterparty_id, call.person_id, call.phone) == (
        company.id,
        linked.id,
        "+380501111111",
    )


def test_build_queue_in_bulk(sales_app, sdb, slogin):
    """MS-3: thousands of members build in batches, quickly, each once."""
    manager = slogin((*MANAGE, *LISTS))
    size = 2500
    first_id = (sdb.scalar(select(func.max(Counterparty.id))) or 0) + 1
    sdb.execute(
        insert(Counterparty),
        [
            {"id": first_id + i, "name": f"Клієнт {i:05}", "manager_id": manager.user_id}
            for i in range(size)
        ],
    )
    sdb.execute(
        insert(Channel),
        [
            {"counterparty_id": first_id + i, "kind": "phone", "value": f"+38044{i:07}"}
            for i in range(size)
        ],
    )
    sdb.commit()
    campaign = add_campaign(sdb, manager.user_id, mailing_list_id=add_list(sdb, manager.user_id).id)
    started = time.perf_counter()
    answer = post(sales_app, manager, f"/sales/campaigns/{campaign.id}/build")
    assert answer.status_code == 303
    assert time.perf_counter() - started < 10
    count = select(func.count()).select_from(Call).where(Call.campaign_id == campaign.id)
    assert sdb.scalar(count) == size
    post(sales_app, manager, f"/sales/campaigns/{campaign.id}/build")
    assert sdb.scalar(count) == size


def test_status_transitions(sales_app, sdb, slogin):
    """MS-3: draft → active (builds the queue) → closed; a jump is refused; a campaign
    without a mailing list cannot be activated."""
    manager = slogin((*MANAGE, *LISTS))
    make_counterparty(sdb, "Клієнт", manager.user_id, "+380443333333")
    bare = add_campaign(sdb, manager.user_id, name="Без списку")
    answer = post(sales_app, manager, f"/sales/campaigns/{bare.id}/status", status="active")
    assert "Choose the mailing list" in manager.get(answer.location).get_data(as_text=True)
    sdb.expire_all()
    assert bare.status == "draft"

    record = add_campaign(sdb, manager.user_id, mailing_list_id=add_list(sdb, manager.user_id).id)
    answer = post(sales_app, manager, f"/sales/campaigns/{record.id}/status", status="closed")
    assert "cannot go from this status" in manager.get(answer.location).get_data(as_text=True)
    post(sales_app, manager, f"/sales/campaigns/{record.id}/status", status="active")
    sdb.expire_all()
    assert record.status == "active" and len(calls_of(sdb, record.id)) == 1
    post(sales_app, manager, f"/sales/campaigns/{record.id}/status", status="closed")
    sdb.expire_all()
    assert record.status == "closed"
    answer = post(sales_app, manager, f"/sales/campaigns/{record.id}/build")
    assert "The campaign is closed" in manager.get(answer.location).get_data(as_text=True)


# -- the operator's queue ---------------------------------------------------------------


def take(app: Flask, client: FlaskClient, campaign_id: int | None = None) -> int | None:
    url = (
        "/sales/queue/take" if campaign_id is None else f"/sales/campaigns/{campaign_id}/queue/take"
    )
    assert post(app, client, url).status_code == 303
    return tm.held_call(app.extensions["vitrylo"].db.session(), client.user_id, campaign_id)


def outcome(app: Flask, client: FlaskClient, campaign_id: int, call_id: int, **data: Any):  # type: ignore[no-untyped-def]
    return post(app, client, f"/sales/campaigns/{campaign_id}/calls/{call_id}/outcome", **data)


def test_queue_shows_the_next_call(sales_app, sdb, setup):
    """MS-3: the operator takes the next call and sees who, the phone, the script."""
    operator, campaign = setup["operator"], setup["campaign"]
    page = operator.get("/sales/queue").get_data(as_text=True)
    assert "Take the next call" in page and "Spring calls" in page
    call_id = take(sales_app, operator)
    assert call_id is not None
    page = operator.get("/sales/queue").get_data(as_text=True)
    assert "ТОВ «Перший»" in page and 'href="tel:+380441111111"' in page
    assert "Добрий день!" in page and "None: this is the first call." in page
    assert operator.get(f"/sales/campaigns/{campaign.id}/queue").status_code == 200


def test_queue_rights(sales_app, sdb, setup, slogin):
    """MS-3: without the call right 403; not an operator of the campaign 404."""
    campaign = setup["campaign"]
    stranger = slogin((tm.CALL,))
    assert stranger.get(f"/sales/campaigns/{campaign.id}/queue").status_code == 404
    assert (
        post(sales_app, stranger, f"/sales/campaigns/{campaign.id}/queue/take").status_code == 404
    )
    call = calls_of(sdb, campaign.id)[0]
    answer = outcome(sales_app, stranger, campaign.id, call.id, outcome="reached")
    assert answer.status_code == 404
    assert take(sales_app, stranger) is None
    assert setup["manager"].get("/sales/queue").status_code == 403


def test_two_operators_never_get_the_same_call(sales_app, sdb, setup, slogin):
    """MS-3: two operators taking at once get different numbers; a claim on a held call
    fails; the other's outcome on it is refused; an expired claim frees the call."""
    campaign = setup["campaign"]
    other = slogin((tm.CALL,))
    sdb.add(CampaignOperator(campaign_id=campaign.id, user_id=other.user_id))
    sdb.commit()
    mine = take(sales_app, setup["operator"])
    theirs = take(sales_app, other)
    assert mine and theirs and mine != theirs
    assert not tm.claim(sdb, mine, other.user_id)
    assert take(sales_app, other) == theirs  # still the one they hold

    answer = outcome(sales_app, other, campaign.id, mine, outcome="reached")
    assert answer.status_code == 409
    assert "another operator has it" in answer.get_data(as_text=True)
    sdb.expire_all()
    assert sdb.get(Call, mine).outcome == "pending"
    assert (
        sdb.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign.id)
        )
        == 0
    )

    sdb.get(Call, mine).taken_at = utcnow() - timedelta(minutes=tm.CLAIM_MINUTES + 1)
    sdb.commit()
    assert tm.claim(sdb, mine, other.user_id)


@pytest.mark.parametrize("pressed", ["reached", "not_interested"])
def test_final_outcomes(sales_app, sdb, setup, pressed):
    """MS-3: a final outcome closes the call and records a done call contact."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    answer = outcome(sales_app, operator, campaign.id, call_id, outcome=pressed, note="Поговорили")
    assert answer.status_code == 303, answer.data
    sdb.expire_all()
    call = sdb.get(Call, call_id)
    assert (call.outcome, call.attempts, call.taken_at) == (pressed, 1, None)
    contact = sdb.scalar(select(Contact).where(Contact.campaign_id == campaign.id))
    assert (contact.kind, contact.status, contact.responsible_id) == (
        "call",
        "done",
        operator.user_id,
    )
    assert contact.counterparty_id == call.counterparty_id
    assert contact.result.endswith(": Поговорили")
    # the next call was taken at once
    assert tm.held_call(sdb, operator.user_id) not in (None, call_id)


def test_no_answer_requeues_then_closes(sales_app, sdb, setup):
    """MS-3: "no answer" calls again in an hour; the third closes the call."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    before = utcnow()
    assert (
        outcome(sales_app, operator, campaign.id, call_id, outcome="no_answer").status_code == 303
    )
    sdb.expire_all()
    call = sdb.get(Call, call_id)
    assert (call.outcome, call.attempts) == ("pending", 1)
    assert aware(call.due_at) >= before + tm.RETRY_AFTER - timedelta(seconds=5)
    for attempt in (2, 3):
        call.due_at, call.taken_at = utcnow() - timedelta(minutes=1), None
        sdb.commit()
        assert tm.claim(sdb, call_id, operator.user_id)
        sdb.commit()
        outcome(sales_app, operator, campaign.id, call_id, outcome="no_answer")
        sdb.expire_all()
        call = sdb.get(Call, call_id)
        assert call.attempts == attempt
    assert call.outcome == "no_answer"
    results = sdb.scalar(
        select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign.id)
    )
    assert results == 3


def test_call_back_at(sales_app, sdb, setup):
    """MS-3: "call back at" keeps the call open until the agreed time."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    when = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    answer = outcome(
        sales_app,
        operator,
        campaign.id,
        call_id,
        outcome="call_back",
        callback_at=when.strftime("%Y-%m-%dT%H:%M"),  # the user's zone is UTC here
    )
    assert answer.status_code == 303, answer.data
    sdb.expire_all()
    call = sdb.get(Call, call_id)
    assert (call.outcome, aware(call.due_at), call.taken_at) == ("call_back", when, None)
    # not due yet: the operator gets the other number, then nothing
    assert tm.held_call(sdb, operator.user_id) != call_id


def test_interested_creates_an_opportunity(sales_app, sdb, setup):
    """MS-3 → MS-2: "interested" opens an opportunity of the campaign for the operator."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    answer = outcome(
        sales_app,
        operator,
        campaign.id,
        call_id,
        outcome="interested",
        opportunity_name="Поставка 100 одиниць",
    )
    assert answer.status_code == 303, answer.data
    sdb.expire_all()
    call = sdb.get(Call, call_id)
    deal = sdb.get(Opportunity, call.opportunity_id)
    assert call.outcome == "interested" and deal is not None
    assert (deal.name, deal.campaign_id, deal.responsible_id, deal.counterparty_id) == (
        "Поставка 100 одиниць",
        campaign.id,
        operator.user_id,
        call.counterparty_id,
    )
    contact = sdb.scalar(select(Contact).where(Contact.campaign_id == campaign.id))
    assert contact.opportunity_id == deal.id


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"outcome": "call_back", "callback_at": "2020-01-01T10:00"}, "already passed"),
        ({"outcome": "call_back"}, "Say when to call back."),
        ({"outcome": "bogus"}, "Unknown outcome"),
        ({}, "Unknown outcome"),
        ({"outcome": "reached", "note": "x" * 2001}, "Nothing was saved"),
    ],
)
def test_bad_outcome_saves_nothing(sales_app, sdb, setup, data, message):
    """MS-3: bad input answers 400 with the reason; the call and contacts stay as they were."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    answer = outcome(sales_app, operator, campaign.id, call_id, **data)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    sdb.expire_all()
    call = sdb.get(Call, call_id)
    assert (call.outcome, call.attempts) == ("pending", 0)
    assert tm.held_call(sdb, operator.user_id) == call_id
    assert (
        sdb.scalar(
            select(func.count()).select_from(Contact).where(Contact.campaign_id == campaign.id)
        )
        == 0
    )


def test_call_of_another_campaign_is_refused(sales_app, sdb, setup):
    """MS-3: an outcome posted under another campaign's address saves nothing."""
    operator, manager, campaign = setup["operator"], setup["manager"], setup["campaign"]
    second = add_campaign(
        sdb, manager.user_id, (operator.user_id,), name="Друга", mailing_list_id=setup["mailing"].id
    )
    post(sales_app, manager, f"/sales/campaigns/{second.id}/status", status="active")
    foreign = calls_of(sdb, second.id)[0]
    answer = outcome(sales_app, operator, campaign.id, foreign.id, outcome="reached")
    assert answer.status_code == 400
    assert "This call is not in this campaign's queue." in unescape(answer.get_data(as_text=True))
    assert outcome(sales_app, operator, campaign.id, 2**40, outcome="reached").status_code == 400
    assert all(c.outcome == "pending" for c in calls_of(sdb, second.id))


def test_release_puts_the_call_back(sales_app, sdb, setup):
    """MS-3: pausing hands the held call back to the queue."""
    operator, campaign = setup["operator"], setup["campaign"]
    call_id = take(sales_app, operator)
    answer = post(sales_app, operator, f"/sales/campaigns/{campaign.id}/calls/{call_id}/release")
    assert answer.status_code == 303
    assert tm.held_call(sdb, operator.user_id) is None


def test_progress_page(sales_app, sdb, setup):
    """MS-3: counts per outcome and operator, the share done, a chart."""
    operator, manager, campaign = setup["operator"], setup["manager"], setup["campaign"]
    call_id = take(sales_app, operator)
    outcome(sales_app, operator, campaign.id, call_id, outcome="reached")
    with sales_app.test_request_context():
        data = tm.progress(sdb, campaign.id)
    assert (data["total"], data["done"], data["percent"]) == (2, 1, 50)
    assert data["per_outcome"]["reached"] == 1 and data["per_outcome"]["pending"] == 1
    page = manager.get(f"/sales/campaigns/{campaign.id}/progress")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data-chart=" in text and "Done: 1 of 2 calls (50%)." in text
    assert operator.get(f"/sales/campaigns/{campaign.id}/progress").status_code == 403


def test_merge_moves_calls(sales_app, sdb, setup):
    """MS-3: merging a duplicate counterparty moves its calls to the one kept."""
    first, second = setup["counterparties"]
    moved = tm.merge_records("crm_base.counterparty", first.id, second.id, sdb)
    assert moved == 1
    sdb.commit()
    assert {c.counterparty_id for c in calls_of(sdb, setup["campaign"].id)} == {second.id}
    assert tm.merge_records("crm_base.employee", 1, 2, sdb) == 0


def test_menu_items(sales_app, setup):
    """MS-3: the operator sees "My call queue", the manager "Call campaigns"."""
    assert "/sales/queue" in setup["operator"].get("/").get_data(as_text=True)
    page = setup["manager"].get("/").get_data(as_text=True)
    assert "/sales/campaigns" in page and "/sales/queue" not in page
