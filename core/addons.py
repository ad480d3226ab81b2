"""Installing, upgrading, uninstalling and purging addons in one database.

Each addon is installed in its own transaction: its migrations, its row in ``core_addon``,
its permissions and its ``post_install`` either all happen or none does. Every change bumps
the ``addons`` counter, which running app processes poll to see it without a restart.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.orm import Session

from core import depgraph, migrate
from core.db import Database, utcnow, write_intent
from core.facade import Hooks
from core.licenses import LicenseState
from core.loader import AddonInfo
from core.manifest import parse_version
from core.models import (
    ADDON_INSTALLED,
    ADDON_UNINSTALLED,
    InstalledAddon,
    Permission,
    StateCounter,
)

ADDONS_COUNTER = "addons"


class AddonError(Exception):
    """An addon operation was refused; the message says why and names the addons."""


@dataclass
class PurgePlan:
    """What a purge would drop: shown to the admin before anything happens."""

    addons: list[str]
    tables: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        lines = []
        for name in self.addons:
            tables = self.tables.get(name, [])
            lines.append(f"{name}: {len(tables)} table(s)")
            lines += [f"  {t} ({self.rows.get(t, 0)} rows)" for t in tables]
        return "\n".join(lines)


def bump_counter(session: Session, key: str = ADDONS_COUNTER) -> None:
    """Tell other processes that the addon state (or licence) changed."""
    row = session.get(StateCounter, key, with_for_update=True)
    if row is None:
        session.add(StateCounter(key=key, value=1))
    else:
        row.value += 1


def _resolve(dotted: str) -> Callable[[Session], None]:
    module, _, attr = dotted.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


class AddonManager:
    """The addon lifecycle for one database."""

    def __init__(
        self,
        db: Database,
        available: Mapping[str, AddonInfo],
        hooks: Hooks,
        license_state: Callable[[Session], LicenseState],
    ) -> None:
        self.db = db
        self.available = available
        self.hooks = hooks
        self.license_state = license_state

    # -- reading state ------------------------------------------------------------------

    def rows(self, session: Session) -> dict[str, InstalledAddon]:
        return {row.name: row for row in session.scalars(select(InstalledAddon))}

    def installed(self, session: Session) -> list[str]:
        return [n for n, row in self.rows(session).items() if row.state == ADDON_INSTALLED]

    def pending_upgrades(self, session: Session) -> dict[str, tuple[str, str]]:
        """Installed addons whose code on disk is newer than the database: name → (db, disk)."""
        result = {}
        for name, row in self.rows(session).items():
            info = self.available.get(name)
            if (
                row.state == ADDON_INSTALLED
                and info is not None
                and parse_version(info.manifest.version) > parse_version(row.version)
            ):
                result[name] = (row.version, info.manifest.version)
        return result

    def migration_scope(self, session: Session, *names: str) -> dict[str, AddonInfo]:
        """The addons whose revisions Alembic must see: those with data here, ``names``, and
        their dependencies. An unrelated addon on disk (even a broken one) stays out."""
        wanted = set(self.rows(session)) | set(names)
        closure = set(wanted)
        for name in wanted:
            closure |= depgraph.all_dependencies(name, self.available)
        return {n: self.available[n] for n in sorted(closure) if n in self.available}

    # -- the core itself ----------------------------------------------------------------

    def init_core(self) -> None:
        """Create (or bring up to date) the kernel's own tables."""
        with write_intent(), self.db.engine.connect() as conn, conn.begin():
            session = Session(bind=conn)
            has_state = inspect(conn).has_table(InstalledAddon.__tablename__)
            scope = self.migration_scope(session) if has_state else {}
            migrate.upgrade_branch(conn, scope, migrate.CORE_BRANCH)
            if session.get(StateCounter, ADDONS_COUNTER) is None:
                session.add(StateCounter(key=ADDONS_COUNTER, value=0))
            self._sync_permissions(session, "core")
            session.flush()

    # -- install ------------------------------------------------------------------------

    def plan_install(self, names: Iterable[str]) -> list[str]:
        """The addons ``install(names)`` would install, dependencies first."""
        with self.db.session_factory() as session:
            installed = self.installed(session)
        order = depgraph.install_order(names, self.available, installed)
        return order + [
            n
            for n in depgraph.auto_installable(self.available, [*installed, *order])
            if n not in order
        ]

    def install(self, names: Iterable[str], *, demo: bool = False) -> list[str]:
        """Install ``names`` with their dependencies and any glue addons that became possible."""
        try:
            order = self.plan_install(list(names))
        except depgraph.DependencyError as exc:
            raise AddonError(str(exc)) from exc
        with self.db.session_factory() as session:
            state = self.license_state(session)
        refused = [
            n for n in order if self.available[n].manifest.commercial and not state.covers(n)
        ]
        if refused:
            why = state.message or "it does not cover them"
            raise AddonError(
                f"commercial addon(s) {', '.join(refused)} need a licence that covers them "
                f"({why}); install one with 'vitrylo license install FILE'"
            )
        done = []
        for name in order:
            self._install_one(name, demo=demo)
            done.append(name)
        return done

    def _install_one(self, name: str, *, demo: bool) -> None:
        info = self.available[name]
        with write_intent(), self.db.engine.connect() as conn, conn.begin():
            session = Session(bind=conn)
            migrate.upgrade_branch(conn, self.migration_scope(session, name), name)
            row = session.get(InstalledAddon, name)
            first_time = row is None
            if row is None:
                session.add(
                    InstalledAddon(name=name, version=info.manifest.version, state=ADDON_INSTALLED)
                )
            else:
                row.version, row.state, row.updated_at = (
                    info.manifest.version,
                    ADDON_INSTALLED,
                    utcnow(),
                )
            self._sync_permissions(session, name)
            session.flush()
            if info.manifest.post_install:
                _resolve(info.manifest.post_install)(session)
            if demo and first_time and info.manifest.demo:
                _resolve(info.manifest.demo)(session)
            bump_counter(session)
            session.flush()

    def _sync_permissions(self, session: Session, addon: str) -> None:
        """Make the database's permissions of ``addon`` exactly what its hook declares."""
        declared = {p.name: p for p in self.hooks.permissions(all_addons=True) if p.addon == addon}
        stored = {
            p.name: p for p in session.scalars(select(Permission).where(Permission.addon == addon))
        }
        for name, perm in declared.items():
            for old in perm.replaces:
                if old in stored and name not in stored:  # a rename: grants follow it
                    session.execute(
                        update(Permission).where(Permission.name == old).values(name=name)
                    )
                    session.expunge(stored.pop(old))
                    stored[name] = session.get(Permission, name)  # type: ignore[assignment]
        for name, perm in declared.items():
            if name in stored:
                stored[name].label = str(perm.label)
            else:
                session.add(Permission(name=name, addon=addon, label=str(perm.label)))
        stale = set(stored) - set(declared)
        if stale:
            session.execute(delete(Permission).where(Permission.name.in_(stale)))

    # -- upgrade ------------------------------------------------------------------------

    def upgrade(self, names: Iterable[str] | None = None) -> list[str]:
        """Run the migrations of installed addons whose code is newer; returns those upgraded."""
        with self.db.session_factory() as session:
            pending = self.pending_upgrades(session)
            installed = self.installed(session)
        wanted = list(names) if names is not None else list(pending)
        unknown = [n for n in wanted if n not in installed]
        if unknown:
            raise AddonError(f"not installed: {', '.join(unknown)}")
        order = [n for n in depgraph.install_order(wanted, self.available) if n in wanted]
        self.init_core()
        for name in order:
            self._install_one(name, demo=False)
        return order

    # -- uninstall and purge ------------------------------------------------------------

    def uninstall(self, names: Iterable[str], *, with_dependents: bool = False) -> list[str]:
        """Switch addons off, keeping their data; dependents must go too (or it is refused)."""
        names = list(names)
        with self.db.session_factory() as session:
            installed = self.installed(session)
        missing = [n for n in names if n not in installed]
        if missing:
            raise AddonError(f"not installed: {', '.join(missing)}")
        deps = depgraph.dependents(names, self.available, installed)
        if deps and not with_dependents:
            raise AddonError(
                f"{', '.join(deps)} depend(s) on {', '.join(names)}; uninstall them too "
                "(--with-dependents) or keep it"
            )
        order = depgraph.uninstall_order([*deps, *names], self.available)
        with write_intent(), self.db.session_factory() as session, session.begin():
            for name in order:
                info = self.available.get(name)
                if info is not None and info.manifest.pre_uninstall:
                    _resolve(info.manifest.pre_uninstall)(session)
                row = session.get(InstalledAddon, name)
                assert row is not None
                row.state, row.updated_at = ADDON_UNINSTALLED, utcnow()
            bump_counter(session)
        return order

    def plan_purge(self, names: Iterable[str]) -> PurgePlan:
        """What purging ``names`` would drop; refuses installed addons and kept dependents."""
        names = list(names)
        with self.db.session_factory() as session:
            rows = self.rows(session)
        still_installed = [n for n in names if rows.get(n) and rows[n].state == ADDON_INSTALLED]
        if still_installed:
            raise AddonError(f"uninstall before purging: {', '.join(still_installed)}")
        unknown = [n for n in names if n not in rows]
        if unknown:
            raise AddonError(f"nothing to purge for: {', '.join(unknown)}")
        codeless = [n for n in names if n not in self.available]
        if codeless:
            raise AddonError(
                f"purging needs the code of {', '.join(codeless)} (its migrations "
                "drop its tables); install its package again first"
            )
        holders = [
            n for n in depgraph.dependents(names, self.available, list(rows)) if n not in names
        ]
        if holders:
            raise AddonError(
                f"{', '.join(holders)} keep(s) data that depends on "
                f"{', '.join(names)}; purge them too"
            )
        plan = PurgePlan(addons=names)
        insp = inspect(self.db.engine)
        all_tables = insp.get_table_names()
        with self.db.engine.connect() as conn:
            for name in names:
                tables = sorted(t for t in all_tables if t.startswith(f"{name}_"))
                plan.tables[name] = tables
                for table in tables:
                    quoted = conn.dialect.identifier_preparer.quote(table)
                    plan.rows[table] = conn.execute(
                        text(f"SELECT COUNT(*) FROM {quoted}")  # noqa: S608 - name from inspector
                    ).scalar_one()
        return plan

    def purge(self, names: Iterable[str]) -> PurgePlan:
        """Drop the data of uninstalled addons for good: migrations down to base, rows gone."""
        plan = self.plan_purge(names)
        order = depgraph.uninstall_order(plan.addons, self.available)
        for name in order:
            with write_intent(), self.db.engine.connect() as conn, conn.begin():
                session = Session(bind=conn)
                migrate.downgrade_branch(conn, self.migration_scope(session), name)
                session.execute(delete(Permission).where(Permission.addon == name))
                session.execute(delete(InstalledAddon).where(InstalledAddon.name == name))
                bump_counter(session)
                session.flush()
        return plan
