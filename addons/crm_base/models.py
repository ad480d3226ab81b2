"""crm_base tables (a skeleton: the counterparty, enough to prove the kernel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow


SUBJECT = "crm_base.counterparty"


class Counterparty(Base):
    """A client or prospect: a company or a private person (CL-1); scoped by its manager."""

    __tablename__ = "crm_base_counterparty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
