"""Attachments on any record, and long jobs with progress.

Revision ID: core_0003
Revises: core_0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0003"
down_revision: str | None = "core_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "core_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(120), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["core_user.id"],
            ondelete="SET NULL",
            name=op.f("fk_core_attachment_uploaded_by_core_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_attachment")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_core_attachment_storage_key")),
    )
    op.create_index("ix_core_attachment_subject", "core_attachment", ["subject", "subject_id"])
    op.create_table(
        "core_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            ondelete="SET NULL",
            name=op.f("fk_core_job_user_id_core_user"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_job")),
    )
    op.create_index(op.f("ix_core_job_user_id"), "core_job", ["user_id"])


def downgrade() -> None:
    op.drop_table("core_job")
    op.drop_table("core_attachment")
