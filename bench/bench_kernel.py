#!/usr/bin/env python3
"""Kernel benchmarks: installing every bundled addon, and app start-up.

Not a test: it measures and prints a table. Every measurement runs in a fresh Python
process, so import caches and memory of one run never flatter the next.

    .venv/bin/python bench/bench_kernel.py                       # SQLite (a temp file)
    .venv/bin/python bench/bench_kernel.py --runs 10
    .venv/bin/python bench/bench_kernel.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL, a new database is created next to the one named in the URL for
each install run (the way ``core.testing.databases`` does it) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT_MARK = "BENCH_RESULT "
KEY_NAME = "bench-license-key"


def _peak_rss_mb() -> float:
    """This process's peak resident set size, in MB (ru_maxrss is KB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# -- child side: one measurement per process ----------------------------------------------


def _child_install() -> dict[str, float]:
    """Create the core tables, install a licence covering everything, install every
    bundled addon. The timed part is init_core + install (the licence is set-up)."""
    from core.addons import bump_counter
    from core.config import Settings
    from core.kernel import Kernel
    from core.licenses import install_license
    from core.licensing import issue

    settings = Settings.from_env()
    kernel = Kernel(settings)
    bundled = sorted(name for name, info in kernel.available.items() if info.bundled)

    started = time.perf_counter()
    kernel.manager.init_core()
    core_s = time.perf_counter() - started

    with kernel.db.transaction() as session:
        content = issue(
            settings.instance_path / f"{KEY_NAME}.pem",
            customer="bench",
            addons=["*"],
            max_users=1000,
            expires=date.today() + timedelta(days=30),
            demo=True,
        )
        install_license(session, content, kernel.trusted_keys())
        bump_counter(session)

    started = time.perf_counter()
    done = kernel.manager.install(bundled)
    install_s = time.perf_counter() - started
    missing = set(bundled) - set(done)
    if missing:
        raise SystemExit(f"not installed: {', '.join(sorted(missing))}")
    kernel.db.dispose()
    return {"seconds": core_s + install_s, "addons": len(bundled), "rss_mb": _peak_rss_mb()}


def _child_startup() -> dict[str, float]:
    """``create_app()`` exactly as gunicorn's ``core.wsgi`` does (settings from the env)."""
    started = time.perf_counter()
    from core.app import create_app

    app = create_app()
    seconds = time.perf_counter() - started
    kernel = app.extensions["vitrylo"]
    snapshot = kernel.refresh()  # what the first request does: read the enabled set
    return {"seconds": seconds, "enabled": len(snapshot.enabled), "rss_mb": _peak_rss_mb()}


def child_main(kind: str) -> None:
    result = _child_install() if kind == "install" else _child_startup()
    print(RESULT_MARK + json.dumps(result), flush=True)


# -- parent side ----------------------------------------------------------------------------


@dataclass
class Row:
    scenario: str
    backend: str
    times: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)

    def cells(self) -> list[str]:
        return [
            self.scenario,
            self.backend,
            str(len(self.times)),
            f"{statistics.median(self.times):.3f}",
            f"{min(self.times):.3f}",
            f"{max(self.rss_mb):.1f}",
        ]


def _run_child(kind: str, env: dict[str, str]) -> tuple[dict[str, float], float]:
    """Run one measurement in a fresh interpreter; return its result and the wall time of
    the whole process (interpreter start, imports, work, exit)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"the {kind} run failed (exit {done.returncode})")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :]), wall
    raise SystemExit(f"the {kind} run printed no result:\n{done.stdout}{done.stderr}")


def _child_env(instance: Path, url: str) -> dict[str, str]:
    """The environment of a child: none of the caller's VITRYLO_* settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRYLO_")}
    env.update(
        VITRYLO_INSTANCE_PATH=str(instance),
        VITRYLO_DATABASE_URL=url,
        VITRYLO_SECRET_KEY="bench-secret-key",
        VITRYLO_TRUSTED_KEYS=str(instance / f"{KEY_NAME}.pub"),
    )
    return env


def backend_name(url: str | None) -> str:
    if not url or url.startswith("sqlite"):
        return "sqlite"
    return url.split(":", 1)[0].split("+", 1)[0]


def run(args: argparse.Namespace) -> list[Row]:
    from core.licensing import generate_keypair
    from core.testing.databases import temporary_database

    backend = backend_name(args.database_url)
    with tempfile.TemporaryDirectory(prefix="vitrylo-bench-") as tmp_text:
        tmp = Path(tmp_text)
        instance = tmp / "instance"
        instance.mkdir()
        generate_keypair(instance / f"{KEY_NAME}.pem", instance / f"{KEY_NAME}.pub")

        install = Row("", backend)
        startup: list[Row] = []
        for i in range(args.install_runs):
            with temporary_database(tmp, args.database_url or "sqlite://") as url:
                result, _ = _run_child("install", _child_env(instance, url))
                install.times.append(result["seconds"])
                install.rss_mb.append(result["rss_mb"])
                install.scenario = f"install all bundled addons ({int(result['addons'])})"
                if i == args.install_runs - 1:  # start-up runs on the last database
                    startup = _startup_rows(args, backend, _child_env(instance, url))
    return [install, *startup]


def _startup_rows(args: argparse.Namespace, backend: str, env: dict[str, str]) -> list[Row]:
    process = Row("start-up: whole process", backend)
    factory = Row("start-up: import + create_app()", backend)
    for _ in range(args.runs):
        result, wall = _run_child("startup", env)
        process.times.append(wall)
        factory.times.append(result["seconds"])
        process.rss_mb.append(result["rss_mb"])
        factory.rss_mb.append(result["rss_mb"])
    return [process, factory]


def print_table(rows: list[Row]) -> None:
    header = ["scenario", "backend", "runs", "median s", "min s", "peak MB"]
    table = [header, *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    numeric = {2, 3, 4, 5}

    def fmt(line: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for line in table[1:]:
        print(fmt(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (default 5)")
    parser.add_argument(
        "--install-runs",
        type=int,
        default=3,
        help="install runs, each on a new database (default 3)",
    )
    parser.add_argument("--child", choices=["install", "startup"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child)
        return 0
    if args.runs < 1 or args.install_runs < 1:
        parser.error("--runs and --install-runs must be at least 1")

    print(
        f"Vitrylo kernel bench: Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    )
    rows = run(args)
    print()
    print_table(rows)
    print()
    print("install: init_core + install of every bundled addon into an empty database,")
    print("  each run a fresh process on a new database (licence set-up not timed).")
    print("start-up, whole process: interpreter start, imports, create_app(), exit.")
    print("start-up, import + create_app(): timed inside the child, from `import core.app`.")
    print("peak MB: the largest ru_maxrss of the child processes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
