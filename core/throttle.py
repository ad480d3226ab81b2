"""Sign-in throttling: repeated failures for one login or from one address slow down, then
answer 429 for a while — never for good, so an attacker cannot lock a real user out.

An account is held for a delay that doubles with each failure past a few (30 s … 15 min);
an address that fails many times in the window is held the same way, for any login.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import LoginFailure
from core.sessions import _aware

WINDOW = timedelta(minutes=15)
FREE_FAILURES_PER_LOGIN = 5
FREE_FAILURES_PER_IP = 20
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)


def _hold(failures: int, free: int, last_at) -> int:  # type: ignore[no-untyped-def]
    if failures < free or last_at is None:
        return 0
    delay = min(BASE_DELAY * 2 ** (failures - free), MAX_DELAY)
    remaining = _aware(last_at) + delay - utcnow()
    return max(0, int(remaining.total_seconds()) + 1) if remaining.total_seconds() > 0 else 0


def retry_after(session: Session, login: str, ip: str) -> int:
    """Seconds until a sign-in for ``login`` from ``ip`` may be tried again (0 = now)."""
    since = utcnow() - WINDOW
    by_login = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.login == login.lower(), LoginFailure.at >= since
        )
    ).one()
    by_ip = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(
            LoginFailure.ip == ip, LoginFailure.at >= since
        )
    ).one()
    return max(
        _hold(by_login[0], FREE_FAILURES_PER_LOGIN, by_login[1]),
        _hold(by_ip[0], FREE_FAILURES_PER_IP, by_ip[1]),
    )


def record_failure(session: Session, login: str, ip: str) -> None:
    session.add(LoginFailure(login=login.lower()[:80], ip=ip[:64]))


def clear(session: Session, login: str) -> None:
    """A successful sign-in forgets the login's failures (and old rows are pruned)."""
    session.execute(
        delete(LoginFailure).where(
            (LoginFailure.login == login.lower()) | (LoginFailure.at < utcnow() - WINDOW)
        )
    )
