"""crm_base: the responsible manager of a counterparty (record scope own/team/all).

Revision ID: crm_base_0002
Revises: crm_base_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_base_0002"
down_revision: str | None = "crm_base_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_base_counterparty") as batch:
        batch.add_column(sa.Column("manager_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_crm_base_counterparty_manager_id_core_user"),
            "core_user",
            ["manager_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_crm_base_counterparty_manager_id"), ["manager_id"])


def downgrade() -> None:
    with op.batch_alter_table("crm_base_counterparty") as batch:
        batch.drop_index(op.f("ix_crm_base_counterparty_manager_id"))
        batch.drop_constraint(
            op.f("fk_crm_base_counterparty_manager_id_core_user"), type_="foreignkey"
        )
        batch.drop_column("manager_id")
