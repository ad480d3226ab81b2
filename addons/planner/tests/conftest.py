"""Fixtures of the planner tests: one database with crm_base, planner and the test-only
addon ``plannertest`` (tests/testaddons) for the session, each test in a transaction
rolled back at its end.

- ``planner_kernel`` / ``papp``: the kernel and the app (session scope);
- ``pdb``: the app's session inside the test's transaction;
- ``feeder``: the test addon's module, its state cleared; ``today``: the planner's today;
- ``plogin(perms, superuser=False, scopes=None)``: a client signed in as a new user (in
  English), carrying ``user_id``;
- ``post(client, url, **data)``: a POST with the client's CSRF token.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from core.kernel import Kernel
from core.testing.plugin import (
    app_for,
    csrf_token,
    kernel_with,
    rolled_back,
    signed_in_client,
)

TEST_ADDONS = Path(__file__).resolve().parent / "testaddons"
_names = itertools.count(1)


@pytest.fixture(scope="session")
def planner_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with kernel_with(
        tmp_path_factory.mktemp("planner"), ["planner", "plannertest"], addon_paths=[TEST_ADDONS]
    ) as kernel:
        yield kernel


@pytest.fixture(scope="session")
def papp(planner_kernel: Kernel) -> Flask:
    return app_for(planner_kernel)


@pytest.fixture
def pdb(papp: Flask, planner_kernel: Kernel) -> Iterator[Session]:
    with rolled_back(planner_kernel.db) as session:
        yield session


@pytest.fixture
def feeder(papp: Flask) -> ModuleType:
    """The test addon's module (importable once the kernel found it), its state cleared."""
    import plannertest

    plannertest.reset()
    return plannertest


@pytest.fixture
def today(papp: Flask) -> date:
    """Today as the planner sees it (the user's time zone)."""
    from addons.planner.views import local_today

    with papp.test_request_context():
        return local_today()


def sign_in(
    app: Flask,
    db: Session,
    permissions: Sequence[str] = (),
    superuser: bool = False,
    scopes: Mapping[str, str] | None = None,
) -> FlaskClient:
    """A client signed in through the login form as a new user (interface in English)."""
    name = f"planner{next(_names)}"
    return signed_in_client(app, db, name, permissions, superuser, scopes=scopes, language="en")


@pytest.fixture
def plogin(papp: Flask, pdb: Session) -> Callable[..., FlaskClient]:
    def make(
        permissions: Sequence[str] = (),
        superuser: bool = False,
        scopes: Mapping[str, str] | None = None,
    ) -> FlaskClient:
        return sign_in(papp, pdb, permissions, superuser, scopes)

    return make


@pytest.fixture
def post(papp: Flask) -> Callable[..., Any]:
    def send(client: FlaskClient, url: str, **data: Any) -> Any:
        return client.post(url, data={"csrf_token": csrf_token(papp, client), **data})

    return send
