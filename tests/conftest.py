"""Project-wide test set-up: the fixtures come from ``core.testing.plugin`` (pytest11)."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_ADDONS = Path(__file__).resolve().parent / "addons"


@pytest.fixture(scope="session")
def vitrylo_addon_paths() -> tuple[Path, ...]:
    """Test-only addons under tests/addons are discoverable in every test app."""
    return (TEST_ADDONS,)
