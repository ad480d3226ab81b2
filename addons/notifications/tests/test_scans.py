"""The birthday scan (NT-3): today's birthdays of contact persons (for their manager) and of
employees (for those who may read employees), never twice for the same birthday."""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from addons.crm_base.models import Employee, Person, birth_key
from addons.notifications import models as m
from addons.notifications.scans import (
    BIRTHDAY,
    birth_keys,
    birthdays_job,
    scan_birthdays,
    today_in,
    users_with_permission,
)
from addons.notifications.tests.helpers import make_user
from core.kernel import Kernel
from core.models import Group, GroupImplied, GroupPermission, UserGroup

DAY = date(2025, 3, 14)


def _person(session: Session, name: str, birthday: date | None, manager: int | None) -> Person:
    person = Person(
        last_name=name,
        full_name=name,
        birthday=birthday,
        birth_key=birth_key(birthday),
        manager_id=manager,
    )
    session.add(person)
    session.flush()
    return person


def _employee(
    session: Session, name: str, birthday: date, user_id: int | None = None, active: bool = True
) -> Employee:
    employee = Employee(
        last_name=name,
        full_name=name,
        birthday=birthday,
        birth_key=birth_key(birthday),
        user_id=user_id,
        active=active,
    )
    session.add(employee)
    session.flush()
    return employee


def _clean_crm(kernel: Kernel) -> None:
    with kernel.db.transaction() as session:
        session.execute(delete(Person))
        session.execute(delete(Employee))


def _notified(kernel: Kernel) -> list[tuple[str, int, str]]:
    with kernel.db.session_factory() as session:
        rows = session.execute(
            select(m.Event.key, m.Notification.user_id, m.Event.title)
            .join(m.Notification, m.Notification.event_id == m.Event.id)
            .order_by(m.Event.key, m.Notification.user_id)
        )
        return [tuple(r) for r in rows]


def test_contact_persons_birthdays_reach_their_manager_once(nk: Kernel):
    _clean_crm(nk)
    manager = make_user(nk, "sc-manager")
    with nk.db.transaction() as session:
        today = _person(session, "Петренко Іван", date(1985, 3, 14), manager)
        _person(session, "Без Менеджера", date(1990, 3, 14), None)
        _person(session, "Завтра Народжений", date(1990, 3, 15), manager)
        _person(session, "Без Дати", None, manager)
    with nk.db.transaction() as session:
        assert scan_birthdays(session, DAY) == 1
    with nk.db.transaction() as session:
        assert scan_birthdays(session, DAY) == 0  # the hourly re-run tells nobody again
    ((key, user, title),) = _notified(nk)
    assert (key, user) == (f"person:{today.id}:2025", manager)
    assert title.endswith(": Петренко Іван")  # "День народження: …" (the company's language)
    with nk.db.session_factory() as session:
        event = session.scalars(select(m.Event)).one()
    assert event.type == BIRTHDAY
    assert "40" in event.body
    # Next year is another birthday.
    with nk.db.transaction() as session:
        assert scan_birthdays(session, date(2026, 3, 14)) == 1


def test_employees_birthdays_reach_those_who_may_read_employees(nk: Kernel):
    _clean_crm(nk)
    reader = make_user(nk, "sc-reader")
    via_implied = make_user(nk, "sc-implied")
    boss = make_user(nk, "sc-boss", is_superuser=True)
    outsider = make_user(nk, "sc-outsider")
    celebrant = make_user(nk, "sc-celebrant")
    with nk.db.transaction() as session:
        readers = Group(name="sc readers")
        managers = Group(name="sc managers")
        session.add_all([readers, managers])
        session.flush()
        session.add(GroupPermission(group_id=readers.id, permission="crm_base.employee.read"))
        session.add(GroupImplied(group_id=managers.id, implied_id=readers.id))
        session.add_all(
            [
                UserGroup(user_id=reader, group_id=readers.id),
                UserGroup(user_id=celebrant, group_id=readers.id),
                UserGroup(user_id=via_implied, group_id=managers.id),
            ]
        )
        employee = _employee(session, "Коваленко Марія", date(1990, 3, 14), user_id=celebrant)
        _employee(session, "Звільнений", date(1991, 3, 14), active=False)
    with nk.db.session_factory() as session:
        allowed = set(users_with_permission(session, "crm_base.employee.read"))
    assert {reader, via_implied, boss, celebrant} <= allowed and outsider not in allowed
    with nk.db.transaction() as session:
        assert scan_birthdays(session, DAY) == 1
    notified = {uid for key, uid, _t in _notified(nk) if key == f"employee:{employee.id}:2025"}
    assert {reader, via_implied, boss} <= notified
    assert outsider not in notified and celebrant not in notified  # not told of their own


def test_leap_day_birthdays_are_celebrated_on_the_28th_in_other_years(nk: Kernel):
    _clean_crm(nk)
    manager = make_user(nk, "sc-leap")
    with nk.db.transaction() as session:
        leap = _person(session, "Високосний", date(2000, 2, 29), manager)
    assert birth_keys(date(2025, 2, 28)) == [228, 229]
    assert birth_keys(date(2024, 2, 28)) == [228]
    with nk.db.transaction() as session:
        assert scan_birthdays(session, date(2024, 2, 28)) == 0
        assert scan_birthdays(session, date(2024, 2, 29)) == 1
        assert scan_birthdays(session, date(2025, 2, 28)) == 1
    keys = {key for key, _uid, _t in _notified(nk)}
    assert keys == {f"person:{leap.id}:2024", f"person:{leap.id}:2025"}


def test_the_scheduled_job(nk: Kernel, napp: Flask):
    _clean_crm(nk)
    manager = make_user(nk, "sc-job")
    today = today_in("Europe/Kyiv")
    with nk.db.transaction() as session:
        _person(session, "Сьогоднішній", date(1980, today.month, today.day), manager)  # leap
    birthdays_job(napp)
    birthdays_job(napp)
    with nk.db.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(m.Notification)) == 1
    assert today_in("No/Such_Zone") == today_in("Europe/Kyiv")
