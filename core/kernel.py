"""The kernel of one process: the addons found, the plugin manager, and the cached state.

The enabled set and the licence state are read from the database and cached; a single
cheap query per request (the ``addons`` counter) tells whether another process changed
them, so an install or uninstall shows up everywhere without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from core import audit  # noqa: F401 - registers the audit listener for every session
from core.addons import ADDONS_COUNTER, AddonManager
from core.config import Settings
from core.db import Database
from core.facade import Hooks
from core.licenses import LicenseState, license_state, trusted_keys
from core.loader import AddonInfo, discover
from core.models import ADDON_INSTALLED, InstalledAddon, StateCounter
from core.plugins import build_plugin_manager


@dataclass(frozen=True)
class Snapshot:
    """What is enabled in the database, as of one value of the change counter."""

    counter: int = -1
    enabled: frozenset[str] = frozenset()
    versions: dict[str, str] = field(default_factory=dict)
    license: LicenseState = field(default_factory=lambda: LicenseState("none"))
    read_only: frozenset[str] = frozenset()
    checked_on: date | None = None  # licences expire by the calendar, not by a counter


class Kernel:
    """Everything a process needs to serve one database with its addons."""

    def __init__(self, settings: Settings, db: Database | None = None) -> None:
        self.settings = settings
        self.db = db or Database(settings.database_url)
        self.available: dict[str, AddonInfo] = discover(
            settings.addons_paths, safe_mode=settings.safe_mode
        )
        self.pm = build_plugin_manager(self.available)
        self.hooks = Hooks(self.pm, enabled=lambda: self.snapshot.enabled)
        self.hooks.validate_all()
        self.manager = AddonManager(self.db, self.available, self.hooks, self.license_state)
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def trusted_keys(self) -> dict:  # type: ignore[type-arg]
        return trusted_keys(self.settings.trusted_keys)

    def license_state(self, session: Session) -> LicenseState:
        return license_state(session, self.trusted_keys())

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self, session: Session | None = None) -> Snapshot:
        """Reload the enabled set if the counter moved; costs one small query otherwise."""
        own = session is None
        session = session or self.db.session_factory()
        try:
            try:
                counter = session.scalar(
                    select(StateCounter.value).where(StateCounter.key == ADDONS_COUNTER)
                )
            except (OperationalError, ProgrammingError) as exc:
                session.rollback()
                if _missing_table(exc):  # a database not initialised yet
                    return self._snapshot
                raise
            if counter is None or (
                counter == self._snapshot.counter and self._snapshot.checked_on == date.today()
            ):
                return self._snapshot
            with self._lock:
                rows = session.scalars(select(InstalledAddon)).all()
                enabled = frozenset(
                    r.name for r in rows if r.state == ADDON_INSTALLED and r.name in self.available
                )
                lic = self.license_state(session)
                read_only = frozenset(
                    n
                    for n in enabled
                    if self.available[n].manifest.commercial and not lic.covers(n)
                )
                self._snapshot = Snapshot(
                    counter,
                    enabled,
                    {r.name: r.version for r in rows},
                    lic,
                    read_only,
                    date.today(),
                )
            return self._snapshot
        finally:
            if own:
                session.close()

    def is_enabled(self, addon: str) -> bool:
        return addon == "core" or addon in self._snapshot.enabled


def _missing_table(exc: Exception) -> bool:
    """SQLite says "no such table", PostgreSQL "relation … does not exist"."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or "does not exist" in text
