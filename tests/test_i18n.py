"""Ukrainian is complete: every string in the code has a Ukrainian translation (issue 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import i18n  # noqa: E402 - the project's own catalog tool


@pytest.mark.slow
@pytest.mark.parametrize("package", i18n.packages(), ids=lambda p: p.name)
def test_every_string_in_the_code_is_translated_to_ukrainian(package, tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            *i18n.KEYWORDS,
            "-o",
            str(pot),
            str(package.relative_to(ROOT)),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        in_code = {m.id for m in read_po(fh) if m.id}
    po = package / "translations" / "uk" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        translated = {m.id for m in read_po(fh) if m.id and m.string and not m.fuzzy}
    missing = sorted(str(i) for i in in_code - translated)
    assert missing == [], "run tools/i18n.py and translate: " + "; ".join(missing[:20])
