"""Database maintenance (AD-3): backup of a live database, restore, check, optimize.

Runs on SQLite and, with ``VITRYLO_TEST_DATABASE_URL``, on PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import make_url, select, text

from addons.crm_base.models import Counterparty
from core import maintenance
from core.db import Database
from core.maintenance import MaintenanceError, backup, check, optimize, restore
from core.maintenance_cli import COMMANDS
from core.maintenance_cli import backup as backup_cmd
from core.maintenance_cli import check as check_cmd
from core.maintenance_cli import optimize as optimize_cmd
from core.maintenance_cli import restore as restore_cmd
from core.models import User
from core.testing.databases import drop_database, fresh_database_url, is_postgres

KIND = "postgresql" if is_postgres() else "sqlite"
MAGIC = maintenance.PGDUMP_MAGIC if is_postgres() else maintenance.SQLITE_MAGIC
COMPARED = (User, Counterparty)


@pytest.fixture
def fresh_url(tmp_path):
    """``fresh_url()`` → a new empty database URL, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        url = fresh_database_url(tmp_path)
        made.append(url)
        return url

    yield make
    for url in made:
        drop_database(url)


@pytest.fixture
def source(make_kernel):
    """A database with crm_base, 500 counterparties and a few users."""
    kernel = make_kernel(["crm_base"])
    with kernel.db.transaction() as session:
        session.add_all(Counterparty(name=f"Клієнт {n:03d} «ТОВ»") for n in range(500))
        session.add_all(
            User(login=f"user{n}", name=f"User {n}", email=f"u{n}@example.com") for n in range(5)
        )
    return kernel


def contents(db: Database) -> dict[str, list[tuple]]:
    with db.session_factory() as session:
        return {
            model.__tablename__: [
                tuple(row)
                for row in session.execute(
                    select(*model.__table__.columns).order_by(model.__table__.c.id)
                )
            ]
            for model in COMPARED
        }


def table_names(url: str) -> list[str]:
    """The target's tables; a SQLite file that does not exist is not created."""
    if url.startswith("sqlite"):
        path = Path(make_url(url).database)
        if not path.exists():
            return []
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return sorted(
                conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                        if db.is_sqlite
                        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                ).scalars()
            )
    finally:
        db.dispose()


# -- backup and restore -----------------------------------------------------------------


def test_backup_and_restore_find_every_row_again(source, tmp_path, fresh_url):
    before = contents(source.db)
    dest = tmp_path / "vitrylo.backup"
    info = backup(source.db, dest)
    assert info.kind == KIND and info.path == dest and info.size == dest.stat().st_size > 0
    assert dest.read_bytes().startswith(MAGIC)
    assert maintenance.backup_kind(dest) == KIND
    assert dest.stat().st_mode & 0o077 == 0  # it holds password hashes: owner only
    assert info.tables["crm_base_counterparty"] == 500 and info.tables["core_user"] == 5
    assert "core_addon" in info.tables
    assert not list(tmp_path.glob(".*partial"))

    target = fresh_url()
    restored = restore(dest, target)
    assert restored.kind == KIND and restored.tables == info.tables
    assert "core_addon" in restored.tables
    db = Database(target)
    try:
        assert contents(db) == before
        assert check(db).ok
        with db.transaction() as session:  # sequences came along: new ids do not collide
            session.add(Counterparty(name="після відновлення"))
        with db.session_factory() as session:
            assert session.query(Counterparty).count() == 501
    finally:
        db.dispose()


def test_backup_while_another_thread_writes_is_one_committed_state(source, tmp_path, fresh_url):
    """Each writer transaction adds user ``w<i>`` and counterparty ``w<i>`` together."""
    committed = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        nonlocal committed
        try:
            while not stop.is_set():
                with source.db.transaction() as session:
                    session.add(User(login=f"w{committed}"))
                    session.flush()
                    session.add(Counterparty(name=f"w{committed}"))
                committed += 1
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def wait_for(n: int) -> None:
        deadline = time.monotonic() + 60
        while committed < n and time.monotonic() < deadline and not errors:
            time.sleep(0.005)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        wait_for(20)
        low = committed
        info = backup(source.db, tmp_path / "live.backup")
        high_at_end = committed
        wait_for(high_at_end + 20)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert committed >= high_at_end + 20, "writers must go on after the backup"

    target = fresh_url()
    restored = restore(info.path, target)
    assert restored.tables == info.tables
    db = Database(target)
    try:
        assert check(db).ok
        with db.session_factory() as session:
            users = set(session.scalars(select(User.login).where(User.login.like("w%"))))
            parties = set(
                session.scalars(select(Counterparty.name).where(Counterparty.name.like("w%")))
            )
    finally:
        db.dispose()
    k = len(users)
    assert users == parties == {f"w{i}" for i in range(k)}  # whole transactions, a prefix
    assert low <= k <= high_at_end + 1
    assert info.tables["core_user"] == 5 + k and info.tables["crm_base_counterparty"] == 500 + k


def test_backup_refuses_to_overwrite_and_bad_destinations(source, tmp_path):
    dest = tmp_path / "b.backup"
    dest.write_text("keep me")
    with pytest.raises(MaintenanceError, match="already exists"):
        backup(source.db, dest)
    assert dest.read_text() == "keep me"
    assert backup(source.db, dest, overwrite=True).tables["crm_base_counterparty"] == 500
    with pytest.raises(MaintenanceError, match="does not exist"):
        backup(source.db, tmp_path / "no-such-folder" / "b.backup")
    with pytest.raises(MaintenanceError, match="is a folder"):
        backup(source.db, tmp_path)


@pytest.mark.skipif(is_postgres(), reason="SQLite files")
def test_backup_of_a_missing_sqlite_file_creates_nothing(tmp_path):
    missing = tmp_path / "missing.sqlite3"
    db = Database(f"sqlite:///{missing}")
    try:
        with pytest.raises(MaintenanceError, match="no SQLite database"):
            backup(db, tmp_path / "b.backup")
    finally:
        db.dispose()
    assert not missing.exists() and not (tmp_path / "b.backup").exists()


def test_restore_refuses_a_database_that_has_tables(source, tmp_path):
    info = backup(source.db, tmp_path / "b.backup")
    before = contents(source.db)
    with pytest.raises(MaintenanceError, match=r"already has \d+ table\(s\).*fresh, empty"):
        restore(info.path, source.db.url)
    assert contents(source.db) == before


def test_restore_refuses_garbage_and_creates_nothing(tmp_path, fresh_url):
    target = fresh_url()
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"this is not a backup at all\n" * 100)
    with pytest.raises(MaintenanceError, match="not a Vitrylo backup"):
        restore(garbage, target)
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(MAGIC + bytes(range(256)) * 64)
    with pytest.raises(MaintenanceError, match=r"not a valid|failed|damaged"):
        restore(damaged, target)
    with pytest.raises(MaintenanceError, match="no backup file"):
        restore(tmp_path / "missing.backup", target)
    assert table_names(target) == []
    assert is_postgres() or not Path(make_url(target).database).exists()


def test_restore_refuses_a_backup_of_the_other_kind(tmp_path, fresh_url):
    other = maintenance.SQLITE_MAGIC if is_postgres() else maintenance.PGDUMP_MAGIC
    wrong = tmp_path / "other.backup"
    wrong.write_bytes(other + b"\0" * 4096)
    label = "SQLite" if is_postgres() else "PostgreSQL"
    with pytest.raises(MaintenanceError, match=f"is a {label} backup; it can only be restored"):
        restore(wrong, fresh_url())


@pytest.mark.skipif(is_postgres(), reason="a SQLite file that is not a Vitrylo database")
def test_restore_refuses_a_sqlite_file_without_vitrylo_tables(tmp_path, fresh_url):
    other = tmp_path / "other.sqlite3"
    db = Database(f"sqlite:///{other}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    db.dispose()
    target = fresh_url()
    with pytest.raises(MaintenanceError, match="no core_addon table"):
        restore(other, target)
    assert not Path(make_url(target).database).exists()


# -- check and optimize -----------------------------------------------------------------


def test_check_and_optimize_on_a_healthy_database(source):
    report = check(source.db)
    assert report.ok, report.problems
    assert report.kind == KIND and report.notes
    done = optimize(source.db)
    assert done and any("ANALYZE" in step for step in done)
    if is_postgres():
        assert any("REINDEX TABLE" in s and "crm_base_counterparty" in s for s in done)
    else:
        assert any("REINDEX" in step for step in done)
    assert check(source.db).ok
    with source.db.session_factory() as session:
        assert session.query(Counterparty).count() == 500


@pytest.mark.skipif(is_postgres(), reason="SQLite file corruption")
def test_check_reports_a_corrupted_sqlite_file(source, tmp_path):
    info = backup(source.db, tmp_path / "good.sqlite3")
    damaged = tmp_path / "damaged.sqlite3"
    shutil.copyfile(info.path, damaged)
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8192] = bytes((n * 37 + 11) % 256 for n in range(8192))
    damaged.write_bytes(bytes(data))
    db = Database(f"sqlite:///{damaged}")
    try:
        report = check(db)
    finally:
        db.dispose()
    assert not report.ok
    assert any("integrity_check" in p or "cannot be read" in p for p in report.problems)


@pytest.mark.skipif(is_postgres(), reason="SQLite foreign keys")
def test_check_reports_dangling_foreign_keys(source):
    raw = sqlite3.connect(make_url(source.db.url).database)  # foreign keys off by default
    with raw:
        raw.execute("INSERT INTO core_user_group (user_id, group_id) VALUES (999, 999)")
    raw.close()
    report = check(source.db)
    assert any("core_user_group" in p and "foreign_key_check" in p for p in report.problems)


@pytest.mark.skipif(not is_postgres(), reason="PostgreSQL indexes")
def test_check_reports_an_invalid_index_and_leaves_no_extension(source):
    with source.db.engine.begin() as conn:
        assert (
            conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")).scalar()
            is None
        )
    report = check(source.db)
    assert report.ok
    assert any("amcheck" in note for note in report.notes), report.notes
    with source.db.engine.begin() as conn:
        assert (
            conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'")).scalar()
            is None
        )
        conn.execute(text("CREATE INDEX ix_test_broken ON crm_base_counterparty (created_at)"))
        conn.execute(
            text(
                "UPDATE pg_index SET indisvalid = false "
                "WHERE indexrelid = 'ix_test_broken'::regclass"
            )
        )
    report = check(source.db)
    assert any("ix_test_broken" in p and "invalid" in p for p in report.problems)


# -- the commands -----------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path):
    runner = CliRunner()

    def invoke(command, *args, url, input=None):
        env = {"VITRYLO_DATABASE_URL": url, "VITRYLO_INSTANCE_PATH": str(tmp_path / "instance")}
        return runner.invoke(
            command, list(map(str, args)), env=env, input=input, catch_exceptions=False
        )

    return invoke


def test_commands_are_exported():
    assert [c.name for c in COMMANDS] == ["backup", "restore", "check", "optimize"]


def test_backup_restore_commands(source, tmp_path, cli, fresh_url):
    url = source.db.url
    dest = tmp_path / "cli.backup"
    first = cli(backup_cmd, dest, url=url)
    assert first.exit_code == 0, first.output
    assert f"Backup written to {dest}" in first.output and re.search(
        r"crm_base_counterparty\s+500\n", first.output
    )
    again = cli(backup_cmd, dest, url=url)
    assert again.exit_code == 1 and "already exists" in again.output
    forced = cli(backup_cmd, dest, "--force", url=url)
    assert forced.exit_code == 0, forced.output

    target = fresh_url()
    declined = cli(restore_cmd, dest, "--to", target, url=url, input="n\n")
    assert declined.exit_code == 1 and "nothing restored" in declined.output
    assert table_names(target) == []
    assert is_postgres() or not Path(make_url(target).database).exists()
    done = cli(restore_cmd, dest, "--to", target, url=url, input="y\n")
    assert done.exit_code == 0, done.output
    assert "VITRYLO_DATABASE_URL" in done.output and "core_addon" in done.output
    refused = cli(restore_cmd, dest, "--to", target, "--yes", url=url)
    assert refused.exit_code == 1 and "already has" in refused.output

    restored = Database(target)
    try:
        assert contents(restored) == contents(source.db)
    finally:
        restored.dispose()


def test_commands_refuse_bad_input(source, tmp_path, cli, fresh_url):
    url = source.db.url
    missing = cli(restore_cmd, tmp_path / "missing.backup", "--to", fresh_url(), "--yes", url=url)
    assert missing.exit_code == 2 and "does not exist" in missing.output
    garbage = tmp_path / "garbage.backup"
    garbage.write_bytes(b"nope" * 100)
    bad = cli(restore_cmd, garbage, "--to", fresh_url(), "--yes", url=url)
    assert bad.exit_code == 1 and "not a Vitrylo backup" in bad.output
    bad_url = cli(restore_cmd, garbage, "--to", "mysql://x/y", "--yes", url=url)
    assert bad_url.exit_code == 1 and "unsupported database" in bad_url.output
    no_target = cli(restore_cmd, garbage, url=url)
    assert no_target.exit_code == 2 and "--to" in no_target.output
    no_folder = cli(backup_cmd, tmp_path / "nowhere" / "b.backup", url=url)
    assert no_folder.exit_code == 1 and "does not exist" in no_folder.output
    if not is_postgres():
        gone = cli(check_cmd, url=f"sqlite:///{tmp_path / 'gone.sqlite3'}")
        assert gone.exit_code == 1 and "no SQLite database" in gone.output
        assert not (tmp_path / "gone.sqlite3").exists()


def test_check_and_optimize_commands(source, tmp_path, cli):
    ok = cli(check_cmd, url=source.db.url)
    assert ok.exit_code == 0 and "OK: no problems found." in ok.output
    optimized = cli(optimize_cmd, url=source.db.url)
    assert optimized.exit_code == 0 and "ANALYZE" in optimized.output
    if not is_postgres():
        info = backup(source.db, tmp_path / "copy.sqlite3")
        data = bytearray(info.path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 8192] = b"\xa5" * 8192
        info.path.write_bytes(bytes(data))
        damaged = cli(check_cmd, url=f"sqlite:///{info.path}")
        assert damaged.exit_code == 1 and "problem(s) found" in damaged.output


def test_postgres_password_travels_in_the_environment_only():
    url = make_url("postgresql+psycopg://app:s3'cr\\et@db.local:5433/my crm?sslmode=require")
    conninfo, env = maintenance._pg_connection(url)
    assert "s3" not in conninfo
    assert env["PGPASSWORD"] == "s3'cr\\et"
    assert conninfo == ("sslmode='require' host='db.local' port='5433' user='app' dbname='my crm'")
