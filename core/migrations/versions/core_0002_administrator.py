"""Administrator: teams, sessions, login failures, 2FA, implied groups, scopes, audit, settings.

Revision ID: core_0002
Revises: core_0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0002"
down_revision: str | None = "core_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "core_team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_team")),
        sa.UniqueConstraint("name", name=op.f("uq_core_team_name")),
    )
    with op.batch_alter_table("core_user") as batch:
        batch.add_column(sa.Column("phone", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("team_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.create_foreign_key(
            op.f("fk_core_user_team_id_core_team"),
            "core_team",
            ["team_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_core_user_team_id"), ["team_id"])
    with op.batch_alter_table("core_group") as batch:
        batch.add_column(
            sa.Column("description", sa.String(500), nullable=False, server_default="")
        )
    op.create_table(
        "core_recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(255), nullable=False),
        sa.Column("used_at", TZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_recovery_code_user_id_core_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_recovery_code")),
    )
    op.create_index(op.f("ix_core_recovery_code_user_id"), "core_recovery_code", ["user_id"])
    op.create_table(
        "core_session",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("user_agent", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_session_user_id_core_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_session")),
    )
    op.create_index(op.f("ix_core_session_user_id"), "core_session", ["user_id"])
    op.create_table(
        "core_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(80), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_login_failure")),
    )
    for col in ("login", "ip", "at"):
        op.create_index(op.f(f"ix_core_login_failure_{col}"), "core_login_failure", [col])
    op.create_table(
        "core_group_implied",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("implied_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_group_implied_group_id_core_group"),
        ),
        sa.ForeignKeyConstraint(
            ["implied_id"],
            ["core_group.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_group_implied_implied_id_core_group"),
        ),
        sa.PrimaryKeyConstraint("group_id", "implied_id", name=op.f("pk_core_group_implied")),
    )
    op.create_table(
        "core_group_scope",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            ondelete="CASCADE",
            name=op.f("fk_core_group_scope_group_id_core_group"),
        ),
        sa.PrimaryKeyConstraint("group_id", "subject", name=op.f("pk_core_group_scope")),
    )
    op.create_table(
        "core_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_audit")),
    )
    for col in ("at", "user_id", "action"):
        op.create_index(op.f(f"ix_core_audit_{col}"), "core_audit", [col])
    op.create_index("ix_core_audit_subject", "core_audit", ["subject", "subject_id"])
    op.create_table(
        "core_setting",
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_core_setting")),
    )


def downgrade() -> None:
    for table in (
        "core_setting",
        "core_audit",
        "core_group_scope",
        "core_group_implied",
        "core_login_failure",
        "core_session",
        "core_recovery_code",
    ):
        op.drop_table(table)
    with op.batch_alter_table("core_group") as batch:
        batch.drop_column("description")
    with op.batch_alter_table("core_user") as batch:
        batch.drop_index(op.f("ix_core_user_team_id"))
        batch.drop_constraint(op.f("fk_core_user_team_id_core_team"), type_="foreignkey")
        for col in ("version", "totp_secret", "team_id", "phone"):
            batch.drop_column(col)
    op.drop_table("core_team")
