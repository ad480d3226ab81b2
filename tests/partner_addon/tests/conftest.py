"""Fixtures come from Vitrylo's pytest plugin; this addon is the one the test app installs.

Run the tests against the installed package: ``pip install .`` then ``python -m pytest``
in this package's folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Vitrylo's repository ships this package as an example and runs these tests itself
    (tests/test_partner_addon.py): a test run started elsewhere leaves them out."""
    if config.rootpath.resolve() != PACKAGE_ROOT:
        return True
    return None


@pytest.fixture(scope="session")
def vitrylo_addons() -> tuple[str, ...]:
    """The shared test app installs this addon (and crm_base, its dependency)."""
    return ("partner_demo",)
