"""``vitrylo addon new``: a new addon package that installs and passes its own tests as made;
bad or taken names are refused."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import uuid
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.scaffold import TEMPLATE_DIR


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=cwd,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def pip(*args: str) -> None:
    result = run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args])
    assert result.returncode == 0, result.stdout + result.stderr


def can_build_offline() -> bool:
    """setuptools 70.1+ builds wheels by itself; older ones need the ``wheel`` package."""
    try:
        major, minor = (int(p) for p in version("setuptools").split(".")[:2])
    except Exception:
        return False
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def new_addon(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["addon", "new", *args])
    return result.exit_code, result.output


@pytest.mark.slow
def test_new_addon_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    name = f"scaffold_{uuid.uuid4().hex[:8]}"
    code, output = new_addon(name, "--path", str(tmp_path))
    assert code == 0, output
    package = tmp_path / f"vitrylo-{name}"
    assert f"Created {package}" in output
    for relative in (
        "pyproject.toml",
        f"{name}/addon.toml",
        f"{name}/__init__.py",
        f"{name}/models.py",
        f"{name}/views.py",
        f"{name}/migrations/{name}_0001_initial.py",
        f"{name}/templates/{name}/items.html",
        "tests/conftest.py",
        "tests/test_contract.py",
        "tests/test_views.py",
    ):
        assert (package / relative).is_file(), relative
    assert '{% extends "core/layout.html" %}' in (
        package / name / "templates" / name / "items.html"
    ).read_text(encoding="utf-8")
    assert f'{name} = "{name}"' in (package / "pyproject.toml").read_text(encoding="utf-8")

    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff:  # what it makes is lint-clean under its own configuration
        lint = run([ruff, "check", "--no-cache", "."], cwd=package)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        fmt = run([ruff, "format", "--check", "--no-cache", "."], cwd=package)
        assert fmt.returncode == 0, fmt.stdout + fmt.stderr

    isolation = ["--no-build-isolation"] if can_build_offline() else []
    pip("install", "--quiet", "--no-deps", *isolation, str(package))
    try:
        # -P: the tests import the installed package, not the folder they run in.
        tests = run([sys.executable, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"], package)
        output = tests.stdout + tests.stderr
        assert tests.returncode == 0, output
        assert " passed" in output and "skipped" not in output, output
    finally:
        pip("uninstall", "--yes", f"vitrylo-{name}")
        importlib.invalidate_caches()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Notes", "not a valid addon name"),
        ("1notes", "not a valid addon name"),
        ("n", "not a valid addon name"),
        ("acme-notes", "not a valid addon name"),
        ("a" * 41, "not a valid addon name"),
        ("core", "reserved"),
        ("tests", "reserved"),
        ("class", "reserved"),
        ("crm_base", "already exists"),
        ("json", "Python module named 'json'"),
        ("flask", "Python module named 'flask'"),
    ],
)
def test_bad_or_taken_names_are_refused(tmp_path: Path, name: str, why: str) -> None:
    code, output = new_addon(name, "--path", str(tmp_path))
    assert code != 0
    assert why in output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "vitrylo-acme_notes").mkdir()
    (tmp_path / "vitrylo-acme_notes" / "mine.txt").write_text("keep", encoding="utf-8")
    code, output = new_addon("acme_notes", "--path", str(tmp_path))
    assert code != 0 and "already exists" in output
    assert [p.name for p in (tmp_path / "vitrylo-acme_notes").iterdir()] == ["mine.txt"]


def test_a_bad_label_is_refused(tmp_path: Path) -> None:
    code, output = new_addon("acme_notes", "--path", str(tmp_path), "--label", 'say "hi"')
    assert code != 0 and "label" in output
    assert list(tmp_path.iterdir()) == []


def test_templates_are_only_tmpl_files() -> None:
    """Every template file is filled in; nothing else sits among them (a stray .py would be
    linted and imported as if it were Vitrylo's own code)."""
    files = [p for p in TEMPLATE_DIR.rglob("*") if p.is_file()]
    assert files and all(p.suffix == ".tmpl" for p in files), files
