"""Document numbers ``<prefix>-<year>-NNNN``, unique per year.

The next number is the year's largest plus one. Two saves at the same instant read the
same largest number; the unique constraint refuses the second insert, which then takes the
next number (:func:`insert_numbered`), so nobody sees an error for a race they cannot help.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.ui.listview import escape_like

NUMBER_ATTEMPTS = 5


def next_number(db: Session, model: Any, prefix: str, year: int) -> str:
    """``<prefix>-<year>-NNNN``: one more than the year's largest number of that shape."""
    stem = f"{prefix}-{year}-"
    pattern = re.compile(rf"^{re.escape(stem)}(\d{{1,9}})$")
    rows = db.scalars(
        select(model.number)
        .where(model.number.like(f"{escape_like(stem)}%", escape="\\"))
        .order_by(func.length(model.number).desc(), model.number.desc())
        .limit(50)
    )
    last = next((int(m.group(1)) for n in rows if (m := pattern.match(n))), 0)
    return f"{stem}{last + 1:04d}"


def number_taken(db: Session, model: Any, number: str, exclude_id: int | None = None) -> bool:
    """Whether another record (not ``exclude_id``) has ``number``."""
    stmt = select(model.id).where(model.number == number)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.scalar(stmt.limit(1)) is not None


class NumberingError(RuntimeError):
    """No free number after several attempts (many saves at the same instant)."""


def insert_numbered(db: Session, record: Any, candidate: Callable[[], str]) -> None:
    """Insert ``record`` numbered ``candidate()``, in a savepoint: when another transaction
    took that number meanwhile (the unique constraint), ask ``candidate`` again. Any other
    integrity error is raised as it is."""
    model = type(record)
    for _attempt in range(NUMBER_ATTEMPTS):
        record.number = candidate()
        try:
            with db.begin_nested():
                db.add(record)
        except IntegrityError:
            if not number_taken(db, model, record.number):
                raise
            continue
        return
    raise NumberingError(f"no free {model.__name__} number (last tried {record.number})")
