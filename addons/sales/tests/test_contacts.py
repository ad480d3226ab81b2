"""Contacts with counterparties (MS-1) and the chronology they make (MS-6): planning, the
list and its quick tabs, done with the next contact, rights and scope, the counterparty's
tab and timeline, the planner's hooks, the "due soon" notification, merges."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from addons.crm_base.models import SUBJECT, Counterparty, Direction
from addons.sales import contacts as c
from addons.sales.models import Contact, Source
from addons.sales.tests.helpers import as_user, count, make_person, post
from core.kernel import Kernel
from core.models import AuditEntry, Setting, Team, User
from core.security import LoginUser
from core.testing.plugin import create_user

pytest_plugins = ("addons.sales.tests.helpers",)  # nkernel, napp: sales with notifications

ALL = ("sales.contact.read", "sales.contact.create", "sales.contact.update")
CP_READ = "crm_base.counterparty.read"
SELLER = (*ALL, CP_READ, "crm_base.person.read")
HUGE_ID = 2**40


# -- helpers ---------------------------------------------------------------------------------


def now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


def typed(moment: datetime) -> str:
    """How a browser posts a datetime-local value (the test app's zone is UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def contact(
    db: Session,
    counterparty_id: int,
    owner: int | None,
    at: datetime | None = None,
    subject: str = "Узгодити ціну",
    **kw: Any,
) -> Contact:
    record = Contact(
        subject=subject,
        planned_at=at or now(),
        counterparty_id=counterparty_id,
        responsible_id=owner,
        **kw,
    )
    db.add(record)
    db.commit()
    return record


def plan_data(counterparty_id: int, owner: int, /, **changes: Any) -> dict[str, Any]:
    data = {
        "kind": "call",
        "subject": "Дзвінок щодо договору",
        "planned_at": typed(now()),
        "duration_minutes": "30",
        "counterparty_id": f"#{counterparty_id}",
        "person_id": "",
        "direction_id": "",
        "opportunity_id": "",
        "source_id": "",
        "responsible_id": str(owner),
    }
    data.update(changes)
    return data


@pytest.fixture
def seller(slogin: Callable[..., FlaskClient]) -> FlaskClient:
    return slogin(SELLER)


@pytest.fixture
def in_request(sales_app: Flask) -> Iterator[Callable[[LoginUser], None]]:
    contexts: list[Any] = []

    def enter(user: LoginUser) -> None:
        ctx = sales_app.test_request_context("/")
        ctx.push()
        login_user(user)
        contexts.append(ctx)

    yield enter
    for ctx in reversed(contexts):
        ctx.pop()


# -- planning and the list -------------------------------------------------------------------


def test_a_contact_records_its_lead_source_and_the_list_filters_by_it(
    sales_app, sdb, seller, counterparty
):
    """MS-5: where a contact came from is chosen among the active sources; a retired one
    cannot be chosen for a new contact but still filters the list."""
    fair, retired = Source(name="Виставка"), Source(name="Стара реклама", active=False)
    sdb.add_all([fair, retired])
    sdb.commit()
    cp = counterparty("ТОВ «Джерело»", manager_id=seller.user_id)
    data = plan_data(cp.id, seller.user_id, subject="З виставки", source_id=str(fair.id))
    assert post(sales_app, seller, "/sales/contacts/new", data).status_code == 303
    record = sdb.scalar(select(Contact).where(Contact.subject == "З виставки"))
    assert record.source_id == fair.id

    refused = plan_data(cp.id, seller.user_id, subject="Зі старої", source_id=str(retired.id))
    answer = post(sales_app, seller, "/sales/contacts/new", refused)
    assert answer.status_code == 400
    assert sdb.scalar(select(Contact).where(Contact.subject == "Зі старої")) is None

    listed = seller.get(f"/sales/contacts?source={fair.id}").get_data(as_text=True)
    assert "З виставки" in listed
    assert "З виставки" not in seller.get(f"/sales/contacts?source={retired.id}").get_data(
        as_text=True
    )


def test_planned_contact_shows_in_my_today(sales_app, sdb, seller, counterparty):
    """MS-1: plan a call; it is stored UTC and listed under "My today", not a later one."""
    cp = counterparty("ТОВ «Ранок»", manager_id=seller.user_id)
    answer = post(sales_app, seller, "/sales/contacts/new", plan_data(cp.id, seller.user_id))
    assert answer.status_code == 303, answer.data
    record = sdb.scalar(select(Contact).where(Contact.subject == "Дзвінок щодо договору"))
    assert record is not None and record.status == "planned"
    assert record.created_by == seller.user_id and record.counterparty_id == cp.id
    contact(sdb, cp.id, seller.user_id, now() + timedelta(days=3), "Зустріч за три дні")
    contact(sdb, cp.id, seller.user_id, now() - timedelta(days=2), "Прострочений лист")

    today = seller.get("/sales/contacts?show=today").get_data(as_text=True)
    assert "Дзвінок щодо договору" in today and "ТОВ «Ранок»" in today
    assert "Зустріч за три дні" not in today and "Прострочений лист" not in today
    overdue = seller.get("/sales/contacts?show=overdue").get_data(as_text=True)
    assert "Прострочений лист" in overdue and "Зустріч за три дні" not in overdue
    everything = seller.get("/sales/contacts?q=ранок").get_data(as_text=True)
    assert all(s in everything for s in ("Дзвінок щодо", "Зустріч за три", "Прострочений"))
    export = seller.get("/sales/contacts/export.csv?show=today")
    assert export.status_code == 200 and "Дзвінок щодо договору" in export.get_data(as_text=True)


def test_new_form_is_prefilled_from_the_counterparty_card(sales_app, sdb, seller, counterparty):
    cp = counterparty("ТОВ «Картка»", manager_id=seller.user_id)
    person = make_person(sdb, seller.user_id, "Коваль Ірина", counterparty_id=cp.id)
    page = seller.get(f"/sales/contacts/new?counterparty={cp.id}").get_data(as_text=True)
    assert f"ТОВ «Картка» (#{cp.id})" in page and "Коваль Ірина" in page
    options = seller.get(f"/sales/contacts/options/person?counterparty_id=%23{cp.id}")
    assert "Коваль Ірина" in options.get_data(as_text=True)
    suggestions = seller.get("/sales/contacts/options/counterparty?counterparty_id=ТОВ «Кар")
    assert f"ТОВ «Картка» (#{cp.id})" in suggestions.get_data(as_text=True)
    data = plan_data(cp.id, seller.user_id, person_id=str(person.id))
    assert post(sales_app, seller, "/sales/contacts/new", data).status_code == 303
    assert (
        sdb.scalar(select(Contact.person_id).where(Contact.counterparty_id == cp.id)) == person.id
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subject": ""}, "This field is required."),
        ({"planned_at": "2025-13-45T10:00"}, "Enter a date and a time"),
        ({"planned_at": "0001-01-01T00:00"}, "out of range"),
        ({"duration_minutes": "0"}, "Number must be between 1 and 1440."),
        ({"counterparty_id": ""}, "Choose a counterparty."),
        ({"counterparty_id": "#999999999"}, "among those you can see"),
        ({"kind": "telegram"}, "Not a valid choice"),
        ({"responsible_id": "abc"}, "Invalid Choice"),
    ],
)
def test_bad_input_gets_a_message_and_saves_nothing(
    sales_app, sdb, seller, counterparty, changes, message
):
    cp = counterparty("ТОВ «Свій»", manager_id=seller.user_id)
    before = count(sdb, Contact)
    answer = post(
        sales_app, seller, "/sales/contacts/new", plan_data(cp.id, seller.user_id, **changes)
    )
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert count(sdb, Contact) == before


def test_a_counterparty_out_of_scope_is_refused(sales_app, sdb, seller, counterparty):
    other = create_user(sdb, "other-manager")
    theirs = counterparty("ТОВ «Чужий»", manager_id=other.id)
    for ref in (f"#{theirs.id}", "ТОВ «Чужий»", f"ТОВ «Чужий» (#{theirs.id})"):
        answer = post(
            sales_app,
            seller,
            "/sales/contacts/new",
            plan_data(0, seller.user_id, counterparty_id=ref),
        )
        assert answer.status_code == 400
        assert "among those you can see" in answer.get_data(as_text=True)
    assert sdb.scalar(select(func.count()).where(Contact.counterparty_id == theirs.id)) == 0
    person_options = seller.get(f"/sales/contacts/options/person?counterparty_id=%23{theirs.id}")
    assert person_options.get_data(as_text=True).count("<option") == 1  # only "—"


def test_edit_keeps_the_time_and_checks_the_version(sales_app, sdb, seller, counterparty):
    cp = counterparty("ТОВ «Редагування»", manager_id=seller.user_id)
    at = now() + timedelta(days=1)
    record = contact(sdb, cp.id, seller.user_id, at, notified=True)
    card = seller.get(f"/sales/contacts/{record.id}").get_data(as_text=True)
    assert typed(at) in card and f"ТОВ «Редагування» (#{cp.id})" in card
    data = plan_data(cp.id, seller.user_id, subject="Нова тема", planned_at=typed(at))
    saved = post(
        sales_app, seller, f"/sales/contacts/{record.id}/edit", {**data, "version": record.version}
    )
    assert saved.status_code == 303
    sdb.refresh(record)
    assert record.subject == "Нова тема" and record.version == 2
    assert c.as_utc(record.planned_at) == at and record.notified is True  # time unchanged
    moved = {**data, "planned_at": typed(at + timedelta(hours=2)), "version": 2}
    assert post(sales_app, seller, f"/sales/contacts/{record.id}/edit", moved).status_code == 303
    sdb.refresh(record)
    assert record.notified is False  # moved: the "due soon" notice is re-armed
    stale = post(sales_app, seller, f"/sales/contacts/{record.id}/edit", {**data, "version": 1})
    assert stale.status_code == 409


# -- done, cancel, delete --------------------------------------------------------------------


def test_done_with_the_next_contact_in_one_go(sales_app, sdb, seller, counterparty):
    """MS-1: the result and next step, and the next contact planned in the same save."""
    cp = counterparty("ТОВ «Далі»", manager_id=seller.user_id)
    direction = Direction(name="Опт")
    sdb.add(direction)
    sdb.commit()
    record = contact(sdb, cp.id, seller.user_id, kind="meeting", direction_id=direction.id)
    assert "Mark as done" in seller.get(f"/sales/contacts/{record.id}").get_data(as_text=True)
    nxt = now() + timedelta(days=7)
    answer = post(
        sales_app,
        seller,
        f"/sales/contacts/{record.id}/done",
        {
            "done-version": record.version,
            "done-result": "Погодили знижку 5%",
            "done-next_step": "Надіслати пропозицію",
            "done-plan_next": "y",
            "done-next_kind": "letter",
            "done-next_at": typed(nxt),
            "done-next_subject": "Комерційна пропозиція",
        },
    )
    assert answer.status_code == 303
    sdb.refresh(record)
    assert record.status == "done" and record.done_at is not None
    assert record.result == "Погодили знижку 5%" and record.next_step == "Надіслати пропозицію"
    follow = sdb.scalar(select(Contact).where(Contact.subject == "Комерційна пропозиція"))
    assert follow is not None and follow.kind == "letter" and follow.status == "planned"
    assert c.as_utc(follow.planned_at) == nxt and follow.direction_id == direction.id
    assert (follow.counterparty_id, follow.responsible_id) == (cp.id, seller.user_id)
    again = post(sales_app, seller, f"/sales/contacts/{record.id}/done", {"done-result": "x"})
    assert again.status_code == 303  # already done: a message, nothing changes
    sdb.refresh(record)
    assert record.result == "Погодили знижку 5%"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"done-result": ""}, "This field is required."),
        ({"done-plan_next": "y", "done-next_subject": "Ще раз"}, "Say when the next contact is."),
        (
            {"done-plan_next": "y", "done-next_at": "вчора", "done-next_subject": "x"},
            "Enter a date",
        ),
        ({"done-plan_next": "y", "done-next_at": "2030-01-01T10:00"}, "Say what the next contact"),
    ],
)
def test_done_with_bad_input_saves_nothing(sales_app, sdb, seller, counterparty, changes, message):
    cp = counterparty("ТОВ «Помилка»", manager_id=seller.user_id)
    record = contact(sdb, cp.id, seller.user_id)
    before = count(sdb, Contact)
    data = {"done-version": record.version, "done-result": "Результат", **changes}
    answer = post(sales_app, seller, f"/sales/contacts/{record.id}/done", data)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    sdb.refresh(record)
    assert record.status == "planned" and count(sdb, Contact) == before


def test_cancel_and_delete(sales_app, sdb, seller, slogin, counterparty):
    cp = counterparty("ТОВ «Скасування»", manager_id=seller.user_id)
    record = contact(sdb, cp.id, seller.user_id)
    stale = post(sales_app, seller, f"/sales/contacts/{record.id}/cancel", {"version": 99})
    assert stale.status_code == 303
    sdb.refresh(record)
    assert record.status == "planned"
    answer = post(
        sales_app, seller, f"/sales/contacts/{record.id}/cancel", {"version": record.version}
    )
    assert answer.status_code == 303
    sdb.refresh(record)
    assert record.status == "cancelled"
    refused = post(sales_app, seller, f"/sales/contacts/{record.id}/delete", {})
    assert refused.status_code == 403  # no delete right
    deleter = slogin((*SELLER, "sales.contact.delete"), scopes={"sales.contact": "all"})
    gone = post(sales_app, deleter, f"/sales/contacts/{record.id}/delete", {})
    assert gone.status_code == 303
    assert sdb.get(Contact, record.id) is None


# -- rights and scope ------------------------------------------------------------------------


def test_rights_and_record_scope(sales_app, sdb, seller, slogin, counterparty):
    cp = counterparty("ТОВ «Спільний»", manager_id=None)
    other = create_user(sdb, "manager-two")
    theirs = contact(sdb, cp.id, other.id, subject="Чужий дзвінок")
    nobody = slogin([CP_READ])
    assert nobody.get("/sales/contacts").status_code == 403
    assert nobody.get("/sales/contacts/new").status_code == 403
    assert nobody.get(f"/sales/contacts/{theirs.id}").status_code == 403

    assert "Чужий дзвінок" not in seller.get("/sales/contacts").get_data(as_text=True)
    for url in (f"/sales/contacts/{theirs.id}", f"/sales/contacts/{HUGE_ID}"):
        assert seller.get(url).status_code == 404
    for action in ("edit", "done", "cancel"):
        answer = post(sales_app, seller, f"/sales/contacts/{theirs.id}/{action}", {"version": 1})
        assert answer.status_code == 404
    assert (
        post(sales_app, seller, "/sales/contacts/99999999/edit", {"version": 1}).status_code == 404
    )
    reader = slogin(["sales.contact.read"], scopes={"sales.contact": "all"})
    assert reader.get(f"/sales/contacts/{theirs.id}").status_code == 200
    assert post(sales_app, reader, f"/sales/contacts/{theirs.id}/done", {}).status_code == 403

    team = Team(name="Продажі")
    sdb.add(team)
    sdb.flush()
    lead = slogin(SELLER, scopes={"sales.contact": "team"})
    sdb.execute(update(User).where(User.id.in_([lead.user_id, other.id])).values(team_id=team.id))
    sdb.commit()
    assert "Чужий дзвінок" in lead.get("/sales/contacts").get_data(as_text=True)
    assert lead.get(f"/sales/contacts/{theirs.id}").status_code == 200


# -- the counterparty's tab and chronology (MS-6) --------------------------------------------


def test_counterparty_tab_and_timeline(sales_app, sdb, seller, counterparty, in_request):
    """MS-6: the tab lists planned contacts first, then done ones; the timeline shows both
    (not cancelled, not another manager's)."""
    cp = counterparty("ТОВ «Хроніка»", manager_id=seller.user_id)
    other = create_user(sdb, "manager-three")
    contact(
        sdb,
        cp.id,
        seller.user_id,
        now() - timedelta(days=5),
        "Перша зустріч",
        status="done",
        result="Познайомились",
    )
    contact(sdb, cp.id, seller.user_id, now() + timedelta(days=2), "Наступний дзвінок")
    contact(sdb, cp.id, seller.user_id, now() - timedelta(days=1), "Скасований", status="cancelled")
    contact(sdb, cp.id, other.id, now(), "Чужий контакт")

    tab = seller.get(f"/sales/counterparties/{cp.id}/contacts", headers={"HX-Request": "true"})
    html = tab.get_data(as_text=True)
    assert tab.status_code == 200 and "<html" not in html
    assert html.index("Наступний дзвінок") < html.index("Скасований") < html.index("Перша зустріч")
    assert "Чужий контакт" not in html and f"/sales/contacts/new?counterparty={cp.id}" in html
    assert "<html" in seller.get(f"/sales/counterparties/{cp.id}/contacts").get_data(as_text=True)
    assert seller.get(f"/sales/counterparties/{HUGE_ID}/contacts").status_code == 404
    for before in ("x_1", "9999-12-31T23:59-05:00_3", f"2020-01-01T00:00_{HUGE_ID}"):
        paged = seller.get(f"/sales/counterparties/{cp.id}/contacts?before={before}")
        assert paged.status_code == 200

    in_request(as_user(sdb, seller.user_id))
    user = as_user(sdb, seller.user_id)
    entries = c.timeline_entries(SUBJECT, cp.id, user)
    titles = [e.title for e in entries]
    assert titles[0].startswith("Planned — ") and "Наступний дзвінок" in titles[0]
    assert any("Перша зустріч" in t for t in titles) and len(entries) == 2
    assert any(e.body == "Познайомились" and e.kind == "sales.contact" for e in entries)
    tabs = c.card_tabs(SUBJECT, cp.id, user)
    assert tabs[0].count == 3
    assert c.timeline_entries(SUBJECT, cp.id, as_user(sdb, other.id)) == []


def test_counterparty_tab_pages_past_contacts(sales_app, sdb, seller, counterparty):
    cp = counterparty("ТОВ «Архів»", manager_id=seller.user_id)
    for day in range(c.TAB_PAGE + 3):
        contact(
            sdb,
            cp.id,
            seller.user_id,
            now() - timedelta(days=day + 1),
            f"Архів-{day:02}",
            status="done",
        )
    first = seller.get(f"/sales/counterparties/{cp.id}/contacts").get_data(as_text=True)
    assert "Архів-00" in first and f"Архів-{c.TAB_PAGE - 1:02}" in first
    assert f"Архів-{c.TAB_PAGE:02}" not in first
    older = next(
        part.split('"')[0].replace("&amp;", "&")
        for part in first.split('href="')
        if "before=" in part.split('"')[0]
    )
    rest = seller.get(older).get_data(as_text=True)
    assert f"Архів-{c.TAB_PAGE:02}" in rest and "Архів-00" not in rest


# -- planner hooks ---------------------------------------------------------------------------


@pytest.fixture
def planner(sales_app, sdb, seller, counterparty, in_request) -> dict[str, Any]:
    """The seller's contacts around today, and another manager's."""
    cp = counterparty("ТОВ «План»", manager_id=seller.user_id)
    other = create_user(sdb, "manager-four", list(ALL))
    today = now()
    rows = {
        "today": contact(sdb, cp.id, seller.user_id, today, "Сьогодні"),
        "overdue": contact(sdb, cp.id, seller.user_id, today - timedelta(days=3), "Давно"),
        "later": contact(sdb, cp.id, seller.user_id, today + timedelta(days=2), "Пізніше"),
        "done": contact(sdb, cp.id, seller.user_id, today, "Зроблено", status="done"),
        "theirs": contact(sdb, cp.id, other.id, today, "Чуже"),
    }
    in_request(as_user(sdb, seller.user_id))
    return {"cp": cp, "other": other, "user": as_user(sdb, seller.user_id), **rows}


def test_reminders_are_my_due_and_overdue_contacts(planner):
    items = c.reminders(planner["user"], date.today())
    assert [r.title for r in items] == ["Call: Давно", "Call: Сьогодні"]
    first = items[0]
    assert first.key == f"sales.contact.{planner['overdue'].id}" and first.kind == "sales.contact"
    assert first.can_snooze and first.can_mark_done and "ТОВ «План»" in first.detail
    assert first.url == f"/sales/contacts/{planner['overdue'].id}"
    assert first.due == (now() - timedelta(days=3)).date()
    assert len(c.reminders(planner["user"], date.max)) == 3
    assert c.reminders(planner["user"], date.today() - timedelta(days=10)) == []


def test_reminder_actions(sales_app, sdb, planner, in_request):
    user, today = planner["user"], planner["today"]
    key = f"sales.contact.{today.id}"
    at = c.as_utc(today.planned_at)
    assert c.reminder_action(user, key, "snooze", date.today() - timedelta(days=1)) is False
    assert c.reminder_action(user, key, "snooze", None) is False
    assert c.reminder_action(user, key, "snooze", date(9999, 12, 31)) is False
    later = date.today() + timedelta(days=3)
    assert c.reminder_action(user, key, "snooze", later) is True
    sdb.refresh(today)
    assert c.as_utc(today.planned_at) == datetime.combine(later, at.time(), tzinfo=UTC)
    audited = select(AuditEntry.user_id).where(
        AuditEntry.subject == "sales_contact",
        AuditEntry.subject_id == str(today.id),
        AuditEntry.action == "update",
    )
    assert sdb.scalars(audited).all() == [user.id]
    assert c.reminder_action(user, key, "done", None) is True
    sdb.refresh(today)
    assert today.status == "done" and today.done_at is not None
    assert c.reminder_action(user, key, "snooze", later) is False  # done already
    assert c.reminder_action(user, f"sales.contact.{planner['theirs'].id}", "done", None) is None
    assert c.reminder_action(user, "sales.contact.abc", "done", None) is None
    assert c.reminder_action(user, "sales.opportunity.1", "done", None) is None
    assert c.reminder_action(user, f"sales.contact.{HUGE_ID}", "done", None) is None
    reader = create_user(sdb, "reader-only", ["sales.contact.read"])
    in_request(as_user(sdb, reader.id))
    own = contact(sdb, planner["cp"].id, reader.id)
    assert (
        c.reminder_action(as_user(sdb, reader.id), f"sales.contact.{own.id}", "done", None) is False
    )


def test_calendar_events_and_moves(sales_app, sdb, planner):
    user = planner["user"]
    start = datetime.combine(date.today() - timedelta(days=5), time.min, tzinfo=UTC)
    end = start + timedelta(days=14)
    events = {e.title.split(" — ")[0]: e for e in c.calendar_events(user, start, end, (user.id,))}
    assert set(events) == {"Call: Сьогодні", "Call: Давно", "Call: Пізніше", "Call: Зроблено"}
    assert events["Call: Сьогодні"].editable and not events["Call: Зроблено"].editable
    assert events["Call: Сьогодні"].end - events["Call: Сьогодні"].start == timedelta(minutes=30)
    assert events["Call: Сьогодні"].owner_id == user.id
    theirs = c.calendar_events(user, start, end, (planner["other"].id,))
    assert theirs == []  # another manager's contacts are out of the seller's scope
    assert c.calendar_events(user, end, end + timedelta(days=1), (user.id,)) == []

    item = planner["later"]
    new_start = now() + timedelta(days=4, hours=1)
    moved = c.move_calendar_event(
        user, f"sales.contact.{item.id}", new_start, new_start + timedelta(minutes=90), False
    )
    assert moved is True
    sdb.refresh(item)
    assert c.as_utc(item.planned_at) == new_start and item.duration_minutes == 90
    done = f"sales.contact.{planner['done'].id}"
    assert c.move_calendar_event(user, done, new_start, None, False) is False
    assert (
        c.move_calendar_event(user, f"sales.contact.{planner['theirs'].id}", new_start, None, False)
        is None
    )
    day = datetime.combine(date.today() + timedelta(days=9), time.min, tzinfo=UTC)
    assert c.move_calendar_event(user, f"sales.contact.{item.id}", day, None, True) is True
    sdb.refresh(item)
    assert c.as_utc(item.planned_at) == datetime.combine(day.date(), new_start.time(), tzinfo=UTC)


def test_day_bounds_follow_the_time_zone_across_dst():
    kyiv = ZoneInfo("Europe/Kyiv")
    # Summer time starts on 30 March 2025: 10:00 in Kyiv is 07:00 UTC, the day before 08:00.
    assert c.local_moment(date(2025, 3, 30), time(10), kyiv) == datetime(2025, 3, 30, 7, tzinfo=UTC)
    assert c.local_moment(date(2025, 3, 29), time(10), kyiv) == datetime(2025, 3, 29, 8, tzinfo=UTC)
    assert c.local_day(datetime(2025, 3, 29, 22, 30, tzinfo=UTC), kyiv) == date(2025, 3, 30)


def test_dashboard_widget(sales_app, sdb, planner, slogin):
    widgets = c.dashboard_widgets(planner["user"])
    html = str(widgets[0].render())
    assert "Сьогодні" in html and "Зроблено" in html and "Давно" not in html and "Чуже" not in html
    assert c.dashboard_widgets(as_user(sdb, create_user(sdb, "no-rights").id)) == []


# -- merges and notifications ----------------------------------------------------------------


def test_merge_moves_contacts(sales_app, sdb, seller, counterparty):
    source = counterparty("ТОВ «Дубль»", manager_id=seller.user_id)
    target = counterparty("ТОВ «Оригінал»", manager_id=seller.user_id)
    first = contact(sdb, source.id, seller.user_id)
    contact(sdb, source.id, seller.user_id)
    assert c.merge_records(SUBJECT, source.id, target.id, sdb) == 2
    assert c.merge_records("crm_base.person", 123456, 7, sdb) == 0
    assert c.merge_records("crm_base.employee", source.id, target.id, sdb) == 0
    sdb.expire_all()
    assert sdb.get(Contact, first.id).counterparty_id == target.id


def test_due_job_is_quiet_without_notifications(sales_app, sdb, seller, counterparty):
    cp = counterparty("ТОВ «Тиша»", manager_id=seller.user_id)
    record = contact(sdb, cp.id, seller.user_id, now() + timedelta(minutes=5))
    c.contacts_due_job(sales_app)
    sdb.refresh(record)
    assert record.notified is False


def test_due_notification_is_raised_once(nkernel: Kernel, napp: Flask):
    from addons.notifications.models import Event, Notification

    app = napp
    with nkernel.db.session_factory() as session:  # the helpers commit
        user = create_user(session, "due-seller", list(ALL))
        cp = Counterparty(name="ТОВ «Нагадування»", manager_id=user.id)
        session.add(cp)
        session.commit()
        soon = contact(session, cp.id, user.id, now() + timedelta(minutes=10), "Скоро")
        contact(session, cp.id, user.id, now() + timedelta(minutes=60), "Згодом")
        contact(session, cp.id, user.id, now() + timedelta(minutes=5), "Вже", status="done")
        user_id, soon_id = user.id, soon.id

    def events() -> list[tuple[str, int]]:
        with nkernel.db.session_factory() as session:
            rows = session.execute(
                select(Event.title, Notification.user_id)
                .join(Notification, Notification.event_id == Event.id)
                .where(Event.type == "sales.contact_due")
                .order_by(Event.id)
            )
            return [tuple(r) for r in rows]

    with app.app_context():
        c.contacts_due_job(app)
        c.contacts_due_job(app)
    assert events() == [("Дзвінок: Скоро", user_id)]  # notifications speak Ukrainian

    with nkernel.db.transaction() as session:
        session.add(Setting(name=c.REMIND_SETTING, value="90"))
        record = session.get(Contact, soon_id)
        record.planned_at = now() + timedelta(minutes=20)  # moved: told again
    with app.app_context():
        c.contacts_due_job(app)
    assert sorted(events()) == sorted(
        [("Дзвінок: Скоро", user_id), ("Дзвінок: Скоро", user_id), ("Дзвінок: Згодом", user_id)]
    )
