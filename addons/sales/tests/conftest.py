"""Fixtures of the sales tests: one licensed database with crm_base and sales for the
session, each test in a transaction rolled back at its end.

- ``sales_kernel`` / ``sales_app``: the kernel and the app (session scope);
- ``sdb``: the app's session inside the test's transaction;
- ``slogin(perms, superuser=False, scopes=None, language="en")``: a client signed in as a
  new user (``scopes={"sales.opportunity": "team"}`` widens the user's record scope;
  English unless told otherwise, so tests read English texts); the client carries
  ``user_id`` and ``user_login``;
- ``counterparty(name, manager_id=None)``: a counterparty made in ``sdb``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from core.kernel import Kernel
from core.testing.plugin import (
    app_for,
    kernel_with,
    rolled_back,
    signed_in_client,
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
        language: str | None = "en",
    ) -> FlaskClient:
        name = f"seller{next(_names)}"
        return signed_in_client(
            sales_app, sdb, name, permissions, superuser, scopes=scopes, language=language
        )

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
