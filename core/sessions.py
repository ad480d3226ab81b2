"""Server-side sessions: every sign-in is a row, so it can be ended from the server.

The browser's (signed) cookie only carries the session's random id. Deactivating a user,
changing their password or an admin's "end sessions" revokes the rows at once; idle and
absolute lifetimes are checked on every request.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import UserSession

TOUCH_EVERY = timedelta(minutes=1)  # write last_seen_at at most this often


def _aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


def start(session: Session, user_id: int, ip: str = "", user_agent: str = "") -> str:
    """Open a new session for ``user_id`` and return its id (a fresh one at every sign-in)."""
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(id=sid, user_id=user_id, ip=ip[:64], user_agent=user_agent[:300]))
    return sid


def validate(
    session: Session, sid: str, user_id: int, idle: timedelta, lifetime: timedelta
) -> bool:
    """Whether ``sid`` is a live session of ``user_id``; expired ones are revoked on the way."""
    row = session.get(UserSession, sid) if sid else None
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        return False
    now = utcnow()
    if now - _aware(row.last_seen_at) > idle or now - _aware(row.created_at) > lifetime:
        row.revoked_at = now
        session.commit()
        return False
    if now - _aware(row.last_seen_at) > TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return True


def revoke(session: Session, sid: str) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == sid, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: int) -> int:
    """End every open session of ``user_id``; returns how many were open."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0
