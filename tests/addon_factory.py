"""Writes small throw-away addons into a folder, for kernel tests.

Each gets a unique name (Python caches modules by name, and tests run in one process),
one table ``<name>_item`` and a migration; ``add_upgrade`` writes version 2 of it.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

INIT = """\
from flask import Blueprint

from core import hookimpl
from core.hooktypes import MenuItem, PermissionDef
from core.security import require

bp = Blueprint("{name}", __name__, url_prefix="/{name}")


@bp.route("/items", methods=["GET", "POST"])
@require("{name}.item.read")
def items():
    return "items of {name}"


@hookimpl
def blueprints():
    return [bp]


@hookimpl
def permissions():
    return [PermissionDef("{name}.item.read", "Read items"){extra_perms}]


@hookimpl
def menu_items():
    return [MenuItem("{name}.items", "Items of {name}", "{name}.items",
                     permission="{name}.item.read")]
"""

MIGRATION = """\
import sqlalchemy as sa
from alembic import op

revision = "{name}_0001"
down_revision = None
branch_labels = ("{name}",)
depends_on = {depends_on!r}


def upgrade():
    op.create_table(
        "{name}_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(100), nullable=False),
        {fk}
    )


def downgrade():
    op.drop_table("{name}_item")
"""

UPGRADE = """\
import sqlalchemy as sa
from alembic import op

revision = "{name}_0002"
down_revision = "{name}_0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("{name}_item") as batch:
        batch.add_column(sa.Column("note", sa.String(100), nullable=True))


def downgrade():
    with op.batch_alter_table("{name}_item") as batch:
        batch.drop_column("note")
"""


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def write_addon(
    root: Path,
    name: str,
    *,
    version: str = "0.1.0",
    depends: tuple[str, ...] = (),
    license: str = "free",
    auto_install: bool = False,
    extra_manifest: str = "",
    extra_perms: tuple[str, ...] = (),
) -> Path:
    """Write addon ``name`` into ``root``; its table references its first dependency's."""
    folder = root / name
    (folder / "migrations").mkdir(parents=True, exist_ok=True)
    deps = ", ".join(f'"{d}"' for d in depends)
    (folder / "addon.toml").write_text(
        textwrap.dedent(f"""\
        name = "{name}"
        label = "Test addon {name}"
        version = "{version}"
        license = "{license}"
        depends = [{deps}]
        auto_install = {"true" if auto_install else "false"}
        """)
        + extra_manifest,
        encoding="utf-8",
    )
    perms = "".join(f', PermissionDef("{name}.{p}", "{p}")' for p in extra_perms)
    (folder / "__init__.py").write_text(INIT.format(name=name, extra_perms=perms), encoding="utf-8")
    dep_names = [d.split(">")[0].split("=")[0] for d in depends]
    fk = (
        f'sa.Column("parent_id", sa.Integer(), sa.ForeignKey("{dep_names[0]}_item.id")),'
        if dep_names
        else ""
    )
    (folder / "migrations" / f"{name}_0001.py").write_text(
        MIGRATION.format(name=name, depends_on=tuple(dep_names) or ("core",), fk=fk),
        encoding="utf-8",
    )
    return folder


def add_upgrade(root: Path, name: str, version: str = "0.2.0") -> None:
    """Version 2 of an addon: a newer manifest version and a migration adding a column."""
    manifest = root / name / "addon.toml"
    text = manifest.read_text(encoding="utf-8")
    lines = [
        f'version = "{version}"' if ln.startswith("version") else ln for ln in text.splitlines()
    ]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / name / "migrations" / f"{name}_0002.py").write_text(
        UPGRADE.format(name=name), encoding="utf-8"
    )
