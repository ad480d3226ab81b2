"""Throw-away databases for tests and benchmarks, on SQLite or on a PostgreSQL server.

``VITRYLO_TEST_DATABASE_URL`` picks the backend of the test suite; on PostgreSQL each fresh
database is created next to the one named in the URL and dropped afterwards. Benchmarks
pass their own ``server`` URL.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV = "VITRYLO_TEST_DATABASE_URL"


def base_url() -> str:
    return os.environ.get(ENV, "").strip() or "sqlite://"


def is_postgres() -> bool:
    return base_url().startswith("postgresql")


def fresh_database_url(tmp_dir: Path, server: str | None = None) -> str:
    """A new, empty database: a file in ``tmp_dir`` or a new database on the PostgreSQL
    server of ``server`` (default: the test suite's URL)."""
    url = make_url(server or base_url())
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_dir / f'vt_{uuid.uuid4().hex[:8]}.sqlite3'}"
    name = f"vt_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url_text: str, server: str | None = None) -> None:
    """Remove a database made by :func:`fresh_database_url` (files are left to tmp_path)."""
    url = make_url(url_text)
    if url.get_backend_name() == "sqlite":
        return
    engine = create_engine(make_url(server or base_url()), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()


@contextlib.contextmanager
def temporary_database(tmp_dir: Path, server: str | None = None) -> Iterator[str]:
    """A fresh database for the length of a ``with`` block (benchmarks, scripts)."""
    url = fresh_database_url(tmp_dir, server)
    try:
        yield url
    finally:
        drop_database(url, server)
