"""Licences in the database: which one is installed and what it covers, for this database.

The verification itself is :mod:`core.licensing`; this module only stores licence files
and derives the state. Nothing here ever deletes business data: an addon that a licence
stops covering becomes read-only (see :class:`core.kernel.Kernel`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.licensing import License, LicenseError, load_public_keys, verify
from core.models import LicenseRecord

VENDOR_KEYS = tuple(sorted((Path(__file__).resolve().parent / "keys").glob("*.pub")))


def trusted_keys(extra: Iterable[Path] = ()) -> dict[str, Ed25519PublicKey]:
    """The vendor's shipped public keys plus those the instance trusts."""
    return load_public_keys([*VENDOR_KEYS, *extra])


@dataclass(frozen=True)
class LicenseState:
    """The installed licence as it stands today: ``state`` is none, valid, expired, invalid."""

    state: str
    license: License | None = None
    message: str = ""

    def covers(self, addon: str) -> bool:
        return self.state == "valid" and self.license is not None and self.license.covers(addon)

    @property
    def max_users(self) -> int | None:
        return self.license.max_users if self.license and self.state == "valid" else None


def install_license(
    session: Session, content: bytes, keys: Mapping[str, Ed25519PublicKey]
) -> License:
    """Verify ``content`` and make it the active licence; raises ``LicenseError`` if bad."""
    lic = verify(content, keys)
    if lic.is_expired():
        raise LicenseError(f"licence {lic.id} expired on {lic.expires.isoformat()}")
    session.execute(update(LicenseRecord).values(active=False))
    session.add(LicenseRecord(license_id=lic.id, content=content.decode("utf-8"), active=True))
    return lic


def license_state(
    session: Session, keys: Mapping[str, Ed25519PublicKey], today: date | None = None
) -> LicenseState:
    """Check the active licence again (a tampered row or a removed key shows up here)."""
    record = session.scalars(
        select(LicenseRecord)
        .where(LicenseRecord.active.is_(True))
        .order_by(LicenseRecord.id.desc())
    ).first()
    if record is None:
        return LicenseState("none", message="no licence installed")
    try:
        lic = verify(record.content.encode("utf-8"), keys)
    except LicenseError as exc:
        return LicenseState("invalid", message=str(exc))
    if lic.is_expired(today):
        return LicenseState("expired", lic, f"licence expired on {lic.expires.isoformat()}")
    return LicenseState("valid", lic)


USERS_LOCK = "active_users"


def active_users(session: Session) -> int:
    """How many active users there are, counted under a lock held to the end of the
    transaction, so two activations at the same moment cannot both slip under the limit."""
    from sqlalchemy import func

    from core.models import StateCounter, User

    if session.get(StateCounter, USERS_LOCK, with_for_update=True) is None:
        session.add(StateCounter(key=USERS_LOCK, value=0))
        session.flush()
        session.get(StateCounter, USERS_LOCK, with_for_update=True)
    return session.scalar(select(func.count()).select_from(User).where(User.active.is_(True))) or 0
