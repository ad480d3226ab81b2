"""crm_base's rows in the planner: birthdays of contact persons and of employees, as
reminders on the day (RM-1) and as all-day calendar events (PN-1). Registered by the
``reminders`` and ``calendar_events`` hooks in ``__init__.py``. (Not named
``reminders.py``: importing it would set ``addons.crm_base.reminders`` to the module,
hiding the hook function of that name from pluggy.)

- A contact person's birthday reminds the person's manager (as the notifications addon's
  birthday scan does); on the calendar, the persons of the users whose calendar is shown
  (``owner_ids``), within the reader's record scope of ``crm_base.person``.
- Employees' birthdays are for everyone who may read employees (``owner_id`` none: they
  belong to no one's calendar in particular).
- Both are range scans on the indexed ``birth_key`` (``MMDD``,
  :func:`~addons.crm_base.persons.birthdays_between`): a day is about 1/365 of a million
  persons, then the manager filter. February 29 is celebrated on the 28th in other years.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import null, select

from addons.crm_base.models import PERSON_SUBJECT, Employee, Person, birth_key
from addons.crm_base.persons import birthdays_between
from core.hooktypes import CalendarEvent, Reminder
from core.security import has_permission, scope_filter
from core.web import db_session

KIND = "crm_base.birthday"
PERSON_READ = "crm_base.person.read"
EMPLOYEE_READ = "crm_base.employee.read"


def celebrated_keys(day: date) -> list[int]:
    """The ``birth_key`` values celebrated on ``day`` (Feb 28 takes Feb 29 in other years)."""
    keys = [birth_key(day) or 0]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        keys.append(229)
    return keys


def celebrated_on(birthday: date, year: int) -> date:
    """The day of ``year`` on which a birthday is celebrated."""
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, birthday.month, birthday.day)


def _age(birthday: date, day: date) -> int | None:
    """The age turned on ``day``; ``None`` for a birthday without a believable year."""
    years = day.year - birthday.year
    return years if birthday.year >= 1900 and years > 0 else None


def _detail(who: str, birthday: date, day: date) -> str:
    age = _age(birthday, day)
    return _("%(who)s, turns %(age)s", who=who, age=age) if age else who


# -- reminders ----------------------------------------------------------------------------


def reminders(user: Any, day: date) -> list[Reminder]:
    """Birthdays on ``day``: of the persons ``user`` manages, and of the employees when
    ``user`` may read employees."""
    keys = celebrated_keys(day)
    sources: list[tuple[str, str, Any]] = []  # (card endpoint, who, query)
    if has_permission(PERSON_READ, user):
        stmt = (
            select(Person.id, Person.full_name, Person.birthday)
            .where(Person.birth_key.in_(keys), Person.manager_id == user.id)
            .order_by(Person.full_name, Person.id)
        )
        sources.append(("crm_base.person", _("Contact person"), stmt))
    if has_permission(EMPLOYEE_READ, user):
        stmt = (
            select(Employee.id, Employee.full_name, Employee.birthday)
            .where(Employee.birth_key.in_(keys), Employee.active.is_(True))
            .order_by(Employee.full_name, Employee.id)
        )
        sources.append(("crm_base.employee", _("Employee"), stmt))
    label = _("Birthdays")
    db = db_session()
    return [
        Reminder(
            KIND,
            name,
            due=day,
            url=url_for(endpoint, record_id=rid),
            kind_label=label,
            detail=_detail(who, born, day),
        )
        for endpoint, who, stmt in sources
        for rid, name, born in db.execute(stmt)
    ]


# -- calendar events ----------------------------------------------------------------------


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and the last day touched by ``[start, end)``."""
    return start.date(), (end - timedelta(microseconds=1)).date()


def _occurrences(born: date, first: date, last: date) -> list[date]:
    """The days in ``first``..``last`` on which ``born`` is celebrated (two in a range
    over a year long)."""
    found = (celebrated_on(born, year) for year in range(first.year, last.year + 1))
    return [day for day in found if first <= day <= last]


def calendar_events(
    user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]
) -> list[CalendarEvent]:
    """All-day birthday events in ``[start, end)``: of the persons the users
    ``owner_ids`` manage (within ``user``'s scope), and of the employees."""
    first, last = _days(start, end)
    # One day more: Feb 29 (key 229) lies between Feb 28 and Mar 1, where it is celebrated.
    window = (last - first).days + 2
    db = db_session()
    sources: list[tuple[str, str, Any]] = []  # (id prefix, card endpoint, rows)
    if owner_ids and has_permission(PERSON_READ, user):
        stmt = select(Person.id, Person.full_name, Person.birthday, Person.manager_id).where(
            birthdays_between(first, window), Person.manager_id.in_(owner_ids)
        )
        rows = db.execute(scope_filter(stmt, PERSON_SUBJECT, Person.manager_id, user)).all()
        sources.append(("person", "crm_base.person", rows))
    if has_permission(EMPLOYEE_READ, user):
        stmt = select(Employee.id, Employee.full_name, Employee.birthday, null()).where(
            birthdays_between(first, window, Employee.birth_key), Employee.active.is_(True)
        )
        sources.append(("employee", "crm_base.employee", db.execute(stmt).all()))
    label, title = _("Birthdays"), _("Birthday: %(name)s")  # translated once, not per row
    return [
        CalendarEvent(
            f"{KIND}.{prefix}.{rid}.{day.year}",
            title % {"name": name},
            start=day,
            end=day + timedelta(days=1),
            kind=KIND,
            url=url_for(endpoint, record_id=rid),
            kind_label=label,
            owner_id=owner,
        )
        for prefix, endpoint, rows in sources
        for rid, name, born, owner in rows
        for day in _occurrences(born, first, last)
    ]
