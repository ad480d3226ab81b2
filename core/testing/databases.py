"""Throw-away databases for tests, on SQLite or on the PostgreSQL server under test.

``VITRYLO_TEST_DATABASE_URL`` picks the backend; on PostgreSQL each fresh database is
created next to the one named in the URL and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV = "VITRYLO_TEST_DATABASE_URL"


def base_url() -> str:
    return os.environ.get(ENV, "").strip() or "sqlite://"


def is_postgres() -> bool:
    return base_url().startswith("postgresql")


def fresh_database_url(tmp_dir: Path) -> str:
    """A new, empty database: a file in ``tmp_dir`` or a new PostgreSQL database."""
    url = make_url(base_url())
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_dir / f'vt_{uuid.uuid4().hex[:8]}.sqlite3'}"
    name = f"vt_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url_text: str) -> None:
    """Remove a database made by :func:`fresh_database_url` (files are left to tmp_path)."""
    url = make_url(url_text)
    if url.get_backend_name() == "sqlite":
        return
    admin = make_url(base_url())
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    engine.dispose()
