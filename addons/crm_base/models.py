"""crm_base tables (a skeleton: the counterparty, enough to prove the kernel)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

SUBJECT = "crm_base.counterparty"


class Counterparty(Base):
    """A client or prospect: a company or a private person (CL-1); scoped by its manager."""

    __tablename__ = "crm_base_counterparty"
    __table_args__ = (
        # Keyset pagination of the list sorted by name or by date, the id breaking ties.
        Index("ix_crm_base_counterparty_name_id", "name", "id"),
        Index("ix_crm_base_counterparty_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optimistic locking (core.ui.formview): every UPDATE checks and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}


# PostgreSQL only: a trigram index answers the list's case-insensitive "contains" and
# "starts with" searches without reading every row (crm_base_0003 creates it when the
# pg_trgm extension can be enabled; SQLite searches scan the name index instead).
Index(
    "ix_crm_base_counterparty_name_trgm",
    func.lower(Counterparty.name).label("name_lower"),
    postgresql_using="gin",
    postgresql_ops={"name_lower": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")
