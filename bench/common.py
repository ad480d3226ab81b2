"""What the benchmarks share: options, a kernel on a throw-away database, bulk loading,
a signed-in test client, timing with SQL statement counts, and result tables.

The benchmarks are scripts (``python bench/bench_x.py``, ``make bench``); each puts the
repository root on ``sys.path`` and imports this module as ``bench.common``. At module
level it imports only the standard library; the application is imported inside the
functions, so a child process that does not need it does not pay for it.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"  # --postgres
PASSWORD = "correct-horse-battery-42"  # of every user the benchmarks sign in as
SECRET_KEY = "bench-secret-key"
CHUNK = 50_000  # rows per executemany
RESULT_MARK = "BENCH_RESULT "  # prefixes the JSON line a child process reports

T = TypeVar("T")


# -- options -------------------------------------------------------------------------------


def arguments(doc: str, *, runs: bool = True) -> argparse.ArgumentParser:
    """A parser described by the first paragraph of ``doc``, with ``--postgres`` and
    ``--database-url`` (default: a SQLite file in a temporary folder) and, with ``runs``,
    ``--runs``. Read it with :func:`parse`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help=f"use {POSTGRES}")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL server URL (default: a SQLite file in a temp folder)",
    )
    if runs:
        parser.add_argument("--runs", type=int, default=5, help="timed requests per scenario")
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> Any:
    """The arguments, ``--postgres`` turned into its ``--database-url``."""
    args = parser.parse_args(argv)
    if args.postgres and not args.database_url:
        args.database_url = POSTGRES
    return args


def backend_of(database_url: str | None) -> str:
    """``sqlite`` or ``postgresql``: the backend of a server URL (none: SQLite)."""
    return (database_url or "sqlite").split(":")[0].split("+")[0]


# -- the kernel and the app ----------------------------------------------------------------


@contextmanager
def temporary_kernel(
    name: str, server: str | None, addons: Sequence[str], *, licensed: bool = False
) -> Iterator[Any]:
    """A kernel with ``addons`` installed on a throw-away database: a SQLite file in a
    temporary folder, or a new database on the PostgreSQL server of ``server`` (``CREATE
    DATABASE vt_…`` next to the one it names, as the test suite does), dropped at the end.
    ``licensed`` first installs a licence for every addon ("*"), signed by a key made here
    that only this kernel trusts (for the commercial addons). Password hashing is cheap.
    It is the test suite's :func:`core.testing.plugin.kernel_with`."""
    from core.security import use_cheap_hashing
    from core.testing.plugin import kernel_with

    use_cheap_hashing()
    with (
        tempfile.TemporaryDirectory(prefix=f"vitrylo-bench-{name}-") as tmp_text,
        kernel_with(
            Path(tmp_text),
            addons,
            licensed=licensed,
            server=server or "sqlite://",
            secret_key=SECRET_KEY,
        ) as kernel,
    ):
        yield kernel


def add_user(kernel: Any, login: str, *, superuser: bool = False) -> int:
    """A user named after ``login`` who signs in with :data:`PASSWORD`; their id."""
    from core.models import User
    from core.security import hash_password

    with kernel.db.transaction() as db:
        user = User(
            login=login,
            name=login.title(),
            is_superuser=superuser,
            password_hash=hash_password(PASSWORD, login),
        )
        db.add(user)
        db.flush()
        return int(user.id)


def bench_app(kernel: Any) -> Any:
    """The Flask app over ``kernel``."""
    from core.app import create_app

    return create_app(kernel.settings, kernel=kernel)


def csrf(app: Any, client: Any) -> str:
    """A valid CSRF token for ``client``'s session (the test suite's
    :func:`core.testing.plugin.csrf_token`)."""
    from core.testing.plugin import csrf_token

    return csrf_token(app, client)


def sign_in(app: Any, login: str) -> Any:
    """A test client signed in through the real login form (CSRF token included)."""
    client = app.test_client()
    response = client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrf_token": csrf(app, client)}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


# -- loading -------------------------------------------------------------------------------


def chunked(rows: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``rows`` in lists of ``size`` (the last one shorter)."""
    chunk: list[T] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_chunks(conn: Any, table: Any, rows: Iterable[dict[str, Any]], size: int = CHUNK) -> None:
    """Core ``executemany`` (``insert(table)`` with a list of dicts) per chunk."""
    from sqlalchemy import insert

    for chunk in chunked(rows, size):
        conn.execute(insert(table), chunk)


def copy_rows(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL's ``COPY … FROM STDIN`` of tuples in ``columns`` order."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with conn.connection.dbapi_connection.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def load(conn: Any, table: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Tuples in ``columns`` order into ``table``: COPY on PostgreSQL, chunked executemany
    elsewhere. COPY bypasses the models' Python-side defaults, so the scalar defaults of
    the NOT NULL columns not given are sent along."""
    extra = [
        (c.name, c.default.arg)
        for c in table.columns
        if c.name not in columns
        and not c.nullable
        and c.default is not None
        and c.default.is_scalar
        and not c.primary_key
    ]
    columns = (*columns, *(name for name, _ in extra))
    full = (tuple(row) + tuple(value for _, value in extra) for row in rows)
    if conn.dialect.name == "postgresql":
        copy_rows(conn, table.name, columns, full)
    else:
        insert_chunks(conn, table, (dict(zip(columns, row, strict=True)) for row in full))


@contextmanager
def indexes_dropped(engine: Any, *tables: Any) -> Iterator[None]:
    """Drop the tables' secondary indexes for the load and build them after it: one sort
    per index instead of a million inserts into each."""
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    indexes = []
    for table in tables:
        existing = {i["name"] for i in inspector.get_indexes(table.name)}
        indexes += [i for i in table.indexes if i.name in existing]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for index in indexes:
            index.create(conn)


def analyze(engine: Any, *tables: str) -> None:
    """Fresh planner statistics after a load: ``VACUUM ANALYZE`` (of ``tables``, or of
    everything) on PostgreSQL, ``ANALYZE`` on SQLite."""
    from sqlalchemy import text

    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"VACUUM ANALYZE {', '.join(tables)}".rstrip()))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


# -- timing --------------------------------------------------------------------------------


@contextmanager
def counting(engine: Any) -> Iterator[list[str]]:
    """The SQL statements ``engine`` sends inside the block."""
    from sqlalchemy import event

    seen: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def timed(
    engine: Any,
    runs: int,
    call: Callable[[], T],
    prepare: Callable[[], object] | None = None,
) -> tuple[float, list[str], T]:
    """Median milliseconds of ``runs`` calls after one warm-up call (``prepare()`` runs
    untimed before each), the SQL statements of the last one, and its result."""
    times: list[float] = []
    statements: list[str] = []
    for n in range(runs + 1):
        if prepare is not None:
            prepare()
        if n == 0:
            result = call()
            continue
        with counting(engine) as seen:
            started = time.perf_counter()
            result = call()
            times.append((time.perf_counter() - started) * 1000)
        statements = seen
    return statistics.median(times), statements, result


def getter(client: Any, url: str, headers: dict[str, str] | None = None) -> Callable[[], Any]:
    """A call for :func:`timed`: GET ``url``, the whole body read, status 200 checked."""

    def get() -> Any:
        response = client.get(url, headers=headers or {})
        response.get_data()
        assert response.status_code == 200, (url, response.status_code)
        return response

    return get


# -- output --------------------------------------------------------------------------------


@dataclass
class Result:
    """One timed scenario: its median milliseconds over ``rows`` rows (what the request
    covers) and the SQL statements of one request."""

    scenario: str
    backend: str
    rows: int
    ms: float
    queries: int


def print_results(results: Sequence[Result], runs: int) -> None:
    """The table of :class:`Result`: scenario, backend, rows, median ms, rows/s, queries."""
    print_table(
        ("scenario", "backend", "rows", f"ms (median of {runs})", "rows/s", "queries"),
        [
            (
                r.scenario,
                r.backend,
                f"{r.rows:,}",
                f"{r.ms:.1f}",
                f"{r.rows / r.ms * 1000:,.0f}" if r.ms else "-",
                str(r.queries),
            )
            for r in results
        ],
    )


def print_table(
    head: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    left: int = 1,
    sep: str = " | ",
    rule: str = "-+-",
) -> None:
    """A text table: the first ``left`` columns flush left, the others flush right, a rule
    of dashes under the head."""
    table = [list(head), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for n, row in enumerate(table):
        cells = enumerate(zip(row, widths, strict=True))
        print(sep.join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in cells))
        if n == 0:
            print(rule.join("-" * w for w in widths))


# -- child processes -----------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (ru_maxrss is KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def report(result: dict[str, Any]) -> None:
    """Hand a child's result to :func:`run_child` in the parent."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def run_child(
    script: str, *args: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], float]:
    """Run ``script --child args…`` in a fresh interpreter; its :func:`report`, and the
    wall time of the whole process (interpreter start, imports, work, exit)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(script).resolve()), "--child", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    what = " ".join(args)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {what} run failed (exit {done.returncode})")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :]), wall
    raise SystemExit(f"the {what} run printed no result:\n{done.stdout}{done.stderr}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 just now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
