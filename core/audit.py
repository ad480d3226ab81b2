"""The audit log: sign-ins, refused requests, and every create / update / delete of a record.

Record changes are captured for every session by one SQLAlchemy ``after_flush`` listener and
written in the same transaction, so the log can never disagree with the data. A bulk path
may set ``session.info["audit"] = False`` and write one summary entry instead.
"""

from __future__ import annotations

import contextvars
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import AuditEntry

NOT_AUDITED = frozenset(
    {
        "core_audit",
        "core_session",
        "core_login_failure",
        "core_state",
        "core_recovery_code",
        "core_job",
    }
)
REDACTED = frozenset({"password_hash", "totp_secret", "code_hash", "content"})
_actor: contextvars.ContextVar[int | None] = contextvars.ContextVar("audit_actor", default=None)


def set_actor(user_id: int | None) -> contextvars.Token[int | None]:
    """Who acts outside a web request (a CLI command run for a given user)."""
    return _actor.set(user_id)


def _who() -> tuple[int | None, str]:
    if has_request_context():
        uid = current_user.id if current_user and current_user.is_authenticated else None
        return uid, (request.remote_addr or "")[:64]
    return _actor.get(), ""


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _row(table: str, action: str, key: str, changes: dict[str, Any]) -> dict[str, Any]:
    uid, ip = _who()
    return {
        "at": utcnow(),
        "user_id": uid,
        "action": action,
        "subject": table,
        "subject_id": key[:64],
        "ip": ip,
        "changes": json.dumps(changes, ensure_ascii=False, sort_keys=True),
    }


def _key(obj: Any) -> str:
    values = inspect(obj).mapper.primary_key_from_instance(obj)
    return "/".join("" if v is None else str(v) for v in values)


def _columns(obj: Any) -> list[Any]:
    return list(inspect(obj).mapper.column_attrs)


@event.listens_for(Session, "after_flush")
def _capture(session: Session, _ctx: Any) -> None:
    if session.info.get("audit") is False:
        return
    rows = []
    for obj in session.new:
        table = obj.__table__.name
        if table not in NOT_AUDITED:
            values = {
                c.key: ["", "***" if c.key in REDACTED else _plain(getattr(obj, c.key))]
                for c in _columns(obj)
            }
            rows.append(_row(table, "create", _key(obj), values))
    for obj in session.dirty:
        table = obj.__table__.name
        if table in NOT_AUDITED or not session.is_modified(obj, include_collections=False):
            continue
        state = inspect(obj)
        changes = {}
        for col in _columns(obj):
            hist = state.attrs[col.key].history
            if hist.has_changes() and col.key != "version":
                old = hist.deleted[0] if hist.deleted else None
                new = hist.added[0] if hist.added else None
                masked = col.key in REDACTED
                changes[col.key] = [
                    "***" if masked else _plain(old),
                    "***" if masked else _plain(new),
                ]
        if changes:
            rows.append(_row(table, "update", _key(obj), changes))
    for obj in session.deleted:
        table = obj.__table__.name
        if table not in NOT_AUDITED:
            values = {
                c.key: ["***" if c.key in REDACTED else _plain(getattr(obj, c.key)), ""]
                for c in _columns(obj)
            }
            rows.append(_row(table, "delete", _key(obj), values))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def record(
    session: Session, action: str, subject: str = "", subject_id: str = "", **details: Any
) -> None:
    """An entry that is not a record change: ``login``, ``login_failed``, ``denied`` …"""
    session.connection().execute(
        insert(AuditEntry),
        [_row(subject, action, subject_id, {k: _plain(v) for k, v in details.items()})],
    )


def record_denied(permission: str | None) -> None:
    """A refused request (403); committed at once, as the view that was refused never runs."""
    from core.web import db_session

    session = db_session()
    record(
        session, "denied", "permission", permission or "", path=request.path, method=request.method
    )
    session.commit()


def history(session: Session, subject: str, subject_id: Any, limit: int = 200) -> list[AuditEntry]:
    """The audit entries of one record, newest first (for its own page)."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == subject, AuditEntry.subject_id == str(subject_id))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
