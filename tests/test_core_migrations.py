"""The core's own schema: migrations match the models and go down and up cleanly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.runtime.migration import MigrationContext

from core.db import Base, write_intent
from core.migrate import alembic_config


def core_tables_diff(kernel):
    core_only = Base.metadata.__class__(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        if table.name.startswith("core_"):
            table.to_metadata(core_only)
    with kernel.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, core_only)
    return [
        d
        for d in diff
        if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
    ]


def test_core_migrations_match_the_models(make_kernel):
    kernel = make_kernel()
    assert core_tables_diff(kernel) == []


def test_core_migrations_downgrade_and_upgrade_again(make_kernel):
    kernel = make_kernel()
    with write_intent(), kernel.db.engine.connect() as conn, conn.begin():
        cfg = alembic_config({}, conn)
        downgrade(cfg, "core@core_0001")
        upgrade(cfg, "core@head")
    assert core_tables_diff(kernel) == []
