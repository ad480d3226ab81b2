"""Scheduled scans that find events nobody raised (NT-3): birthdays.

``notifications.birthdays`` runs hourly in ``vitrylo worker`` (so it fires soon after
midnight and after a restart); it is safe at any frequency because each birthday is an
event keyed ``person:<id>:<year>`` / ``employee:<id>:<year>``, and raising an existing
event writes nothing.

It stays set-based at a million contact persons: one query on the indexed ``birth_key``
(``MMDD``) per table returns only today's birthdays (about 1/365 of the rows), then
:func:`events.raise_events` writes events, notifications and outbox rows in batches.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.notifications.channels import read_settings
from addons.notifications.events import EventSpec, raise_events
from core.db import write_intent
from core.models import GroupImplied, GroupPermission, User, UserGroup

log = logging.getLogger(__name__)
BIRTHDAY = "crm_base.birthday"
EMPLOYEE_READ = "crm_base.employee.read"
DEFAULT_TIMEZONE = "Europe/Kyiv"


def today_in(timezone: str) -> date:
    """Today where the company is (the server may run in UTC)."""
    try:
        return datetime.now(ZoneInfo(timezone or DEFAULT_TIMEZONE)).date()
    except (ZoneInfoNotFoundError, ValueError):
        return datetime.now(ZoneInfo(DEFAULT_TIMEZONE)).date()


def birth_keys(day: date) -> list[int]:
    """The ``birth_key`` values celebrated on ``day``: 29 February is celebrated on the
    28th in other years."""
    keys = [day.month * 100 + day.day]
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        keys.append(229)
    return keys


def users_with_permission(session: Session, permission: str) -> list[int]:
    """Active users holding ``permission`` through a group (or a group implying one that
    has it), plus active superusers."""
    groups = set(
        session.scalars(
            select(GroupPermission.group_id).where(GroupPermission.permission == permission)
        )
    )
    frontier = set(groups)
    while frontier:  # groups that imply a granting group grant it too
        implying = set(
            session.scalars(
                select(GroupImplied.group_id).where(GroupImplied.implied_id.in_(frontier))
            )
        )
        frontier = implying - groups
        groups |= frontier
    members = select(UserGroup.user_id).where(UserGroup.group_id.in_(groups))
    return list(
        session.scalars(
            select(User.id)
            .where(User.active.is_(True), (User.id.in_(members)) | User.is_superuser.is_(True))
            .order_by(User.id)
        )
    )


def _age(birthday: date | None, day: date) -> int | None:
    if birthday is None or birthday.year < 1900 or birthday.year >= day.year:
        return None
    return day.year - birthday.year


def _body(kind: str, name: str, age: int | None) -> str:
    if kind == "person":
        if age:
            return _("Contact person %(name)s turns %(age)s today.", name=name, age=age)
        return _("Contact person %(name)s has a birthday today.", name=name)
    if age:
        return _("Employee %(name)s turns %(age)s today.", name=name, age=age)
    return _("Employee %(name)s has a birthday today.", name=name)


def person_birthdays(session: Session, day: date) -> list[EventSpec]:
    """Today's birthdays of contact persons, for their responsible managers (one query)."""
    from addons.crm_base.models import Person, PersonLink

    counterparty = (
        select(func.min(PersonLink.counterparty_id))
        .where(PersonLink.person_id == Person.id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Person.id, Person.full_name, Person.birthday, Person.manager_id, counterparty)
        .where(Person.birth_key.in_(birth_keys(day)), Person.manager_id.is_not(None))
        .order_by(Person.id)
    )
    return [
        EventSpec(
            BIRTHDAY,
            f"person:{pid}:{day.year}",
            _("Birthday: %(name)s", name=name),
            _body("person", name, _age(birthday, day)),
            f"/crm/counterparties/{cp_id}" if cp_id else "",
            (manager_id,),
        )
        for pid, name, birthday, manager_id, cp_id in rows
    ]


def employee_birthdays(session: Session, day: date) -> list[EventSpec]:
    """Today's birthdays of active employees, for everyone who may read employees (except
    the person whose birthday it is)."""
    from addons.crm_base.models import Employee

    rows = session.execute(
        select(Employee.id, Employee.full_name, Employee.birthday, Employee.user_id)
        .where(Employee.birth_key.in_(birth_keys(day)), Employee.active.is_(True))
        .order_by(Employee.id)
    ).all()
    if not rows:
        return []
    readers = users_with_permission(session, EMPLOYEE_READ)
    return [
        EventSpec(
            BIRTHDAY,
            f"employee:{eid}:{day.year}",
            _("Birthday: %(name)s", name=name),
            _body("employee", name, _age(birthday, day)),
            f"/crm/employees/{eid}",
            tuple(uid for uid in readers if uid != own_user),
        )
        for eid, name, birthday, own_user in rows
    ]


def scan_birthdays(
    session: Session, day: date | None = None, hooks: Any = None, language: str = "uk"
) -> int:
    """Raise today's birthday events in the caller's transaction; returns how many were
    new. Titles are written in ``language`` (the company's), once per event."""
    day = day or today_in(read_settings(session)["notifications.timezone"])
    with force_locale(language):
        specs = person_birthdays(session, day) + employee_birthdays(session, day)
    return len(raise_events(session, specs, hooks=hooks))


def birthdays_job(app: Any) -> None:
    """The ``notifications.birthdays`` scheduled job: one short writing transaction."""
    kernel = app.extensions["vitrylo"]
    if not kernel.is_enabled("crm_base"):
        return
    with write_intent(), kernel.db.session_factory() as session, session.begin():
        created = scan_birthdays(session, hooks=kernel.hooks)
    if created:
        log.info("birthdays: %s new events", created)
