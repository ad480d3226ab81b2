"""notifications: messages, events, outbox, preferences

Revision ID: notifications_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("notifications",)
depends_on: Sequence[str] | None = ("crm_base",)


def upgrade() -> None:
    op.create_table(
        "notifications_default",
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("event_type", name=op.f("pk_notifications_default")),
    )
    op.create_table(
        "notifications_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_event")),
        sa.UniqueConstraint("type", "key", name=op.f("uq_notifications_event_type")),
    )
    op.create_table(
        "notifications_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_outbox")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_notifications_outbox_idempotency_key")
        ),
    )
    with op.batch_alter_table("notifications_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_outbox_due", ["state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "notifications_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=40), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["sender_id"],
            ["core_user.id"],
            name=op.f("fk_notifications_message_sender_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_message")),
    )
    with op.batch_alter_table("notifications_message", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_message_room_id", ["room", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_notifications_message_sender_id"), ["sender_id"], unique=False
        )

    op.create_table(
        "notifications_notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notifications_event.id"],
            name=op.f("fk_notifications_notification_event_id_notifications_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_notifications_notification_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications_notification")),
        sa.UniqueConstraint(
            "user_id", "event_id", name=op.f("uq_notifications_notification_user_id")
        ),
    )
    with op.batch_alter_table("notifications_notification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_notification_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            "ix_notifications_notification_user_read", ["user_id", "read_at", "id"], unique=False
        )

    op.create_table(
        "notifications_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("channels", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_notifications_preference_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "event_type", name=op.f("pk_notifications_preference")),
    )
    op.create_table(
        "notifications_read_mark",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=40), nullable=False),
        sa.Column("last_read_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_notifications_read_mark_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "room", name=op.f("pk_notifications_read_mark")),
    )
    with op.batch_alter_table("notifications_read_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_read_mark_room"), ["room"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notifications_read_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_read_mark_room"))

    op.drop_table("notifications_read_mark")
    op.drop_table("notifications_preference")
    with op.batch_alter_table("notifications_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_notification_user_read")
        batch_op.drop_index(batch_op.f("ix_notifications_notification_event_id"))

    op.drop_table("notifications_notification")
    with op.batch_alter_table("notifications_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_message_sender_id"))
        batch_op.drop_index("ix_notifications_message_room_id")

    op.drop_table("notifications_message")
    with op.batch_alter_table("notifications_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_outbox_due")

    op.drop_table("notifications_outbox")
    op.drop_table("notifications_event")
    op.drop_table("notifications_default")
