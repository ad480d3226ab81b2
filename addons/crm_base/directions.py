"""crm_base: directions (being built; see issue 5)."""

from __future__ import annotations

from typing import Any

from core.hooktypes import CardTab, TimelineEntry


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """This area's entries in a counterparty's chronology (CL-7)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """This area's tabs on a counterparty's card."""
    return []
