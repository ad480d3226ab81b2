"""Meta-tests: every hook is specified with a docstring, documented and tested.

In the style of datasette's ``tests/test_plugins.py``: adding a hook spec without a section
in ``docs/hooks.md`` or without a ``test_hook_<name>`` in ``tests/test_hooks.py`` fails here.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

from core import hookspecs

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "hooks.md"
HEADING = re.compile(r"^## (\w+)\(([^)]*)\)\s*$", re.MULTILINE)


def _specs() -> dict[str, list[str]]:
    """Hook name → argument names, read from the spec module like pluggy does."""
    specs = {}
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(func, f"{hookspecs.PROJECT}_spec"):
            specs[name] = list(inspect.signature(func).parameters)
    return specs


def _documented() -> dict[str, list[str]]:
    """Hook name → argument names, from the ``## name(arg, ...)`` headings of the docs."""
    documented: dict[str, list[str]] = {}
    for match in HEADING.finditer(DOCS.read_text(encoding="utf-8")):
        name, args = match.group(1), match.group(2)
        assert name not in documented, f"docs/hooks.md documents {name} twice"
        documented[name] = [a.strip() for a in args.split(",") if a.strip()]
    return documented


@functools.cache
def _hook_tests() -> ModuleType:
    """``tests/test_hooks.py``, loaded from its path (whatever pytest's import mode)."""
    spec = importlib.util.spec_from_file_location("_vitrylo_hook_tests", HERE / "test_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SPECS = _specs()


def test_hookspecs_are_found():
    assert len(SPECS) >= 15
    assert "menu_items" in SPECS
    assert SPECS["reminders"] == ["user", "day"]


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hook_is_documented_with_its_signature(hook):
    documented = _documented()
    assert hook in documented, f"docs/hooks.md has no '## {hook}(...)' section"
    assert documented[hook] == SPECS[hook], (
        f"docs/hooks.md documents {hook}({', '.join(documented[hook])}), "
        f"the spec is {hook}({', '.join(SPECS[hook])})"
    )


def test_no_documented_hook_that_does_not_exist():
    unknown = sorted(set(_documented()) - set(SPECS))
    assert not unknown, f"docs/hooks.md documents hooks that are not specs: {unknown}"


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hookspec_has_a_docstring_with_an_example(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert doc.strip(), f"hook spec {hook} has no docstring"
    assert "Example:" in doc, f"the docstring of hook spec {hook} has no example"


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hook_has_a_test(hook):
    tests = {name for name, _ in inspect.getmembers(_hook_tests(), inspect.isfunction)}
    assert f"test_hook_{hook}" in tests, f"tests/test_hooks.py has no test_hook_{hook}"
