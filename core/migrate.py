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


def upgrade_branch(connection: Connection, addons: Mapping[str, AddonInfo], label: str) -> None:
    """Bring the branch ``label`` (and the branches it depends on) to its head."""
    cfg = alembic_config(addons, connection)
    if has_branch(cfg, label):
        command.upgrade(cfg, f"{label}@head")


def downgrade_branch(connection: Connection, addons: Mapping[str, AddonInfo], label: str) -> None:
    """Take the branch ``label`` down to nothing: its migrations drop its tables."""
    cfg = alembic_config(addons, connection)
    if has_branch(cfg, label) and label in applied_branches(connection, addons):
        command.downgrade(cfg, f"{label}@base")


def applied_branches(connection: Connection, addons: Mapping[str, AddonInfo]) -> set[str]:
    """Branch labels with at least one applied revision in this database."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if not heads:
        return set()
    script = ScriptDirectory.from_config(alembic_config(addons))
    labels: set[str] = set()
    for rev in script.iterate_revisions(heads, "base"):
        labels.update(rev.branch_labels)
    return labels
