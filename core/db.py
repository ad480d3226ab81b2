"""Database access: one declarative base for every addon, engines tuned per backend.

SQLite is the embedded default: WAL so readers never wait for the writer, a busy timeout,
and ``BEGIN IMMEDIATE`` for transactions that will write, so two writers queue up instead
of failing with "database is locked" when a read transaction tries to become a write one.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLITE_BUSY_TIMEOUT_MS = 30_000

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


class Base(DeclarativeBase):
    """The declarative base of the core and of every addon (tables carry the addon prefix)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Timezone-aware now, for defaults (naive datetimes lose the zone on SQLite)."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: object) -> Engine:
    """An engine for ``url`` with the per-backend settings Vitrylo relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _unicode_upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        # SQLite's own lower()/upper() only know ASCII: "Ромашка" would never match "ромашка".
        dbapi_conn.create_function("lower", 1, _unicode_lower, deterministic=True)
        dbapi_conn.create_function("upper", 1, _unicode_upper, deterministic=True)
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextlib.contextmanager
def write_intent() -> Iterator[None]:
    """Mark transactions begun inside this block as writers (``BEGIN IMMEDIATE`` on SQLite)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


def set_write_intent(value: bool) -> contextvars.Token[bool]:
    """Set the write intent for the rest of this context (a web request that changes data)."""
    return _write_intent.set(value)


def reset_write_intent(token: contextvars.Token[bool]) -> None:
    """Undo :func:`set_write_intent` at the end of the request."""
    _write_intent.reset(token)


class Database:
    """An engine and the scoped session the app and the CLI share."""

    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session: scoped_session[Session] = scoped_session(self.session_factory)
        self.pinned = False  # set by the test kit: one session spans the test's requests

    def end_request(self) -> None:
        """Release the request's session (unless a test pinned it to see its objects)."""
        if not self.pinned:
            self.session.remove()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A short writing transaction in a fresh session: committed, or rolled back on error."""
        with write_intent(), self.session_factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()
