"""partner_demo tables: its own, prefixed ``partner_demo_``, pointing at crm_base's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class PartnerDemoNote(Base):
    """A short note on a counterparty (crm_base's table, referenced, never altered)."""

    __tablename__ = "partner_demo_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
