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
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    SECRET_KEY,
    arguments,
    backend_of,
    parse,
    peak_rss_mb,
    print_table,
    report,
    run_child,
)

KEY_NAME = "bench-license-key"


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
    return {"seconds": core_s + install_s, "addons": len(bundled), "rss_mb": peak_rss_mb()}


def _child_startup() -> dict[str, float]:
    """``create_app()`` exactly as gunicorn's ``core.wsgi`` does (settings from the env)."""
    started = time.perf_counter()
    from core.app import create_app

    app = create_app()
    seconds = time.perf_counter() - started
    kernel = app.extensions["vitrylo"]
    snapshot = kernel.refresh()  # what the first request does: read the enabled set
    return {"seconds": seconds, "enabled": len(snapshot.enabled), "rss_mb": peak_rss_mb()}


def child_main(kind: str) -> None:
    report(_child_install() if kind == "install" else _child_startup())


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


def _child_env(instance: Path, url: str) -> dict[str, str]:
    """The environment of a child: none of the caller's VITRYLO_* settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITRYLO_")}
    env.update(
        VITRYLO_INSTANCE_PATH=str(instance),
        VITRYLO_DATABASE_URL=url,
        VITRYLO_SECRET_KEY=SECRET_KEY,
        VITRYLO_TRUSTED_KEYS=str(instance / f"{KEY_NAME}.pub"),
    )
    return env


def run(args: argparse.Namespace) -> list[Row]:
    from core.licensing import generate_keypair
    from core.testing.databases import temporary_database

    backend = backend_of(args.database_url)
    with tempfile.TemporaryDirectory(prefix="vitrylo-bench-") as tmp_text:
        tmp = Path(tmp_text)
        instance = tmp / "instance"
        instance.mkdir()
        generate_keypair(instance / f"{KEY_NAME}.pem", instance / f"{KEY_NAME}.pub")

        install = Row("", backend)
        startup: list[Row] = []
        for i in range(args.install_runs):
            with temporary_database(tmp, args.database_url or "sqlite://") as url:
                result, _ = run_child(__file__, "install", env=_child_env(instance, url))
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
        result, wall = run_child(__file__, "startup", env=env)
        process.times.append(wall)
        factory.times.append(result["seconds"])
        process.rss_mb.append(result["rss_mb"])
        factory.rss_mb.append(result["rss_mb"])
    return [process, factory]


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, runs=False)
    parser.add_argument("--runs", type=int, default=5, help="start-up runs (default 5)")
    parser.add_argument(
        "--install-runs",
        type=int,
        default=3,
        help="install runs, each on a new database (default 3)",
    )
    parser.add_argument("--child", choices=["install", "startup"], help=argparse.SUPPRESS)
    args = parse(parser, argv)
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
    head = ("scenario", "backend", "runs", "median s", "min s", "peak MB")
    print_table(head, [r.cells() for r in rows], left=2, sep="  ", rule="  ")
    print()
    print("install: init_core + install of every bundled addon into an empty database,")
    print("  each run a fresh process on a new database (licence set-up not timed).")
    print("start-up, whole process: interpreter start, imports, create_app(), exit.")
    print("start-up, import + create_app(): timed inside the child, from `import core.app`.")
    print("peak MB: the largest ru_maxrss of the child processes.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
