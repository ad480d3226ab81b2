"""crm_base's printable documents: the counterparty card, the demo of the printing path.

The card proves the whole path on real data: a Cyrillic name, the manager, a table that
may run over pages, and an amount in words (a sample calculation, since crm_base has no
money of its own yet).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask_babel import to_user_timezone

from addons.crm_base.models import SUBJECT, Counterparty
from core.audit import history
from core.hooktypes import PrintableDocument
from core.models import User
from core.security import get_scoped_or_404
from core.web import db_session

CARD = "crm_base.card"
CARD_LABEL = "Картка контрагента"
#: (name, unit, quantity, price): 2 × 300.00 + 1 × 600.00 = 1 200,00 грн.
SAMPLE_LINES = (
    ("Консультація з впровадження CRM", "год", Decimal("2"), Decimal("300.00")),
    ("Налаштування довідника контрагентів", "посл.", Decimal("1"), Decimal("600.00")),
)
ACTIONS = {"create": "створено", "update": "змінено", "delete": "видалено"}


def local(when: datetime, pattern: str) -> str:
    """``when`` in the user's time zone (stored in UTC; SQLite returns it naive)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return to_user_timezone(aware).strftime(pattern)


def card_context(record_id: int) -> dict[str, Any]:
    """The card's variables; the record is loaded within the user's scope (404 outside)."""
    record = get_scoped_or_404(Counterparty, record_id, SUBJECT, Counterparty.manager_id)
    db = db_session()
    manager = db.get(User, record.manager_id) if record.manager_id is not None else None
    changes = [
        (local(entry.at, "%d.%m.%Y %H:%M"), ACTIONS.get(entry.action, entry.action))
        for entry in history(db, Counterparty.__tablename__, record.id)
    ]
    lines = [
        (n, name, unit, quantity, price, quantity * price)
        for n, (name, unit, quantity, price) in enumerate(SAMPLE_LINES, start=1)
    ]
    return {
        "record": record,
        "manager": (manager.name or manager.login) if manager else "",
        "created": local(record.created_at, "%d.%m.%Y") if record.created_at else "",
        "changes": changes,
        "lines": lines,
        "total": sum((line[5] for line in lines), Decimal("0")),
    }


def documents() -> list[PrintableDocument]:
    """For the ``printable_documents`` hook."""
    return [
        PrintableDocument(
            CARD,
            CARD_LABEL,
            SUBJECT,
            "crm_base/print/card.html",
            card_context,
            permission="crm_base.counterparty.read",
        )
    ]
