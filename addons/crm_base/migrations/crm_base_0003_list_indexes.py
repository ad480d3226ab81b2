"""crm_base: indexes for the counterparty list (keyset pagination and search).

(name, id) and (created_at, id) let a page sorted by name or by date, with the id breaking
ties, start right at its cursor; (name, id) also serves everything the old name index did,
so that one goes. On PostgreSQL a trigram index on lower(name) makes the list's
case-insensitive "contains" / "starts with" search an index lookup; it needs the pg_trgm
extension (trusted since PostgreSQL 13: the database owner may enable it). Where it cannot
be enabled the index is skipped with a warning: searches still work, scanning instead.

Revision ID: crm_base_0003
Revises: crm_base_0002
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_base_0003"
down_revision: str | None = "crm_base_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TABLE = "crm_base_counterparty"
TRIGRAM = "ix_crm_base_counterparty_name_trgm"
log = logging.getLogger("alembic.runtime.migration")


def _enable_pg_trgm(bind: sa.engine.Connection) -> bool:
    """Enable pg_trgm if the server has it and we may; never fail the migration for it."""
    available = bind.scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    if not available:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm not enabled (%s): counterparty search will scan", exc.orig)
        return False
    return True


def upgrade() -> None:
    op.create_index("ix_crm_base_counterparty_name_id", TABLE, ["name", "id"])
    op.create_index("ix_crm_base_counterparty_created_at_id", TABLE, ["created_at", "id"])
    op.drop_index(op.f("ix_crm_base_counterparty_name"), table_name=TABLE)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _enable_pg_trgm(bind):
        op.execute(f"CREATE INDEX {TRIGRAM} ON {TABLE} USING gin (lower(name) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM}")
    op.create_index(op.f("ix_crm_base_counterparty_name"), TABLE, ["name"])
    op.drop_index("ix_crm_base_counterparty_created_at_id", table_name=TABLE)
    op.drop_index("ix_crm_base_counterparty_name_id", table_name=TABLE)
