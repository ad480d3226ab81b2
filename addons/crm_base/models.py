"""crm_base tables (a skeleton: the counterparty, enough to prove the kernel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


class Counterparty(Base):
    """A client or prospect: a company or a private person (CL-1)."""

    __tablename__ = "crm_base_counterparty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
