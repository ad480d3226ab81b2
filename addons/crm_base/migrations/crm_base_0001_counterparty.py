"""crm_base: the counterparty table.

Revision ID: crm_base_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_base_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("crm_base",)
depends_on: Sequence[str] | None = ("core",)


def upgrade() -> None:
    op.create_table(
        "crm_base_counterparty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_counterparty")),
    )
    op.create_index(op.f("ix_crm_base_counterparty_name"), "crm_base_counterparty", ["name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_crm_base_counterparty_name"), table_name="crm_base_counterparty")
    op.drop_table("crm_base_counterparty")
