"""crm_base's rows in the planner (addons/crm_base/birthdays.py): birthdays of one's
contact persons and of employees as reminders (RM-1) and all-day calendar events (PN-1),
within rights and record scope; February 29 and the new year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from addons.crm_base.birthdays import calendar_events, celebrated_keys, celebrated_on
from addons.crm_base.models import Employee, Person, birth_key

REMINDERS = "planner.reminders.read"
CALENDAR = "planner.calendar.read"
OTHERS = "planner.calendar.others"
PERSONS = "crm_base.person.read"
EMPLOYEES = "crm_base.employee.read"


@pytest.fixture
def person(pdb):  # type: ignore[no-untyped-def]
    def make(name: str, born: date, manager_id: int | None) -> Person:
        record = Person(
            last_name=name, full_name=name, birthday=born, birth_key=birth_key(born),
            manager_id=manager_id,
        )  # fmt: skip
        pdb.add(record)
        pdb.commit()
        return record

    return make


@pytest.fixture
def employee(pdb):  # type: ignore[no-untyped-def]
    def make(name: str, born: date, active: bool = True) -> Employee:
        record = Employee(
            last_name=name, full_name=name, birthday=born, birth_key=birth_key(born),
            active=active,
        )  # fmt: skip
        pdb.add(record)
        pdb.commit()
        return record

    return make


def born_on(day: date, years: int = 40) -> date:
    return day.replace(year=day.year - years) if (day.month, day.day) != (2, 29) else day


def test_reminders_of_ones_persons_and_employees(plogin, person, employee, today):
    me = plogin([REMINDERS, PERSONS, EMPLOYEES])
    other = plogin([REMINDERS, PERSONS])
    mine = person("Шевченко Тарас", born_on(today), me.user_id)
    person("Франко Іван", born_on(today), other.user_id)
    person("Леся Українка", born_on(today + timedelta(days=1)), me.user_id)
    staff = employee("Коваленко Ольга", born_on(today, 30))
    employee("Бондар Петро", born_on(today), active=False)

    html = me.get("/planner/reminders").get_data(as_text=True)
    assert ">Birthdays<" in html
    assert f'href="/crm/persons/{mine.id}">Шевченко Тарас</a>' in html
    assert "Contact person, turns 40" in html
    assert f'href="/crm/employees/{staff.id}">Коваленко Ольга</a>' in html
    assert "Employee, turns 30" in html
    assert "Франко" not in html and "Бондар" not in html  # another's person, a former employee
    assert "Леся" not in html
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert "Леся Українка" in me.get(f"/planner/reminders?day={tomorrow}").get_data(as_text=True)
    assert 'name="action"' not in html  # birthdays cannot be snoozed or done

    html = other.get("/planner/reminders").get_data(as_text=True)
    assert "Франко Іван" in html and "Шевченко" not in html and "Коваленко" not in html
    assert ">Birthdays<" not in plogin([REMINDERS]).get("/planner/reminders").get_data(as_text=True)


def test_february_29():
    assert celebrated_keys(date(2025, 2, 28)) == [228, 229]
    assert celebrated_keys(date(2024, 2, 28)) == [228]
    assert celebrated_keys(date(2024, 2, 29)) == [229]
    assert celebrated_on(date(1992, 2, 29), 2025) == date(2025, 2, 28)
    assert celebrated_on(date(1992, 2, 29), 2028) == date(2028, 2, 29)


def test_calendar_events(plogin, person, employee):
    me = plogin([CALENDAR, PERSONS, EMPLOYEES])
    leap = person("Високосний", date(1992, 2, 29), me.user_id)
    winter = person("Зимовий", date(1980, 1, 2), me.user_id)
    person("Осінній", date(1980, 10, 2), me.user_id)
    staff = employee("Грудневий", date(1985, 12, 30))
    window = {"start": "2024-12-28T00:00:00Z", "end": "2025-03-01T00:00:00Z"}
    found = {e["id"]: e for e in me.get("/planner/calendar/events", query_string=window).get_json()}
    assert set(found) == {
        f"crm_base.birthday.person.{winter.id}.2025",
        f"crm_base.birthday.person.{leap.id}.2025",
        f"crm_base.birthday.employee.{staff.id}.2024",
    }
    event = found[f"crm_base.birthday.person.{leap.id}.2025"]
    assert (event["start"], event["end"], event["allDay"]) == ("2025-02-28", "2025-03-01", True)
    assert event["editable"] is False and event["title"] == "Birthday: Високосний"
    assert event["extendedProps"]["kindLabel"] == "Birthdays"
    assert event["extendedProps"]["ownerId"] == me.user_id
    assert found[f"crm_base.birthday.employee.{staff.id}.2024"]["start"] == "2024-12-30"
    assert found[f"crm_base.birthday.employee.{staff.id}.2024"]["extendedProps"]["ownerId"] is None


def test_calendar_of_another_employee_within_scope(plogin, person, pdb):
    employee = plogin([CALENDAR, PERSONS])
    theirs = person("Чужий", date(1990, 6, 15), employee.user_id)
    window = {"start": "2025-06-01T00:00:00Z", "end": "2025-07-01T00:00:00Z"}

    def ids(client):  # type: ignore[no-untyped-def]
        query = {**window, "owner": str(employee.user_id)}
        return {e["id"] for e in client.get("/planner/calendar/events", query_string=query).json}

    boss = plogin([CALENDAR, OTHERS, PERSONS], scopes={"crm_base.person": "all"})
    assert ids(boss) == {f"crm_base.birthday.person.{theirs.id}.2025"}
    narrow = plogin([CALENDAR, OTHERS, PERSONS])  # scope "own": not the other's persons
    assert ids(narrow) == set()


def test_birthdays_cannot_be_moved_or_done(plogin, post, person):
    me = plogin([REMINDERS, CALENDAR, PERSONS])
    record = person("Нерухомий", date(1990, 6, 15), me.user_id)
    event_id = f"crm_base.birthday.person.{record.id}.2025"
    assert post(me, "/planner/calendar/move", id=event_id, start="2025-06-20").status_code == 404
    answer = post(me, "/planner/reminders/action", key=event_id, action="done")
    assert answer.status_code == 404


def test_no_owner_no_persons(papp, plogin, person):
    """An empty ``owner_ids`` asks for no one's persons (the employees still show)."""
    from datetime import UTC, datetime

    from flask_login import login_user

    from core.models import User
    from core.security import LoginUser

    me = plogin([CALENDAR, PERSONS])
    person("Нічий", date(1990, 6, 15), me.user_id)
    with papp.test_request_context("/"):
        user = LoginUser(papp.extensions["vitrylo"].db.session().get(User, me.user_id))
        login_user(user)
        start, end = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
        assert calendar_events(user, start, end, ()) == []
        assert len(calendar_events(user, start, end, (me.user_id,))) == 1
