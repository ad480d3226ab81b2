"""Demo data of sales: a quarter of contacts, deals, campaigns, proposals and contracts."""

from __future__ import annotations

from sqlalchemy.orm import Session


def load(session: Session) -> None:
    """Filled in by the demo work (issue 7)."""
