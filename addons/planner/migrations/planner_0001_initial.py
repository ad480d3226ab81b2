"""planner: the secret iCalendar feed of each user.

Revision ID: planner_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "planner_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("planner",)
depends_on: Sequence[str] | None = ("crm_base",)


def upgrade() -> None:
    op.create_table(
        "planner_ical_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_planner_ical_feed_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planner_ical_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_planner_ical_feed_token_hash")),
        sa.UniqueConstraint("user_id", name=op.f("uq_planner_ical_feed_user_id")),
    )


def downgrade() -> None:
    op.drop_table("planner_ical_feed")
