"""partner_demo: the note table.

Revision ID: partner_demo_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "partner_demo_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("partner_demo",)
depends_on: Sequence[str] | None = ("crm_base",)


def upgrade() -> None:
    op.create_table(
        "partner_demo_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_partner_demo_note_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_demo_note")),
    )
    op.create_index(
        op.f("ix_partner_demo_note_counterparty_id"), "partner_demo_note", ["counterparty_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_partner_demo_note_counterparty_id"), table_name="partner_demo_note")
    op.drop_table("partner_demo_note")
