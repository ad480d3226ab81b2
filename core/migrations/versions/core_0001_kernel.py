"""The kernel's tables: addon state, counters, licences, permissions, users and groups.

Revision ID: core_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("core",)
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "core_addon",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("version", sa.String(20), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("installed_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_core_addon")),
    )
    op.create_table(
        "core_state",
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_core_state")),
    )
    op.create_table(
        "core_license",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("license_id", sa.String(64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("installed_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_license")),
    )
    op.create_index(op.f("ix_core_license_license_id"), "core_license", ["license_id"])
    op.create_table(
        "core_permission",
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("addon", sa.String(40), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_core_permission")),
    )
    op.create_index(op.f("ix_core_permission_addon"), "core_permission", ["addon"])
    op.create_table(
        "core_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_user")),
        sa.UniqueConstraint("login", name=op.f("uq_core_user_login")),
    )
    op.create_table(
        "core_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_group")),
        sa.UniqueConstraint("name", name=op.f("uq_core_group_name")),
    )
    op.create_table(
        "core_group_permission",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_group_permission_group_id_core_group"),
        ),
        sa.ForeignKeyConstraint(
            ["permission"],
            ["core_permission.name"],
            ondelete="CASCADE",
            onupdate="CASCADE",
            name=op.f("fk_core_group_permission_permission_core_permission"),
        ),
        sa.PrimaryKeyConstraint("group_id", "permission", name=op.f("pk_core_group_permission")),
    )
    op.create_table(
        "core_user_group",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_user_group_user_id_core_user"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_user_group_group_id_core_group"),
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_core_user_group")),
    )
    op.create_index(op.f("ix_core_user_group_group_id"), "core_user_group", ["group_id"])


def downgrade() -> None:
    for table in (
        "core_user_group",
        "core_group_permission",
        "core_group",
        "core_user",
        "core_permission",
        "core_license",
        "core_state",
        "core_addon",
    ):
        op.drop_table(table)
