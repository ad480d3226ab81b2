"""Maintenance of the database (AD-3): backup, restore, integrity check, optimisation.

Works on a :class:`core.db.Database`, without Flask, on both backends:

- **SQLite**: the online backup API copies a live database in one step under a single read
  transaction (WAL lets writers go on meanwhile), so the copy is one committed state.
  The backup is a plain SQLite file in rollback-journal mode (it starts with the SQLite
  magic ``SQLite format 3\\0``).
- **PostgreSQL**: ``pg_dump --format=custom`` (it starts with ``PGDMP``), run on a snapshot
  exported from our own REPEATABLE READ transaction, so the row counts reported are exactly
  those of the dump. Restores go through ``pg_restore --single-transaction``: all or nothing.

A restore always goes into a *fresh* database; the app is switched to it by pointing
``VITRYLO_DATABASE_URL`` at it and restarting, never hot-swapped.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from core.db import Database, make_engine, write_intent

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
STATE_TABLE = "core_addon"  # every Vitrylo database has it: which addons are installed
KIND_LABEL = {SQLITE: "SQLite", POSTGRESQL: "PostgreSQL"}
INSUFFICIENT_PRIVILEGE = "42501"


class MaintenanceError(Exception):
    """A maintenance operation was refused or failed; the message says why, for the admin."""


@dataclass(frozen=True)
class BackupInfo:
    """What :func:`backup` wrote: the file, its kind, its size and the rows it holds."""

    path: Path
    kind: str
    size: int
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass(frozen=True)
class RestoreInfo:
    """What :func:`restore` produced: the new database (password hidden) and its rows."""

    target: str
    kind: str
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


@dataclass
class CheckReport:
    """The outcome of :func:`check`: problems found (none means healthy) and notes."""

    kind: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# -- helpers ----------------------------------------------------------------------------


def backup_kind(path: Path) -> str | None:
    """``"sqlite"`` or ``"postgresql"`` from the file's magic bytes, or None if neither."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise MaintenanceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head.startswith(SQLITE_MAGIC):
        return SQLITE
    if head.startswith(PGDUMP_MAGIC):
        return POSTGRESQL
    return None


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise MaintenanceError(f"not a database URL: {url!r}") from exc
    if parsed.get_backend_name() not in KIND_LABEL:
        raise MaintenanceError(
            f"unsupported database {parsed.get_backend_name()!r}: use SQLite or PostgreSQL"
        )
    return parsed


def _hide(url: str | URL) -> str:
    return (make_url(url) if isinstance(url, str) else url).render_as_string(hide_password=True)


def safe_url(url: str) -> str:
    """``url`` checked (SQLite or PostgreSQL) and with its password hidden, for display."""
    return _hide(_parse_url(url))


def _sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _db_error(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's SQL echo and background link."""
    orig = getattr(exc, "orig", None)
    message = str(orig if orig is not None else exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


def _kind_of(db: Database) -> str:
    name = db.engine.dialect.name
    if name not in KIND_LABEL:
        raise MaintenanceError(f"unsupported database {name!r}: use SQLite or PostgreSQL")
    return name


def _require_existing_sqlite(db: Database) -> Path | None:
    """The database file; refuse a missing one (connecting would create an empty database)."""
    path = _sqlite_path(db.engine.url)
    if path is not None and not path.is_file():
        raise MaintenanceError(f"no SQLite database at {path}")
    return path


def _row_counts(conn: Connection) -> dict[str, int]:
    counts = {}
    for table in sorted(inspect(conn).get_table_names()):
        quoted = conn.dialect.identifier_preparer.quote(table)
        counts[table] = conn.execute(
            text(f"SELECT COUNT(*) FROM {quoted}")  # noqa: S608 - name from the inspector
        ).scalar_one()
    return counts


def _sqlite_tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' "
        "ESCAPE '\\' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows]


def _sqlite_row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        t: conn.execute(f"SELECT COUNT(*) FROM {_quote(t)}").fetchone()[0]  # noqa: S608
        for t in _sqlite_tables(conn)
    }


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _private_temp(dest: Path) -> Path:
    """An empty file next to ``dest``, readable by its owner only (backups hold secrets)."""
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    return tmp


# -- PostgreSQL client tools ------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MaintenanceError(
            f"{name} not found on PATH: install the PostgreSQL client tools "
            "(the server's major version or newer)"
        )
    return found


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_connection(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq conninfo for ``--dbname`` and the environment to run a client tool with.

    The password travels in ``PGPASSWORD`` only, never on the command line (where ``ps``
    would show it). The URL's query options (``sslmode=...``) are libpq keywords already.
    """
    env = dict(os.environ)
    params: dict[str, str] = {}
    for key, value in url.query.items():
        params[key] = value if isinstance(value, str) else ",".join(value)
    password = params.pop("password", None)
    if url.password is not None:
        password = str(url.password)
    if password is not None:
        env["PGPASSWORD"] = password
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    conninfo = " ".join(f"{k}={_conninfo_value(v)}" for k, v in params.items())
    return conninfo, env


def _run(args: list[str], env: dict[str, str], failure: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(  # noqa: S603 - list arguments, no shell, tool from PATH
        args, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip() or f"exit status {result.returncode}"
        raise MaintenanceError(f"{failure}: {detail}")
    return result


# -- backup -----------------------------------------------------------------------------


def backup(db: Database, dest: Path, *, overwrite: bool = False) -> BackupInfo:
    """Write a consistent backup of the live database ``db`` to ``dest``.

    Writers may go on meanwhile. The file appears only once complete (written next to
    ``dest`` and renamed), readable by its owner only. An existing ``dest`` is refused
    unless ``overwrite``.
    """
    dest = Path(dest)
    kind = _kind_of(db)
    if dest.is_dir():
        raise MaintenanceError(f"{dest} is a folder: give the backup file's name")
    if not dest.parent.is_dir():
        raise MaintenanceError(f"folder {dest.parent} does not exist")
    if dest.exists() and not overwrite:
        raise MaintenanceError(f"{dest} already exists (overwrite it with --force)")
    if kind == SQLITE:
        source = _require_existing_sqlite(db)
        if source is not None and dest.resolve() == source.resolve():
            raise MaintenanceError("the backup file cannot be the database itself")
    tmp = _private_temp(dest)
    try:
        tables = _backup_sqlite(db, tmp) if kind == SQLITE else _backup_postgres(db, tmp)
        if STATE_TABLE not in tables:
            raise MaintenanceError(
                f"{_hide(db.url)} is not a Vitrylo database (no {STATE_TABLE} table)"
            )
        os.replace(tmp, dest)
    except BaseException:
        _remove_sqlite_files(tmp)
        raise
    return BackupInfo(path=dest, kind=kind, size=dest.stat().st_size, tables=tables)


def _backup_sqlite(db: Database, tmp: Path) -> dict[str, int]:
    try:
        raw = db.engine.raw_connection()
    except DBAPIError as exc:
        raise MaintenanceError(f"cannot open the database: {_db_error(exc)}") from exc
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        target = sqlite3.connect(tmp)
        try:
            # One step (pages=-1): the whole copy under one read transaction, so it is one
            # committed state; in WAL mode writers are not blocked meanwhile.
            source.backup(target, pages=-1)
            # A self-contained file: no -wal beside it, whatever the source's mode.
            target.execute("PRAGMA journal_mode=DELETE")
            return _sqlite_row_counts(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise MaintenanceError(f"SQLite backup failed: {exc}") from exc
    finally:
        raw.close()


def _backup_postgres(db: Database, tmp: Path) -> dict[str, int]:
    pg_dump = _pg_tool("pg_dump")
    conninfo, env = _pg_connection(db.engine.url)
    try:
        repeatable = db.engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with repeatable as conn, conn.begin():
            # pg_dump reads this very snapshot: the counts below are the dump's.
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = _row_counts(conn)
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    f"--file={tmp}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump failed",
            )
    except SQLAlchemyError as exc:
        raise MaintenanceError(f"cannot read the database: {_db_error(exc)}") from exc
    return tables


# -- restore ----------------------------------------------------------------------------


def restore(backup_file: Path, target_url: str) -> RestoreInfo:
    """Restore ``backup_file`` into the fresh, empty database at ``target_url``.

    Refused, with nothing created or changed, when the file is not a Vitrylo backup, when
    its kind does not match the target's backend, or when the target already has tables.
    PostgreSQL needs the (empty) target database to exist; SQLite creates the file.
    """
    backup_file = Path(backup_file)
    if not backup_file.is_file():
        raise MaintenanceError(f"no backup file at {backup_file}")
    url = _parse_url(target_url)
    target_kind = url.get_backend_name()
    kind = backup_kind(backup_file)
    if kind is None:
        raise MaintenanceError(
            f"{backup_file} is not a Vitrylo backup (neither a SQLite file nor a pg_dump "
            "custom-format archive)"
        )
    if kind != target_kind:
        raise MaintenanceError(
            f"{backup_file} is a {KIND_LABEL[kind]} backup; it can only be restored into a "
            f"{KIND_LABEL[kind]} database, not into {KIND_LABEL[target_kind]} "
            f"({_hide(url)})"
        )
    if kind == SQLITE:
        _restore_sqlite(backup_file, url)
    else:
        _restore_postgres(backup_file, url)
    return RestoreInfo(target=_hide(url), kind=kind, tables=_verify_restored(url))


@contextlib.contextmanager
def _open_sqlite_backup(path: Path) -> Iterator[sqlite3.Connection]:
    """The backup, opened read-only and checked: a readable, sound Vitrylo database."""
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        result = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if result != ["ok"]:
            raise MaintenanceError(f"{path} is a damaged SQLite file: {'; '.join(result[:5])}")
        if STATE_TABLE not in _sqlite_tables(conn):
            raise MaintenanceError(f"{path} is not a Vitrylo backup (no {STATE_TABLE} table)")
        yield conn
    except sqlite3.Error as exc:
        raise MaintenanceError(f"{path} is not a valid SQLite backup: {exc}") from exc
    finally:
        if conn is not None:
            conn.close()


def _restore_sqlite(backup_file: Path, url: URL) -> None:
    target = _sqlite_path(url)
    if target is None:
        raise MaintenanceError("restore into a SQLite file, not an in-memory database")
    if not target.parent.is_dir():
        raise MaintenanceError(f"folder {target.parent} does not exist")
    existed = target.exists()
    if existed:
        _refuse_non_empty_sqlite(target)
    with _open_sqlite_backup(backup_file) as source:
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest, pages=-1)
                dest.execute("PRAGMA journal_mode=WAL")  # as the app runs it
            finally:
                dest.close()
        except sqlite3.Error as exc:
            if not existed:
                _remove_sqlite_files(target)
            raise MaintenanceError(f"SQLite restore into {target} failed: {exc}") from exc
        except BaseException:
            if not existed:
                _remove_sqlite_files(target)
            raise


def _refuse_non_empty_sqlite(target: Path) -> None:
    try:
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = _sqlite_tables(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise MaintenanceError(
            f"{target} exists and is not an empty SQLite database ({exc}); restore into a new file"
        ) from exc
    if tables:
        raise MaintenanceError(_not_empty_message(_hide(f"sqlite:///{target}"), tables))


def _not_empty_message(target: str, tables: list[str]) -> str:
    shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
    return (
        f"the target database {target} already has {len(tables)} table(s) ({shown}); "
        "restore only into a fresh, empty database"
    )


def _restore_postgres(backup_file: Path, url: URL) -> None:
    pg_restore = _pg_tool("pg_restore")
    conninfo, env = _pg_connection(url)
    # Validate the archive before touching the target: pg_restore --list reads its TOC.
    listing = _run(
        [pg_restore, "--list", str(backup_file)],
        env,
        f"{backup_file} is not a valid pg_dump archive",
    )
    if not re.search(rf"^\d+;.*\bTABLE \S+ {STATE_TABLE}\b", listing.stdout, re.MULTILINE):
        raise MaintenanceError(f"{backup_file} is not a Vitrylo backup (no {STATE_TABLE} table)")
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            tables = list(
                conn.execute(
                    text(
                        "SELECT n.nspname || '.' || c.relname FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1"
                    )
                ).scalars()
            )
    except DBAPIError as exc:
        raise MaintenanceError(
            f"cannot connect to the target database {_hide(url)}: {_db_error(exc)} "
            "(create an empty database first, e.g. createdb -O OWNER NAME)"
        ) from exc
    finally:
        engine.dispose()
    if tables:
        raise MaintenanceError(_not_empty_message(_hide(url), tables))
    # One transaction: a failed restore leaves the target as empty as it was.
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            f"--dbname={conninfo}",
            str(backup_file),
        ],
        env,
        "pg_restore failed (the target database was left empty)",
    )


def _verify_restored(url: URL) -> dict[str, int]:
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(STATE_TABLE):
                raise MaintenanceError(
                    f"the restored database {_hide(url)} has no {STATE_TABLE} table"
                )
            return _row_counts(conn)
    except SQLAlchemyError as exc:
        raise MaintenanceError(f"cannot read the restored database: {_db_error(exc)}") from exc
    finally:
        engine.dispose()


# -- check ------------------------------------------------------------------------------


def check(db: Database) -> CheckReport:
    """Look for damage; problems are reported in the result, not raised.

    SQLite: ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``. PostgreSQL: every
    index valid (``pg_index.indisvalid``) and, where the ``amcheck`` extension can be used,
    ``bt_index_check`` (with ``heapallindexed``) on the btree indexes of the current schema.
    """
    kind = _kind_of(db)
    report = CheckReport(kind=kind)
    if kind == SQLITE:
        _require_existing_sqlite(db)
        _check_sqlite(db, report)
    else:
        _check_postgres(db, report)
    return report


def _check_sqlite(db: Database, report: CheckReport) -> None:
    try:
        with db.engine.connect() as conn:
            rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
            if rows == ["ok"]:
                report.notes.append("integrity_check: ok")
            else:
                report.problems += [f"integrity_check: {r}" for r in rows]
            dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            for table, rowid, parent, _fkid in dangling:
                report.problems.append(
                    f"foreign_key_check: {table} row {rowid} refers to a missing row of {parent}"
                )
            if not dangling:
                report.notes.append("foreign_key_check: ok")
    except DBAPIError as exc:
        report.problems.append(f"the database cannot be read: {_db_error(exc)}")


def _check_postgres(db: Database, report: CheckReport) -> None:
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            invalid = (
                conn.execute(
                    text(
                        "SELECT n.nspname || '.' || c.relname FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE NOT i.indisvalid ORDER BY 1"
                    )
                )
                .scalars()
                .all()
            )
            report.problems += [
                f"index {name} is invalid (rebuild it with REINDEX INDEX)" for name in invalid
            ]
            total = conn.execute(text("SELECT COUNT(*) FROM pg_index")).scalar_one()
            if not invalid:
                report.notes.append(f"all {total} indexes are valid")
            _amcheck(conn, report)
    except DBAPIError as exc:
        report.problems.append(f"the database cannot be read: {_db_error(exc)}")


def _amcheck(conn: Connection, report: CheckReport) -> None:
    """``bt_index_check`` on the current schema's btree indexes, if amcheck can be used.

    An extension created here is dropped again, so a later dump does not need the right
    to create it on restore.
    """
    present = (
        conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")).scalar()
        is not None
    )
    created = False
    if not present:
        try:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
            created = True
        except DBAPIError as exc:
            report.notes.append(f"amcheck skipped (cannot create the extension: {_db_error(exc)})")
            return
    try:
        indexes = conn.execute(
            text(
                "SELECT c.oid, n.nspname || '.' || c.relname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_am am ON am.oid = c.relam "
                "WHERE n.nspname = current_schema() AND am.amname = 'btree' "
                "AND i.indisvalid AND i.indisready AND c.relpersistence <> 't' ORDER BY 2"
            )
        ).all()
        checked = 0
        for oid, name in indexes:
            try:
                conn.execute(
                    text("SELECT bt_index_check(CAST(:oid AS oid)::regclass, true)"), {"oid": oid}
                )
                checked += 1
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
                    report.notes.append(f"amcheck skipped (not allowed: {_db_error(exc)})")
                    return
                report.problems.append(f"index {name}: {_db_error(exc)}")
        report.notes.append(f"amcheck: {checked} btree index(es) verified")
    finally:
        if created:
            with contextlib.suppress(DBAPIError):
                conn.execute(text("DROP EXTENSION IF EXISTS amcheck"))


# -- optimize ---------------------------------------------------------------------------


def optimize(db: Database) -> list[str]:
    """Rebuild indexes and refresh the planner's statistics; returns what was done.

    SQLite: ``REINDEX``, ``ANALYZE``, ``PRAGMA optimize`` in one writing transaction.
    PostgreSQL: ``REINDEX TABLE CONCURRENTLY`` per table of the current schema (the app can
    keep reading and writing), then ``ANALYZE``; in autocommit, as REINDEX CONCURRENTLY
    cannot run inside a transaction block.
    """
    kind = _kind_of(db)
    try:
        if kind == SQLITE:
            _require_existing_sqlite(db)
            return _optimize_sqlite(db)
        return _optimize_postgres(db)
    except DBAPIError as exc:
        raise MaintenanceError(f"optimize failed: {_db_error(exc)}") from exc


def _optimize_sqlite(db: Database) -> list[str]:
    with write_intent(), db.engine.begin() as conn:
        conn.exec_driver_sql("REINDEX")
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("PRAGMA optimize")
    return ["REINDEX (every index)", "ANALYZE (statistics refreshed)", "PRAGMA optimize"]


def _optimize_postgres(db: Database) -> list[str]:
    done = []
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        concurrently = conn.dialect.server_version_info >= (12,)
        prep = conn.dialect.identifier_preparer
        for table in sorted(inspect(conn).get_table_names(schema=schema)):
            qualified = f"{prep.quote_schema(schema)}.{prep.quote(table)}"
            how = "CONCURRENTLY " if concurrently else ""
            conn.exec_driver_sql(f"REINDEX TABLE {how}{qualified}")
            done.append(f"REINDEX TABLE {how}{schema}.{table}")
        conn.exec_driver_sql("ANALYZE")
        done.append("ANALYZE (statistics refreshed)")
    return done
