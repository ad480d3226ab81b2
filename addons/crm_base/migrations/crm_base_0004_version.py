"""crm_base: a version on each counterparty, for optimistic locking on its card.

The form view (core.ui.formview) carries the version the form was loaded at; every UPDATE
checks and bumps it, so two people saving the same card cannot silently overwrite each
other. Existing rows start at version 1.

Revision ID: crm_base_0004
Revises: crm_base_0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_base_0004"
down_revision: str | None = "crm_base_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_base_counterparty") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("crm_base_counterparty") as batch:
        batch.drop_column("version")
