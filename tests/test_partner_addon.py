"""A partner's addon as a pip package (tests/partner_addon): found through its entry point,
installed with its dependency, its page guarded by its permission, gone in safe mode.

The package is pip-installed (not editable) into this interpreter's environment for the
module and uninstalled at the end; the kernel reads entry points when it discovers addons,
so every kernel made after the install sees it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, select

from core import migrate
from core.app import create_app
from core.db import Base, write_intent
from core.kernel import Kernel
from core.migrate import MigrationError
from core.models import Permission
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token

pytestmark = pytest.mark.slow

SOURCE = Path(__file__).resolve().parent / "partner_addon"
DIST = "vitrylo-partner-demo"
PACKAGE = "vitrylo_partner_demo"
ADDON = "partner_demo"


def pip(*args: str) -> None:
    """Run pip of this interpreter; the output is shown only when it fails."""
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, f"{' '.join(cmd)}\n{result.stdout}\n{result.stderr}"


def can_build_offline() -> bool:
    """Whether this environment builds a setuptools wheel by itself (no build isolation):
    setuptools 70.1+ has bdist_wheel built in, older ones need the ``wheel`` package."""
    try:
        from importlib.metadata import version

        major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    except Exception:
        return False
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def pip_install(path: Path) -> None:
    """Install the package at ``path`` like a customer would (a built wheel, not editable).

    Without build isolation when the environment can build it (offline); otherwise pip
    fetches setuptools into an isolated build environment from its index.
    """
    isolation = ["--no-build-isolation"] if can_build_offline() else []
    pip("install", "--quiet", "--no-deps", "--force-reinstall", *isolation, str(path))
    importlib.invalidate_caches()


def forget_package(package: str, table_prefix: str) -> None:
    """Drop the package's modules and tables from this process after its uninstall."""
    for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
        del sys.modules[name]
    for table in [t for t in Base.metadata.tables.values() if t.name.startswith(table_prefix)]:
        Base.metadata.remove(table)
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def partner_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package, copied (building it writes into the source folder) and pip-installed."""
    copy = tmp_path_factory.mktemp("partner") / "vitrylo-partner-demo"
    shutil.copytree(
        SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    )
    pip_install(copy)
    try:
        yield copy
    finally:
        pip("uninstall", "--yes", DIST)
        forget_package(PACKAGE, f"{ADDON}_")


def sign_in(app: Flask, login: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"login": login, "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def test_discovered_through_its_entry_point(partner_copy: Path, make_kernel) -> None:
    kernel: Kernel = make_kernel()
    info = kernel.available[ADDON]
    assert info.source == "entry_point"
    assert info.module == PACKAGE
    assert SOURCE not in info.path.parents and partner_copy not in info.path.parents
    assert (info.path / "templates" / ADDON / "notes.html").is_file()
    assert info.migrations_path is not None
    assert [d.name for d in info.manifest.depends] == ["crm_base"]


def test_install_use_and_uninstall(partner_copy: Path, make_kernel) -> None:
    kernel: Kernel = make_kernel()
    assert kernel.manager.install([ADDON]) == ["crm_base", ADDON]
    kernel.refresh()
    assert kernel.is_enabled(ADDON) and kernel.is_enabled("crm_base")
    assert "partner_demo_note" in inspect(kernel.db.engine).get_table_names()
    with kernel.db.session_factory() as session:
        perms = session.scalars(select(Permission.name).where(Permission.addon == ADDON)).all()
        assert perms == ["partner_demo.note.read"]
        create_user(session, "reader", ["partner_demo.note.read"])
        create_user(session, "nobody")

    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    reader, nobody = sign_in(app, "reader"), sign_in(app, "nobody")
    page = reader.get("/partner_demo/notes")
    assert page.status_code == 200
    # The partner's own template (its text may be translated by another addon's catalog).
    assert "Partner notes" in page.get_data(as_text=True)
    assert "/partner_demo/notes" in reader.get("/").get_data(as_text=True)  # the menu item
    assert nobody.get("/partner_demo/notes").status_code == 403
    assert "/partner_demo/notes" not in nobody.get("/").get_data(as_text=True)

    assert kernel.manager.uninstall([ADDON]) == [ADDON]
    assert reader.get("/partner_demo/notes").status_code == 404
    assert "partner_demo_note" in inspect(kernel.db.engine).get_table_names()  # data kept


def test_safe_mode_leaves_it_dark(partner_copy: Path, make_kernel) -> None:
    kernel: Kernel = make_kernel([ADDON])
    assert kernel.is_enabled(ADDON)
    safe: Kernel = make_kernel(url=kernel.settings.database_url, safe_mode=True)
    assert ADDON not in safe.available
    assert not safe.is_enabled(ADDON) and safe.is_enabled("crm_base")
    app = create_app(safe.settings, kernel=safe)
    assert "partner_demo" not in app.blueprints
    with safe.db.session_factory() as session:
        create_user(session, "boss", superuser=True)
    boss = sign_in(app, "boss")
    assert boss.get("/partner_demo/notes").status_code == 404
    assert boss.get("/crm/counterparties").status_code == 200
    # Its revision stays recorded: taking crm_base down under it is refused, naming it.
    refused = pytest.raises(MigrationError, match="partner_demo_0001")
    with refused, write_intent(), safe.db.engine.connect() as conn, conn.begin():
        migrate.downgrade_branch(conn, safe.available, "crm_base")
    assert "partner_demo_note" in inspect(safe.db.engine).get_table_names()


def test_its_own_contract_test_passes(partner_copy: Path) -> None:
    """The partner's own tests, run as the partner runs them: pytest in the package folder,
    against the installed package (-P: the source folder is not put on sys.path)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=partner_copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " passed" in output and "skipped" not in output, output
