#!/usr/bin/env python3
"""PDF benchmark: documents with long tables through the printing path (core.printing).

Not a test: it measures and prints a table. Each document is rendered in a fresh Python
process, so the peak resident memory is that document's, not the largest so far.

    .venv/bin/python bench/bench_pdf.py                        # 1,000 and 5,000 rows
    .venv/bin/python bench/bench_pdf.py --rows 1000 2000 5000 --styles list

Each row is an invoice line (№, name, unit, quantity, price, sum; six columns) in the
sample document ``core/print/table.html``. Two table styles are measured: ``list`` (a
line under each row) and ``grid`` (every cell boxed), because ReportLab carries each
cell's border commands along at every page split, which makes a boxed table's cost grow
with rows × pages. The render goes through :func:`core.printing.render_pdf` with the
bundled font, header, footer and "page X of Y" (two layout passes), as the route does.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import peak_rss_mb, report, run_child

COLUMNS = [
    {"label": "№", "width": "6%", "num": True},
    {"label": "Найменування", "width": "43%", "num": False},
    {"label": "Од.", "width": "7%", "num": False},
    {"label": "Кількість", "width": "12%", "num": True},
    {"label": "Ціна без ПДВ", "width": "16%", "num": True},
    {"label": "Сума", "width": "16%", "num": True},
]


def _rows(count: int) -> tuple[list[tuple[object, ...]], Decimal]:
    from core.money import format_uah

    rows, total = [], Decimal("0")
    for n in range(1, count + 1):
        quantity, price = Decimal(n % 7 + 1), Decimal(f"{n % 997 + 1}.{n % 100:02d}")
        amount = quantity * price
        total += amount
        name = f"Товар {n}: ґудзик латунний, їжакоподібний, «Вітрило»"
        rows.append((n, name, "шт", quantity, format_uah(price), format_uah(amount)))
    return rows, total


def child(count: int, style: str) -> dict[str, float | int | str]:
    """Render one document in this process and measure it."""
    from flask import Flask
    from flask_babel import Babel
    from pypdf import PdfReader

    from core.printing import render_pdf

    app = Flask("core.app")  # core/templates and core/static, as in the real app
    Babel(app)
    rows, total = _rows(count)
    context = {"columns": COLUMNS, "rows": rows, "total": total, "table_class": style}
    with app.test_request_context():
        wall, cpu = time.perf_counter(), time.process_time()
        pdf = render_pdf("core/print/table.html", context, title="Реєстр", max_seconds=3600)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    return {
        "rows": count,
        "style": style,
        "pages": pages,
        "seconds": wall,
        "cpu": cpu,
        "peak_mb": peak_rss_mb(),
        "kb": len(pdf) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--styles", nargs="+", default=["list", "grid"], choices=["list", "grid"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report(child(int(args.child[0]), args.child[1]))
        return

    header = (
        f"{'rows':>6} {'style':<5} {'pages':>5} {'seconds':>8} {'cpu s':>7} "
        f"{'rows/s':>7} {'peak RSS MB':>11} {'PDF KB':>7}"
    )
    print(header)
    print("-" * len(header))
    for count in args.rows:
        for style in args.styles:
            r, _wall = run_child(__file__, str(count), style)
            print(
                f"{r['rows']:>6} {r['style']:<5} {r['pages']:>5} {r['seconds']:>8.1f} "
                f"{r['cpu']:>7.1f} {r['rows'] / r['seconds']:>7.0f} {r['peak_mb']:>11.0f} "
                f"{r['kb']:>7.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
