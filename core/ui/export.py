"""Exporting a list to CSV and XLSX, streamed so a million rows never sit in memory.

Both writers take an iterator of rows and yield bytes: the caller (the list view) reads the
rows from a server-side cursor, so memory stays bounded whatever the size of the export.

Every text cell goes through :func:`safe_text`: a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is a formula to a spreadsheet ("CSV injection"), so it is
prefixed with ``'``, which spreadsheets read as "this is text".
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_DELIMITERS = {"semicolon": ";", "comma": ","}
CSV_CHUNK_ROWS = 500
FILE_CHUNK_BYTES = 64 * 1024
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, the header row included
BOM = "\ufeff"  # lets Excel open UTF-8 (Cyrillic) CSV files right


def safe_text(text: str) -> str:
    """``text`` a spreadsheet will show as text, never evaluate as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)  # a number is never a formula, even a negative one
    return safe_text(str(value))


def csv_stream(
    header: Sequence[str], rows: Iterable[Sequence[Any]], delimiter: str = ";"
) -> Iterator[bytes]:
    """CSV as UTF-8 with a byte-order mark, yielded in chunks of a few hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([safe_text(str(h)) for h in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([_csv_text(v) for v in row])
        if count % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(ILLEGAL_CHARACTERS_RE.sub("", value))
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; the caller converted
    if value is None or isinstance(value, bool | int | float | Decimal | date | time):
        return value
    return safe_text(ILLEGAL_CHARACTERS_RE.sub("", str(value)))


def xlsx_stream(
    header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "Export"
) -> Iterator[bytes]:
    """An XLSX workbook written with openpyxl's write-only mode, then streamed from disk.

    A zip file cannot be sent before it is finished, so the workbook goes to a temporary
    file (write-only mode keeps memory flat) and is then yielded in chunks.
    """
    with tempfile.TemporaryFile() as fh:
        book = Workbook(write_only=True)
        sheet = book.create_sheet(title=_sheet_title(title))
        sheet.append([_xlsx_value(str(h)) for h in header])
        for count, row in enumerate(rows, start=2):
            if count > XLSX_MAX_ROWS:
                break
            sheet.append([_xlsx_value(v) for v in row])
        book.save(fh)
        fh.seek(0)
        while chunk := fh.read(FILE_CHUNK_BYTES):
            yield chunk


def _sheet_title(title: str) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of ``[]:*?/\\``."""
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\").strip()
    return cleaned[:31] or "Export"
