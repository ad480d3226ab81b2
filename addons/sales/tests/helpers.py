"""Helpers the sales test modules share (``conftest.py`` holds the fixtures of the shared
app): a CSRF-carrying post, row counts, the signed-in user of hook calls, counterparties,
contact persons and deals, and a kernel with the notifications addon for what sales tells
through it.

The modules that need the ``nkernel`` / ``napp`` fixtures load this module with
``pytest_plugins``; each such module gets a database of its own (module scope).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.crm_base.models import Channel, Counterparty, Person, PersonLink
from addons.sales.funnel import create_opportunity
from addons.sales.models import Opportunity
from core.kernel import Kernel
from core.models import User
from core.security import LoginUser
from core.testing.plugin import app_for, csrf_token, kernel_with


def post(
    app: Flask, client: FlaskClient, url: str, data: Mapping[str, Any] | None = None, **fields: Any
) -> Any:
    """``client`` posts ``data`` and ``fields`` to ``url`` with a valid CSRF token."""
    return client.post(url, data={**(data or {}), **fields, "csrf_token": csrf_token(app, client)})


def count(db: Session, model: Any) -> int:
    """How many rows ``model``'s table has."""
    return db.scalar(select(func.count()).select_from(model)) or 0


def as_user(db: Session, user_id: int) -> LoginUser:
    """The user as the hooks get it (``current_user``)."""
    user = db.get(User, user_id)
    assert user is not None
    return LoginUser(user)


def make_counterparty(
    db: Session, name: str, manager_id: int, *values: str, kind: str = "phone"
) -> Counterparty:
    """A counterparty with channels of ``kind`` (``values``; the second one is its main)."""
    record = Counterparty(name=name, manager_id=manager_id)
    db.add(record)
    db.flush()
    db.add_all(
        Channel(counterparty_id=record.id, kind=kind, value=value, is_primary=index == 1)
        for index, value in enumerate(values)
    )
    db.commit()
    return record


def make_person(
    db: Session,
    manager_id: int,
    full_name: str = "Коваль",
    *,
    counterparty_id: int | None = None,
    primary: bool = False,
    email: str = "",
    phone: str = "",
) -> Person:
    """A contact person (the first word of ``full_name`` is the last name), working with
    ``counterparty_id`` (its main contact if ``primary``), with an e-mail and a phone."""
    person = Person(last_name=full_name.split()[0], full_name=full_name, manager_id=manager_id)
    db.add(person)
    db.flush()
    if counterparty_id is not None:
        db.add(PersonLink(person_id=person.id, counterparty_id=counterparty_id, is_primary=primary))
    db.add_all(
        Channel(person_id=person.id, kind=kind, value=value)
        for kind, value in (("email", email), ("phone", phone))
        if value
    )
    db.commit()
    return person


def make_opportunity(
    db: Session,
    counterparty_id: int,
    responsible_id: int | None,
    name: str = "Впровадження CRM",
    **kw: Any,
) -> Opportunity:
    """An open deal at the first stage of the default pipeline (made if missing), saved."""
    record = create_opportunity(
        db, counterparty_id=counterparty_id, name=name, responsible_id=responsible_id, **kw
    )
    db.commit()
    return record


@pytest.fixture(scope="module")
def nkernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """sales with notifications, on a database of the importing module's own."""
    tmp = tmp_path_factory.mktemp("sales_notifications")
    with kernel_with(tmp, ["sales", "notifications"], licensed=True) as kernel:
        yield kernel


@pytest.fixture(scope="module")
def napp(nkernel: Kernel) -> Flask:
    return app_for(nkernel)
