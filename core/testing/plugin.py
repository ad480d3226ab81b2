"""Pytest fixtures for Vitrylo and partner addons (registered through the ``pytest11``
entry point, so ``pip install vitrylo[test]`` makes them available everywhere).

- ``vitrylo_addons``: the addons to install; override it in your ``conftest.py``.
- ``vitrylo_addon_paths``: extra folders holding addons (for addons not pip-installed).
- ``vitrylo_app``: a Flask app on a database with those addons, built once per session.
- ``db_session``: the database session of the app, rolled back after each test.
- ``client``: a test client of that app; ``login(...)``: a client signed in as a new user
  holding the given permissions.
- ``make_kernel``: a kernel on a brand-new database, for tests that install and uninstall.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.config import Settings
from core.db import Database
from core.kernel import Kernel
from core.models import Group, GroupPermission, GroupScope, User, UserGroup
from core.security import hash_password
from core.testing.databases import drop_database, fresh_database_url, temporary_database

TEST_PASSWORD = "correct-horse-battery"
CHROMIUM = os.environ.get("VITRYLO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_configure(config: pytest.Config) -> None:
    """Tests create many users: hash their passwords with argon2's cheapest settings."""
    from core.security import use_cheap_hashing

    use_cheap_hashing()


@pytest.fixture(scope="session")
def vitrylo_addons() -> Sequence[str]:
    """The addons the shared test app installs: every bundled free addon by default."""
    return ("crm_base",)


@pytest.fixture(scope="session")
def vitrylo_addon_paths() -> Sequence[Path]:
    """Folders with extra addons to discover (besides bundled and pip-installed ones)."""
    return ()


def _settings(tmp: Path, url: str, addon_paths: Sequence[Path], **extra: Any) -> Settings:
    return Settings.from_env(
        env={},
        instance_path=str(tmp / "instance"),
        database_url=url,
        addons_path=os.pathsep.join(map(str, addon_paths)),
        **{"secret_key": "test-secret-key", **extra},
    )


@contextlib.contextmanager
def kernel_with(
    tmp: Path,
    addons: Sequence[str],
    addon_paths: Sequence[Path] = (),
    licensed: bool = False,
    server: str | None = None,
    **settings: Any,
) -> Iterator[Kernel]:
    """A kernel on a fresh database with ``addons`` installed, dropped afterwards: for a
    module-scoped app with another set of addons than the shared one. ``licensed=True``
    first installs a licence for every commercial addon, signed by a key made for the test
    and trusted by this kernel only. ``server`` is the database server (default: the test
    suite's, ``VITRYLO_TEST_DATABASE_URL``; the benchmarks pass their own)."""
    with temporary_database(tmp, server) as url:
        if licensed:
            settings["trusted_keys"] = str(licence_key_for_tests(tmp))
        kernel = Kernel(_settings(tmp, url, addon_paths, **settings))
        try:
            kernel.manager.init_core()
            if licensed:
                install_test_licence(kernel, tmp)
            kernel.manager.install(addons)
            kernel.refresh()
            yield kernel
        finally:
            kernel.db.dispose()


def licence_key_for_tests(tmp: Path) -> Path:
    """The public half of a key pair made in ``tmp`` for signing a test licence."""
    from core.licensing import generate_keypair

    folder = tmp / "test-licence"
    folder.mkdir(exist_ok=True)
    if not (folder / "vendor.pub").exists():
        generate_keypair(folder / "vendor.pem", folder / "vendor.pub")
    return folder / "vendor.pub"


def install_test_licence(kernel: Kernel, tmp: Path) -> None:
    """Install a licence for every commercial addon ("*") signed by the key of
    :func:`licence_key_for_tests` (the kernel must trust it: ``trusted_keys=``)."""
    from core.addons import bump_counter
    from core.licenses import install_license
    from core.licensing import issue

    licence_key_for_tests(tmp)
    content = issue(
        tmp / "test-licence" / "vendor.pem",
        customer="Test licence",
        addons=["*"],
        max_users=1000,
        expires=date.today() + timedelta(days=30),
    )
    with kernel.db.transaction() as session:
        install_license(session, content, kernel.trusted_keys())
        bump_counter(session)


def app_for(kernel: Kernel) -> Flask:
    """The test app over ``kernel``."""
    from core.app import create_app

    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    return app


@contextlib.contextmanager
def rolled_back(db: Database) -> Iterator[Session]:
    """The app's session bound to one transaction that is rolled back at the end.

    Commits inside the app become savepoints, so views behave as in production while
    nothing a test writes is left for the next test.
    """
    connection = db.engine.connect()
    outer = connection.begin()
    db.session.remove()
    factory_kw = db.session.session_factory.kw
    saved_mode = factory_kw.get("join_transaction_mode")
    db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    db.pinned = True
    try:
        yield db.session()
    finally:
        db.pinned = False
        db.session.remove()
        factory_kw.pop("join_transaction_mode", None)  # back to what it was (the default)
        db.session.configure(bind=db.engine)
        if saved_mode is not None:
            db.session.configure(join_transaction_mode=saved_mode)
        outer.rollback()
        connection.close()


@pytest.fixture(scope="session")
def _vitrylo_db(
    tmp_path_factory: pytest.TempPathFactory,
    vitrylo_addons: Sequence[str],
    vitrylo_addon_paths: Sequence[Path],
) -> Iterator[Kernel]:
    with kernel_with(
        tmp_path_factory.mktemp("vitrylo"), vitrylo_addons, vitrylo_addon_paths
    ) as kernel:
        yield kernel


@pytest.fixture(scope="session")
def vitrylo_app(_vitrylo_db: Kernel) -> Flask:
    """The app over the shared test database (don't install or uninstall addons with it)."""
    return app_for(_vitrylo_db)


@pytest.fixture
def db_session(vitrylo_app: Flask, _vitrylo_db: Kernel) -> Iterator[Session]:
    """The app's session, bound to a transaction rolled back when the test ends."""
    with rolled_back(_vitrylo_db.db) as session:
        yield session


@pytest.fixture
def client(vitrylo_app: Flask, db_session: Session) -> FlaskClient:
    return vitrylo_app.test_client()


def csrf_token(app: Flask, client: FlaskClient) -> str:
    """A valid CSRF token for ``client``'s session (the value Flask-WTF would render)."""
    with client.session_transaction() as sess:
        if "csrf_token" not in sess:
            sess["csrf_token"] = hashlib.sha1(os.urandom(64)).hexdigest()  # noqa: S324
        raw = sess["csrf_token"]
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def create_user(
    session: Session, login: str, permissions: Sequence[str] = (), superuser: bool = False
) -> User:
    """A user in a group of their own holding ``permissions``."""
    user = User(
        login=login,
        name=login.title(),
        is_superuser=superuser,
        password_hash=hash_password(TEST_PASSWORD),
    )
    session.add(user)
    session.flush()
    if permissions:
        group = Group(name=f"group of {login}")
        session.add(group)
        session.flush()
        session.add_all(GroupPermission(group_id=group.id, permission=p) for p in permissions)
        session.add(UserGroup(user_id=user.id, group_id=group.id))
    session.commit()
    return user


def signed_in_client(
    app: Flask,
    db: Session,
    login: str,
    permissions: Sequence[str] = (),
    superuser: bool = False,
    scopes: Mapping[str, str] | None = None,
    language: str | None = None,
) -> FlaskClient:
    """A client signed in through the login form as a new user ``login`` holding
    ``permissions``; ``scopes`` (``{"sales.contact": "team"}``) widen the user's record
    scopes, ``language="en"`` lets a test read English texts. The client carries
    ``user_id`` and ``user_login``."""
    user = create_user(db, login, permissions, superuser)
    if language is not None:
        user.language = language
    if scopes:
        group_id = db.scalar(select(UserGroup.group_id).where(UserGroup.user_id == user.id))
        db.add_all(
            GroupScope(group_id=group_id, subject=subject, scope=scope)
            for subject, scope in scopes.items()
        )
    db.commit()
    client = app.test_client()
    response = client.post(
        "/login",
        data={"login": login, "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert response.status_code == 302, response.data
    client.user_login = login  # type: ignore[attr-defined]
    client.user_id = user.id  # type: ignore[attr-defined]
    return client


@pytest.fixture
def login(vitrylo_app: Flask, db_session: Session) -> Callable[..., FlaskClient]:
    """``login(["crm_base.counterparty.read"])`` → a client signed in as a new user."""
    counter = iter(range(1, 10_000))

    def make(
        permissions: Sequence[str] = (), superuser: bool = False, login_name: str | None = None
    ) -> FlaskClient:
        name = login_name or f"user{next(counter)}"
        return signed_in_client(vitrylo_app, db_session, name, permissions, superuser)

    return make


@pytest.fixture
def make_kernel(
    tmp_path: Path, vitrylo_addon_paths: Sequence[Path]
) -> Iterator[Callable[..., Kernel]]:
    """``make_kernel(["crm_base"])`` → a kernel on a new database with those addons
    (``licensed=True``: with a test licence for every commercial addon)."""
    made: list[tuple[Kernel, str]] = []

    def make(
        addons: Sequence[str] = (),
        addon_paths: Sequence[Path] | None = None,
        url: str | None = None,
        licensed: bool = False,
        **settings: Any,
    ) -> Kernel:
        db_url = url or fresh_database_url(tmp_path)
        paths = vitrylo_addon_paths if addon_paths is None else addon_paths
        if licensed:
            settings["trusted_keys"] = str(licence_key_for_tests(tmp_path))
        kernel = Kernel(_settings(tmp_path, db_url, paths, **settings))
        kernel.manager.init_core()
        if licensed:
            install_test_licence(kernel, tmp_path)
        if addons:
            kernel.manager.install(addons)
        kernel.refresh()
        made.append((kernel, db_url if url is None else ""))
        return kernel

    yield make
    for kernel, url in made:
        kernel.db.dispose()
        if url:
            drop_database(url)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium through Playwright, one for the whole run (Playwright's sync API
    allows one at a time): ``browser.new_context(base_url=…)`` per test. Skips without
    Chromium, except under CI, which installs it."""
    if not Path(CHROMIUM).exists():
        message = (
            f"Chromium not found at {CHROMIUM}: install it with "
            "'apt-get install -y chromium' (or set VITRYLO_CHROMIUM)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI installs it: a missing browser is a broken set-up
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
