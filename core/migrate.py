"""Running migrations: one Alembic environment, one version table, a branch per addon.

Each addon's ``migrations/`` folder is a version location; its first revision carries the
branch label (the addon's name) and ``depends_on`` the branches of the addons it depends on.
Only the branches of installed addons are ever upgraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from sqlalchemy.engine import Connection

from core.loader import AddonInfo

CORE_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CORE_BRANCH = "core"


def alembic_config(addons: Mapping[str, AddonInfo], connection: Connection | None = None) -> Config:
    """An Alembic config that sees the core's and every available addon's revisions."""
    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_MIGRATIONS))
    locations = [str(CORE_MIGRATIONS / "versions")]
    locations += [str(info.migrations_path) for info in addons.values() if info.migrations_path]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


def has_branch(cfg: Config, label: str) -> bool:
    """Whether any revision carries the branch label ``label``."""
    script = ScriptDirectory.from_config(cfg)
    return any(label in rev.branch_labels for rev in script.walk_revisions())


class MigrationError(Exception):
    """The database holds revisions of addons whose code this process does not have."""


def _applied(connection: Connection, script: ScriptDirectory) -> tuple[set[str], list[str]]:
    """Revisions applied in this database (the version table's heads and all below them),
    and the heads no script here describes: those of an addon whose package is gone (or
    left out in safe mode), whose data and version row are kept and left alone."""
    known, unknown = [], []
    for head in MigrationContext.configure(connection).get_current_heads():
        try:
            script.revision_map.get_revision(head)
        except ResolutionError:
            unknown.append(head)
        else:
            known.append(head)
    applied = (
        {r.revision for r in script.iterate_revisions(tuple(known), "base")} if known else set()
    )
    return applied, unknown


def _missing_code(label: str, unknown: list[str]) -> MigrationError:
    return MigrationError(
        f"cannot migrate '{label}': the database has revisions {', '.join(unknown)} of "
        "addons whose code is not available here; reinstall their packages (or leave safe "
        "mode) first"
    )


def upgrade_branch(connection: Connection, addons: Mapping[str, AddonInfo], label: str) -> None:
    """Bring the branch ``label`` (and the branches it depends on) to its head."""
    cfg = alembic_config(addons, connection)
    if not has_branch(cfg, label):
        return
    script = ScriptDirectory.from_config(cfg)
    applied, unknown = _applied(connection, script)
    if all(rev.revision in applied for rev in script.get_revisions(f"{label}@heads")):
        return  # at its head already: nothing to ask Alembic (which fails on unknown heads)
    if unknown:
        raise _missing_code(label, unknown)
    command.upgrade(cfg, f"{label}@head")


def downgrade_branch(connection: Connection, addons: Mapping[str, AddonInfo], label: str) -> None:
    """Take the branch ``label`` down to nothing: its migrations drop its tables."""
    cfg = alembic_config(addons, connection)
    if has_branch(cfg, label) and label in applied_branches(connection, addons):
        _, unknown = _applied(connection, ScriptDirectory.from_config(cfg))
        if unknown:
            raise _missing_code(label, unknown)
        command.downgrade(cfg, f"{label}@base")


def applied_branches(connection: Connection, addons: Mapping[str, AddonInfo]) -> set[str]:
    """Branch labels with at least one applied revision in this database."""
    script = ScriptDirectory.from_config(alembic_config(addons))
    applied, _ = _applied(connection, script)
    labels: set[str] = set()
    for rev in applied:
        labels.update(script.get_revision(rev).branch_labels)
    return labels
