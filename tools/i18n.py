"""Extract, update and compile the translation catalogs of the core and of every addon.

    python tools/i18n.py            # extract + update + compile
    python tools/i18n.py --check    # fail if a Ukrainian string is missing (CI/tests)

Each package keeps its own catalog in ``<package>/translations`` (Flask-Babel merges them
at run time), so an addon's strings travel with the addon.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("uk",)
KEYWORDS = [
    *("-k", "_l", "-k", "lazy_gettext", "-k", "ngettext:1,2", "-k", "lazy_ngettext:1,2"),
    *("-k", "pgettext:1c,2", "-k", "lazy_pgettext:1c,2"),
]


def packages() -> list[Path]:
    """The core and every bundled addon."""
    addons = sorted(p for p in (ROOT / "addons").iterdir() if (p / "addon.toml").is_file())
    return [ROOT / "core", *addons]


def pybabel(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(done.stderr)


def extract(package: Path, pot: Path) -> None:
    """The msgids of ``package``'s code and templates into ``pot``."""
    pybabel(
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        *KEYWORDS,
        "--no-location",
        "--sort-output",
        "-o",
        str(pot),
        str(package.relative_to(ROOT)),
    )


def refresh(package: Path) -> None:
    folder = package / "translations"
    pot = folder / "messages.pot"
    folder.mkdir(exist_ok=True)
    extract(package, pot)
    for locale in LOCALES:
        po = folder / locale / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        pybabel(action, "-i", str(pot), "-d", str(folder), "-l", locale, "--no-wrap")
    pybabel("compile", "-d", str(folder))  # a fuzzy guess is never shown to users


def missing(package: Path) -> list[str]:
    """Strings of the code (extracted afresh: the catalog may be stale) that have no
    Ukrainian translation, or only a fuzzy guess."""
    from babel.messages.pofile import read_po

    with tempfile.TemporaryDirectory() as tmp:
        pot = Path(tmp) / "messages.pot"
        extract(package, pot)
        with pot.open("rb") as fh:
            in_code = {(m.context, m.id) for m in read_po(fh) if m.id}
    gaps = []
    for locale in LOCALES:
        po = package / "translations" / locale / "LC_MESSAGES" / "messages.po"
        translated: set[tuple[str | None, object]] = set()
        if po.exists():
            with po.open("rb") as fh:
                translated = {
                    (m.context, m.id)
                    for m in read_po(fh)
                    if m.id
                    and m.string
                    and not m.fuzzy
                    and not (isinstance(m.string, tuple) and not all(m.string))
                }
        gaps += [
            f"{po.relative_to(ROOT)}: {key[1]!r}" for key in sorted(in_code - translated, key=str)
        ]
    return gaps


def main() -> int:
    if "--check" in sys.argv:
        gaps = [gap for package in packages() for gap in missing(package)]
        print("\n".join(gaps) or "every string is translated")
        return 1 if gaps else 0
    for package in packages():
        refresh(package)
    return 0


if __name__ == "__main__":
    sys.exit(main())
