"""CLI commands for database maintenance (AD-3): backup, restore, check, optimize.

Plain click commands, registered by ``core.cli`` (``COMMANDS``); meant for the ``db`` group:
``vitrylo db backup FILE``. They open the configured database directly rather than through
the kernel, so they never run migrations and still work on a damaged database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from core import maintenance
from core.db import Database
from core.maintenance import MaintenanceError


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    """The database of VITRYLO_DATABASE_URL (or the instance's), disposed afterwards."""
    from core.cli import Context  # lazily: core.cli imports this module

    settings = click.get_current_context().ensure_object(Context).settings
    try:
        db = Database(settings.database_url)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise click.ClickException(f"bad database URL: {exc}") from exc
    try:
        with _clean_errors():
            yield db
    finally:
        db.dispose()


@contextlib.contextmanager
def _clean_errors() -> Iterator[None]:
    try:
        yield
    except MaintenanceError as exc:
        raise click.ClickException(str(exc)) from exc


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _echo_tables(tables: dict[str, int]) -> None:
    width = max((len(t) for t in tables), default=0)
    for table, count in tables.items():
        click.echo(f"  {table:<{width}}  {count}")


@click.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite DEST if it exists.")
def backup(dest: Path, force: bool) -> None:
    """Write a consistent backup of the live database to DEST (the app may keep running)."""
    with _database() as db:
        info = maintenance.backup(db, dest, overwrite=force)
    click.echo(
        f"Backup written to {info.path}: {maintenance.KIND_LABEL[info.kind]}, "
        f"{_size(info.size)}, {len(info.tables)} tables, {info.rows} rows"
    )
    _echo_tables(info.tables)


@click.command()
@click.argument(
    "backup_file", metavar="BACKUP", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="DATABASE_URL",
    help="A fresh, empty database (PostgreSQL: create it first; SQLite: a new file).",
)
@click.option("--yes", is_flag=True, help="Restore without asking.")
def restore(backup_file: Path, target: str, yes: bool) -> None:
    """Restore BACKUP into a fresh database; then point VITRYLO_DATABASE_URL at it."""
    with _clean_errors():
        shown = maintenance.safe_url(target)
        if not yes and not click.confirm(f"Restore {backup_file} into {shown}?", default=False):
            raise click.ClickException("nothing restored")
        info = maintenance.restore(backup_file, target)
    click.echo(f"Restored into {info.target}: {len(info.tables)} tables, {info.rows} rows")
    _echo_tables(info.tables)
    click.echo(
        "To use it, set VITRYLO_DATABASE_URL to this database and restart the app servers "
        "and workers."
    )


@click.command()
def check() -> None:
    """Check the database for damage; exits with status 1 if anything is wrong."""
    with _database() as db:
        report = maintenance.check(db)
    for note in report.notes:
        click.echo(f"  {note}")
    if report.ok:
        click.echo("OK: no problems found.")
        return
    click.echo(f"{len(report.problems)} problem(s) found:", err=True)
    for problem in report.problems:
        click.echo(f"  {problem}", err=True)
    raise SystemExit(1)


@click.command()
def optimize() -> None:
    """Rebuild the indexes and refresh the query planner's statistics."""
    with _database() as db:
        done = maintenance.optimize(db)
    for step in done:
        click.echo(f"  {step}")
    click.echo("Optimized.")


COMMANDS = [backup, restore, check, optimize]
