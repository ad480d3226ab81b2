"""``vitrylo addon new NAME``: start a partner addon as its own pip package.

The files come from ``core/scaffold_template/``: every ``*.tmpl`` file is filled in with
:class:`string.Template` (``${name}``, ``${label}``, ...), so the braces of Jinja templates
and Python code stay as they are; ``NAME`` in a path becomes the addon's name.
"""

from __future__ import annotations

import importlib.util
import keyword
import string
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

from core.loader import BUNDLED_PATH, DiscoveryError, discover
from core.manifest import NAME_RE, RESERVED_NAMES, ManifestError

TEMPLATE_DIR = Path(__file__).resolve().parent / "scaffold_template"
TEMPLATE_SUFFIX = ".tmpl"
PATH_PLACEHOLDER = "NAME"
RENAMED = {"gitignore": ".gitignore"}
MAX_LABEL = 60
# Would clash with the package's own layout (tests/, docs/) or with build output.
LAYOUT_NAMES = frozenset({"test", "tests", "docs", "build", "dist", "migrations", "templates"})


class ScaffoldError(Exception):
    """The addon cannot be created; the message says why."""


def _existing_addons() -> set[str]:
    """Names of the addons this installation knows: bundled ones and pip-installed ones."""
    try:
        return set(discover())
    except (DiscoveryError, ManifestError):  # a broken third-party addon: bundled ones only
        return set(discover(safe_mode=True))


def check_name(name: str) -> None:
    """Refuse a name that is not a valid addon name, or that is already taken."""
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"'{name}' is not a valid addon name: use 2-40 lower-case letters, digits or '_', "
            "starting with a letter (e.g. acme_notes)"
        )
    if name in RESERVED_NAMES or name in LAYOUT_NAMES or keyword.iskeyword(name):
        raise ScaffoldError(f"'{name}' is a reserved word: choose another addon name")
    if name in _existing_addons() or (BUNDLED_PATH / name).exists():
        raise ScaffoldError(f"an addon named '{name}' already exists: choose another name")
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise ScaffoldError(
            f"a Python module named '{name}' already exists; the addon's package would clash "
            "with it (a prefix helps: acme_notes)"
        )


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _model(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Item"


def _vitrylo_version() -> str:
    try:
        major, minor = version("vitrylo").split(".")[:2]
    except (PackageNotFoundError, ValueError):
        return "0.1"
    return f"{major}.{minor}"


def template_values(name: str, label: str | None = None) -> dict[str, str]:
    """What ``${...}`` stands for in the template files."""
    return {
        "name": name,
        "label": label or _label(name),
        "model": _model(name),
        "dist": f"vitrylo-{name}",
        "vitrylo_version": _vitrylo_version(),
    }


def create_addon(name: str, parent: Path, label: str | None = None) -> Path:
    """Write the package ``<parent>/vitrylo-<name>/`` and return its folder."""
    check_name(name)
    if label is not None and (
        not label.strip() or len(label) > MAX_LABEL or any(c in label for c in '"\\\n\r')
    ):
        raise ScaffoldError(
            f"the label must have 1 to {MAX_LABEL} characters, without quotes, backslashes "
            "or line breaks"
        )
    target = Path(parent) / f"vitrylo-{name}"
    if target.exists():
        raise ScaffoldError(f"{target} already exists: choose another --path or name")
    values = template_values(name, label)
    files: dict[Path, str] = {}
    for source in sorted(TEMPLATE_DIR.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = source.relative_to(TEMPLATE_DIR).as_posix()[: -len(TEMPLATE_SUFFIX)]
        parts = [RENAMED.get(p, p).replace(PATH_PLACEHOLDER, name) for p in relative.split("/")]
        text = source.read_text(encoding="utf-8")
        try:
            files[target.joinpath(*parts)] = string.Template(text).substitute(values)
        except (KeyError, ValueError) as exc:  # a broken template file: the core's own bug
            raise ScaffoldError(f"template {source}: {exc!r}") from exc
    if not files:
        raise ScaffoldError(f"no template files in {TEMPLATE_DIR}")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


@click.group("addon")
def addon() -> None:
    """For addon authors: start a new addon package."""


@addon.command("new")
@click.argument("name")
@click.option(
    "--path",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder in which to create vitrylo-NAME/.",
)
@click.option("--label", default=None, help="Human name shown in menus (default: from NAME).")
def new(name: str, parent: Path, label: str | None) -> None:
    """Create vitrylo-NAME/: a pip package with an addon named NAME, ready to test."""
    try:
        target = create_addon(name, parent, label)
    except (ScaffoldError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {target}")
    click.echo("Next:")
    click.echo(f"  cd {target}")
    click.echo("  pip install -e .            # Vitrylo now finds the addon (entry point)")
    click.echo("  python -m pytest            # its contract and view tests")
    click.echo(f"  vitrylo addons install {name}")
