"""planner tables: only the secret of each user's iCalendar feed. Reminders and events
are not stored here: the addons that own them contribute them through hooks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class IcalFeed(Base):
    """A user's secret calendar feed URL (``/planner/ical/<token>.ics``). Only the
    SHA-256 of the token is kept, so a copy of the database does not open anyone's feed."""

    __tablename__ = "planner_ical_feed"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
