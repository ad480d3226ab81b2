"""notifications tables: chat and private messages, raised events and per-user
notifications, the transactional outbox for e-mail and SMS, and channel preferences
(NT-1…NT-5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

GENERAL_ROOM = "general"
CHANNELS = ("popup", "email", "sms")
OUTBOX_STATES = ("pending", "sending", "sent", "failed")


def direct_room(user_a: int, user_b: int) -> str:
    """The room of a one-to-one conversation: the same key whoever writes first."""
    low, high = sorted((user_a, user_b))
    return f"dm:{low}:{high}"


class Message(Base):
    """A chat message (room ``general``, NT-1) or a private one (``dm:<a>:<b>``, NT-2)."""

    __tablename__ = "notifications_message"
    __table_args__ = (Index("ix_notifications_message_room_id", "room", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room: Mapped[str] = mapped_column(String(40))
    sender_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReadMark(Base):
    """The last message of a room a user has seen: unread = messages after it."""

    __tablename__ = "notifications_read_mark"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True
    )
    room: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    last_read_id: Mapped[int] = mapped_column(Integer, default=0)


class Event(Base):
    """Something happened that users may be told about (NT-3). ``key`` makes raising the
    same event twice (a birthday scanned twice) a no-op."""

    __tablename__ = "notifications_event"
    __table_args__ = (UniqueConstraint("type", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """An event as delivered to one user: the pop-up and the history (NT-4)."""

    __tablename__ = "notifications_notification"
    __table_args__ = (
        Index("ix_notifications_notification_user_read", "user_id", "read_at", "id"),
        UniqueConstraint("user_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notifications_event.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class OutboxMessage(Base):
    """An e-mail or SMS to send, written in the same transaction as the change that caused
    it; the worker claims, sends, retries with back-off. ``idempotency_key`` is unique, so
    a retry or a second worker never sends the same message twice."""

    __tablename__ = "notifications_outbox"
    __table_args__ = (Index("ix_notifications_outbox_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(100), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Preference(Base):
    """The channels a user wants for an event type (NT-5); without a row, the default."""

    __tablename__ = "notifications_preference"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True
    )
    event_type: Mapped[str] = mapped_column(String(80), primary_key=True)
    channels: Mapped[str] = mapped_column(String(40), default="")  # "popup,email"


class DefaultPreference(Base):
    """The admin's default channels for an event type (else the type's own default)."""

    __tablename__ = "notifications_default"

    event_type: Mapped[str] = mapped_column(String(80), primary_key=True)
    channels: Mapped[str] = mapped_column(String(40), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
