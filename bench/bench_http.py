"""Requests per second under gunicorn (2 workers): a signed-in list page beside a trivial
page, so the cost of the app's own work shows against the cost of the stack itself.

    .venv/bin/python bench/bench_http.py [--rows 100000] [--seconds 10] [--clients 4]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints a table: page, backend, rows, requests, seconds, requests/s, median ms, p95 ms.
The load comes from threads in this process with keep-alive connections on loopback.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PASSWORD,
    ROOT,
    SECRET_KEY,
    add_user,
    arguments,
    backend_of,
    free_port,
    insert_chunks,
    parse,
    temporary_kernel,
)

PAGES = {"trivial (/login)": "/login", "list (/crm/counterparties)": "/crm/counterparties"}


def fill(kernel: Any, rows: int) -> None:
    """``rows`` counterparties (audit off) and the signed-in superuser."""
    from addons.crm_base.models import Counterparty

    names = ({"name": f"ТОВ «Навантаження {n:07d}»", "kind": "company"} for n in range(rows))
    with kernel.db.transaction() as session:
        session.info["audit"] = False
        insert_chunks(session, Counterparty.__table__, names, 10_000)
    add_user(kernel, "bench", superuser=True)
    kernel.db.dispose()


def sign_in(port: int) -> str:
    """Returns the session cookie of a signed-in superuser."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    response = conn.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf-token" content="([^"]+)"', page)
    body = urlencode({"login": "bench", "password": PASSWORD, "csrf_token": token.group(1)})
    conn.request(
        "POST",
        "/login",
        body,
        {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie", "").split(";")[0]


def hammer(port: int, path: str, cookie: str, seconds: float, clients: int) -> list[float]:
    timings: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        own = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            own.append(time.perf_counter() - started)
        with lock:
            timings.extend(own)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return timings


def main() -> None:
    parser = arguments(__doc__, runs=False)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parse(parser)
    backend = backend_of(args.database_url)
    with temporary_kernel("http", args.database_url, ["crm_base"]) as kernel:
        fill(kernel, args.rows)
        port = free_port()
        env = {
            **os.environ,
            "VITRYLO_DATABASE_URL": kernel.settings.database_url,
            "VITRYLO_SECRET_KEY": SECRET_KEY,
            "VITRYLO_INSTANCE_PATH": str(kernel.settings.instance_path),
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "core.wsgi:app",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            cookie = sign_in(port)
            print(
                f"{'page':<28} {'backend':<11} {'rows':>9} {'requests':>9} {'s':>5} "
                f"{'req/s':>8} {'median ms':>10} {'p95 ms':>8}"
            )
            for label, path in PAGES.items():
                hammer(port, path, cookie, 1.0, args.clients)  # warm both workers
                timings = hammer(port, path, cookie, args.seconds, args.clients)
                timings.sort()
                p95 = timings[int(len(timings) * 0.95) - 1] * 1000
                print(
                    f"{label:<28} {backend:<11} {args.rows:>9} {len(timings):>9} "
                    f"{args.seconds:>5.0f} {len(timings) / args.seconds:>8.1f} "
                    f"{statistics.median(timings) * 1000:>10.1f} {p95:>8.1f}"
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
