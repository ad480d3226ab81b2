#!/usr/bin/env python3
"""Outbox throughput: N e-mails through the transactional outbox to a local SMTP server.

Not a test: it fills a fresh database's outbox with N e-mails (Ukrainian subject and body),
starts a local aiosmtpd server in this process, then times 1 and 2 worker processes
(each the real ``process_outbox`` loop: claim a batch, send it over one SMTP connection,
commit each result) until every row is ``sent``, and prints a table. It also checks that
every Message-ID arrived exactly once.

    .venv/bin/python bench/bench_outbox.py                     # 10,000 e-mails, SQLite
    .venv/bin/python bench/bench_outbox.py --messages 2000 --workers 1 2 4
    .venv/bin/python bench/bench_outbox.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Worker start-up (interpreter, imports) is not timed: the workers connect, say they are
ready, and wait for a common start signal. The SMTP server is aiosmtpd (pure Python, one
thread): at these rates it is a large part of what is measured, as a real relay would be.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arguments, free_port, parse, temporary_kernel

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


@dataclass
class Result:
    backend: str
    workers: int
    messages: int
    seconds: float
    duplicates: int
    missing: int
    server_cpu: float = 0.0
    workers_cpu: float = 0.0  # includes their start-up (imports), a second or so each

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class CountingHandler:
    """Counts accepted messages per Message-ID (no parsing beyond that header)."""

    def __init__(self) -> None:
        self.ids: Counter[bytes] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.original_content or b"")
        self.ids[found.group(1) if found else b"?"] += 1
        return "250 OK"


def worker(url: str, name: str, batch: int, ready: Any, go: Any) -> None:
    """One worker process: the production loop, until nothing is due."""
    from addons.notifications.outbox import Policy, process_outbox
    from core.db import Database

    db = Database(url)
    with db.engine.connect():
        pass
    ready.set()
    go.wait()
    process_outbox(db, name, policy=Policy(batch_size=batch), max_seconds=3600)
    db.dispose()


def fill(kernel: Any, count: int, prefix: str) -> list[str]:
    from addons.notifications.outbox import enqueue_many

    keys = [f"{prefix}:{i}:email" for i in range(count)]
    with kernel.db.transaction() as session:
        enqueue_many(
            session,
            [
                {
                    "channel": "email",
                    "recipient": f"user{i % 500}@example.com",
                    "subject": f"День народження: Іван Петренко №{i}",
                    "body": "Іванові Петренку сьогодні 40 років. Привітайте!\n\n"
                    f"Відкрити: https://crm.example.com/crm/counterparties/{i}\n",
                    "idempotency_key": key,
                }
                for i, key in enumerate(keys)
            ],
        )
    return keys


def run_once(kernel: Any, url: str, handler: CountingHandler, args: Any, workers: int) -> Result:
    from sqlalchemy import func, select

    from addons.notifications.channels import message_id
    from addons.notifications.models import OutboxMessage

    keys = fill(kernel, args.messages, f"bench{workers}")
    handler.ids.clear()
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    readies = [ctx.Event() for _ in range(workers)]
    procs = [
        ctx.Process(target=worker, args=(url, f"w{i}", args.batch, readies[i], go))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    for r in readies:
        r.wait(120)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = time.process_time()
    started = time.perf_counter()
    go.set()
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    server_cpu = time.process_time() - cpu_before  # this process: mostly the SMTP server
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (after.ru_utime + after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    with kernel.db.session_factory() as session:
        pending = session.scalar(select(func.count()).where(OutboxMessage.state != "sent"))
    expected = {message_id(k, "vitrylo.test").encode() for k in keys}
    got = {k: n for k, n in handler.ids.items() if k in expected}
    backend = kernel.db.engine.dialect.name
    assert not pending, f"{pending} messages not sent"
    return Result(
        backend,
        workers,
        args.messages,
        seconds,
        duplicates=sum(n - 1 for n in got.values()),
        missing=len(expected - set(got)),
        server_cpu=server_cpu,
        workers_cpu=workers_cpu,
    )


def main() -> None:
    parser = arguments(__doc__, runs=False)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, default=50, help="rows per claim")
    args = parse(parser)

    from aiosmtpd.controller import Controller

    from addons.notifications.settings_page import save_settings

    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    results: list[Result] = []
    try:
        with temporary_kernel("outbox", args.database_url, ["notifications"]) as kernel:
            with kernel.db.transaction() as session:
                save_settings(
                    session,
                    {
                        "notifications.smtp_host": "127.0.0.1",
                        "notifications.smtp_port": str(port),
                        "notifications.smtp_security": "none",
                        "notifications.smtp_from": "Vitrylo <crm@vitrylo.test>",
                    },
                )
            url = kernel.settings.database_url
            for workers in args.workers:
                result = run_once(kernel, url, handler, args, workers)
                results.append(result)
                print(
                    f"# {result.backend}, {workers} worker(s): {result.seconds:.1f} s", flush=True
                )
    finally:
        controller.stop()

    print()
    print(
        "| backend | workers | e-mails | seconds | e-mails/s | duplicates | missing "
        "| CPU s: SMTP server | CPU s: workers |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.backend} | {r.workers} | {r.messages:,} | {r.seconds:.1f} | "
            f"{r.rate:,.0f} | {r.duplicates} | {r.missing} | {r.server_cpu:.1f} | "
            f"{r.workers_cpu:.1f} |"
        )
    print(f"\n{os.cpu_count()} CPUs; load average (1 min) at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
