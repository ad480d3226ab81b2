"""Fixtures of the sales tests: one licensed database with crm_base and sales for the
session, each test in a transaction rolled back at its end.

- ``sales_kernel`` / ``sales_app``: the kernel and the app (session scope);
- ``sdb``: the app's session inside the test's transaction;
- ``slogin(perms, superuser=False, scopes=None)``: a client signed in as a new user
  (``scopes={"sales.opportunity": "team"}`` widens the user's record scope); the client
  carries ``user_id`` and ``user_login``;
- ``counterparty(name, manager_id=None)``: a counterparty made in ``sdb``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from core.kernel import Kernel
from core.models import GroupScope, UserGroup
from core.testing.plugin import (
    TEST_PASSWORD,
    app_for,
    create_user,
    csrf_token,
    kernel_with,
    rolled_back,
)

_names = itertools.count(1)


@pytest.fixture(scope="session")
def sales_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with kernel_with(tmp_path_factory.mktemp("sales"), ["sales"], licensed=True) as kernel:
        yield kernel


@pytest.fixture(scope="session")
def sales_app(sales_kernel: Kernel) -> Flask:
    return app_for(sales_kernel)


@pytest.fixture
def sdb(sales_app: Flask, sales_kernel: Kernel) -> Iterator[Session]:
    with rolled_back(sales_kernel.db) as session:
        yield session


@pytest.fixture
def slogin(sales_app: Flask, sdb: Session) -> Callable[..., FlaskClient]:
    def make(
        permissions: Sequence[str] = (),
        superuser: bool = False,
        scopes: Mapping[str, str] | None = None,
    ) -> FlaskClient:
        name = f"seller{next(_names)}"
        user = create_user(sdb, name, permissions, superuser)
        if scopes:
            group_id = sdb.scalar(select(UserGroup.group_id).where(UserGroup.user_id == user.id))
            sdb.add_all(
                GroupScope(group_id=group_id, subject=subject, scope=scope)
                for subject, scope in scopes.items()
            )
            sdb.commit()
        client = sales_app.test_client()
        response = client.post(
            "/login",
            data={
                "login": name,
                "password": TEST_PASSWORD,
                "csrf_token": csrf_token(sales_app, client),
            },
        )
        assert response.status_code == 302, response.data
        client.user_login = name  # type: ignore[attr-defined]
        client.user_id = user.id  # type: ignore[attr-defined]
        return client

    return make


@pytest.fixture
def counterparty(sdb: Session) -> Callable[..., Counterparty]:
    def make(
        name: str = "ТОВ «Покупець»", manager_id: int | None = None, **kw: Any
    ) -> Counterparty:
        record = Counterparty(name=name, manager_id=manager_id, **kw)
        sdb.add(record)
        sdb.commit()
        return record

    return make
