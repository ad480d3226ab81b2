"""Two processes writing at once: no "database is locked", no lost row (issue 2, item 10).

Each transaction reads before it writes, the pattern that makes SQLite fail when a
deferred read transaction tries to become a writer; ``write_intent`` (``BEGIN IMMEDIATE``)
makes the writers queue instead.
"""

from __future__ import annotations

import multiprocessing as mp
import time

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, func, insert, select

from core.db import Database
from core.testing.databases import drop_database, fresh_database_url

ROWS_PER_WORKER = 200
metadata = MetaData()
counter = Table(
    "test_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("worker", Integer, nullable=False),
    Column("seen", Integer, nullable=False),
)


def _writer(url: str, worker: int, start: mp.synchronize.Event, errors: mp.Queue) -> None:
    db = Database(url)
    start.wait()
    try:
        for _ in range(ROWS_PER_WORKER):
            with db.transaction() as session:
                seen = session.scalar(select(func.count()).select_from(counter))
                time.sleep(0.002)  # widen the read-to-write window where SQLite would fail
                session.execute(insert(counter).values(worker=worker, seen=seen))
    except Exception as exc:  # reported to the parent, which fails the test
        errors.put(f"{type(exc).__name__}: {exc}")
    finally:
        db.dispose()


@pytest.mark.slow
def test_two_processes_write_at_once_without_locks_or_lost_rows(tmp_path):
    url = fresh_database_url(tmp_path)
    db = Database(url)
    metadata.create_all(db.engine)
    ctx = mp.get_context("spawn")
    start, errors = ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(url, n, start, errors)) for n in (1, 2)]
    try:
        for p in workers:
            p.start()
        start.set()
        for p in workers:
            p.join(timeout=120)
        failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
        assert failures == []
        assert all(p.exitcode == 0 for p in workers)
        with db.session_factory() as session:
            rows = session.execute(select(counter.c.worker, counter.c.seen)).all()
        assert len(rows) == 2 * ROWS_PER_WORKER
        if db.is_sqlite:  # BEGIN IMMEDIATE serialises writers: each saw the other's rows
            assert sorted(seen for _, seen in rows) == list(range(2 * ROWS_PER_WORKER))
    finally:
        db.dispose()
        drop_database(url)
