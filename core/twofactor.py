"""Optional TOTP two-factor sign-in (pyotp) with one-time recovery codes."""

from __future__ import annotations

import hashlib
import secrets

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import RecoveryCode, User

ISSUER = "Vitrylo"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, login: str) -> str:
    """The otpauth:// link an authenticator app reads (typed in or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)


def verify_code(secret: str, code: str) -> bool:
    code = (code or "").replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=1)


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def new_recovery_codes(session: Session, user_id: int) -> list[str]:
    """Replace the user's recovery codes; the plain codes are shown once and never stored."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash(c)) for c in codes)
    return codes


def use_recovery_code(session: Session, user_id: int, code: str) -> bool:
    row = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _hash(code),
            RecoveryCode.used_at.is_(None),
        )
    ).first()
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def enable(session: Session, user: User, secret: str, code: str) -> list[str] | None:
    """Turn 2FA on once the user proves their app shows the right code; returns codes."""
    if not verify_code(secret, code):
        return None
    user.totp_secret = secret
    return new_recovery_codes(session, user.id)


def disable(session: Session, user: User) -> None:
    user.totp_secret = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
