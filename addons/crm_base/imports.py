"""crm_base: importing counterparties and contact persons from CSV and XLSX files.

The flow: upload a file → map its columns (suggested from the header, in Ukrainian or
English) and pick what to do with rows matching a stored record → a preview of the first
rows with their problems → a dry run (what *would* happen) or the import itself, both run
as a long job with a progress bar → counts, likely duplicates found, and a CSV report of
the rejected rows with the reasons.

Why it is built this way:

- **Never half-applied.** The run has two passes. The first reads the file, checks every
  row (codes through :mod:`addons.crm_base.codes`), decides create / update / skip / reject
  for each (matches and duplicates looked up per batch of rows, from indexes) and writes
  the rows to apply to a spool file; nothing is written to the database. A dry run stops
  there. With "on error: import nothing" (the default), any rejected row stops the run
  there too. The second pass writes the spooled rows in one transaction (SQLite and
  PostgreSQL alike), so an error at any row leaves nothing behind; with "skip bad rows"
  each batch is committed on its own and a row the database refuses is rejected alone.
- **Bulk writes.** Rows go in with Core ``INSERT … RETURNING`` executemany per batch
  (ids in parameter order), channels and links with plain executemany, updates grouped by
  the columns they set; no ORM object per row. Row audit is off for the run
  (``session.info["audit"] = False``) and one summary entry is written instead.
- **Progress.** Each figure is a short transaction of the job's own session. On SQLite
  the writing transaction holds the only write lock, so while it is open (one-transaction
  mode) the bar shows "Writing…" and the figures move again at the end.
- **Files.** The upload lives under ``<instance>/imports/`` with a random name (never the
  web root), with a small JSON side file saying whose it is; only its owner reaches it.
  It is removed once imported; the report of rejected rows and unused uploads are removed
  after a day.

Routes on crm_base's blueprint, all behind ``crm_base.import.create``: ``/crm/import``
(upload), ``/crm/import/<token>`` (mapping, preview, start), ``/crm/import/<token>/jobs/
<job_id>`` (progress and result) and ``…/rejected.csv`` (the report).
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import csv
import io
import json
import logging
import os
import re
import secrets
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from flask import (
    Response,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from wtforms import RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from addons.crm_base import duplicates as dup
from addons.crm_base.codes import normalize_email, normalize_phone, normalize_tax_code
from addons.crm_base.contacts import normalize_website
from addons.crm_base.models import (
    PERSON_SUBJECT,
    SUBJECT,
    Address,
    Attribute,
    AttributeValue,
    Channel,
    Counterparty,
    Person,
    PersonLink,
    birth_key,
)
from addons.crm_base.persons import full_name_of
from addons.crm_base.views import bp
from core import audit
from core.db import set_write_intent, write_intent
from core.hooktypes import CardTab, TimelineEntry
from core.security import has_permission, require, rights_of, scope_filter
from core.ui.export import csv_stream
from core.ui.progress import advance, job_result, render_progress, run_in_thread, start_job
from core.ui.progress import visible_job as visible_progress_job
from core.web import db_session, kernel

log = logging.getLogger(__name__)
REFUSED = (IntegrityError, DataError)  # what the database says of a row it will not take

IMPORT = "crm_base.import.create"
BATCH = 1000
PREVIEW_ROWS = 10
MAX_COLUMNS = 60
MAX_CELL = 10_000
SAMPLES = 50  # duplicates and reasons shown on the result page
KEEP_SECONDS = 24 * 3600  # unused uploads and reports are removed after a day
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
EXTENSIONS = ("csv", "xlsx")
XLSX_WORKBOOK = "xl/workbook.xml"


class ImportRefused(ValueError):
    """A file that cannot be imported (the message is for the user)."""


# -- what can be imported -------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A field a column can be mapped to; ``aliases`` are header names (lower case,
    punctuation as spaces) that suggest it; ``multi``: several columns may feed it."""

    key: str
    label: Any
    aliases: str = ""  # "назва|найменування|name"
    multi: bool = False

    @property
    def names(self) -> set[str]:
        return {a for a in self.aliases.split("|") if a} | {header_key(self.label)}


PHONE = Target(
    "phone",
    _l("Phone"),
    "телефон|тел|телефони|мобільний|моб тел|phone|phones|mobile|tel",
    multi=True,
)
EMAIL = Target(
    "email",
    _l("E-mail"),
    "email|e mail|ел пошта|електронна пошта|пошта|емейл|мейл|mail",
    multi=True,
)
EXTERNAL_ID = Target(
    "external_id",
    _l("External id"),
    "id|зовнішній id|ідентифікатор|код клієнта|external id|ext id|external",
)
NOTES = Target("notes", _l("Notes"), "примітка|примітки|коментар|опис|notes|note|comment")

COUNTERPARTY_TARGETS = (
    Target(
        "name",
        _l("Name"),
        (
            "назва|найменування|назва компанії|назва організації|контрагент|"
            "компанія|організація|клієнт|name|company|company name|counterparty"
        ),
    ),
    Target(
        "tax_code",
        _l("Tax code (EDRPOU or RNOKPP)"),
        (
            "єдрпоу|код єдрпоу|код за єдрпоу|едрпоу|іпн|інн|рнокпп|код|"
            "податковий номер|tax code|tax id|edrpou"
        ),
    ),
    Target("kind", _l("Kind"), "тип|вид|тип контрагента|kind|type"),
    Target("relation", _l("Client or prospect"), "відношення|relation|client or prospect"),
    Target("status", _l("Status"), "статус|стан|status"),
    PHONE,
    EMAIL,
    Target("website", _l("Web site"), "сайт|вебсайт|веб сайт|website|web|url"),
    EXTERNAL_ID,
    Target("postal_code", _l("Postal code"), "індекс|поштовий індекс|zip|postal code"),
    Target("region", _l("Region"), "область|регіон|region|state"),
    Target("city", _l("City"), "місто|населений пункт|city|town"),
    Target("address", _l("Address"), "адреса|вулиця|address|street"),
    NOTES,
)
PERSON_TARGETS = (
    Target(
        "full_name",
        _l("Full name"),
        (
            "піб|п і б|прізвище ім я по батькові|контактна особа|особа|full name|"
            "name|contact|contact person"
        ),
    ),
    Target("last_name", _l("Last name"), "прізвище|last name|surname|family name"),
    Target("first_name", _l("First name"), "ім я|імя|first name|given name"),
    Target("middle_name", _l("Middle name"), "по батькові|middle name|patronymic"),
    Target(
        "birthday",
        _l("Birthday"),
        ("дата народження|день народження|народження|birthday|date of birth|birth date|dob"),
    ),
    Target("position", _l("Position"), "посада|position|job title|title"),
    PHONE,
    EMAIL,
    Target("address", _l("Address"), "адреса|address"),
    Target(
        "id_document",
        _l("Identity document"),
        "документ|паспорт|id document|passport|identity document",
    ),
    EXTERNAL_ID,
    Target(
        "counterparty",
        _l("Counterparty (name)"),
        (
            "компанія|контрагент|організація|назва компанії|company|counterparty|"
            "organization|organisation|company name"
        ),
    ),
    Target(
        "counterparty_tax_code",
        _l("Counterparty's tax code"),
        "єдрпоу|код єдрпоу|єдрпоу компанії|company tax code|edrpou|tax code",
    ),
    Target(
        "counterparty_external_id",
        _l("Counterparty's external id"),
        ("id компанії|id контрагента|company id|counterparty id|company external id"),
    ),
    Target("role", _l("Role at the counterparty"), "роль|role"),
    NOTES,
)


@dataclass(frozen=True)
class Kind:
    """What a file holds: counterparties or contact persons."""

    subject: str  # "counterparty" | "person": also Attribute.subject
    label: Any
    targets: tuple[Target, ...]
    required: tuple[str, ...]  # at least one of these must be mapped
    match_keys: tuple[str, ...]
    audit_subject: str
    scope_subject: str
    owner: Any
    update_permission: str


KINDS = {
    "counterparty": Kind(
        "counterparty",
        _l("Counterparties"),
        COUNTERPARTY_TARGETS,
        ("name",),
        ("tax_code", "email", "phone", "external_id"),
        Counterparty.__tablename__,
        SUBJECT,
        Counterparty.manager_id,
        "crm_base.counterparty.update",
    ),
    "person": Kind(
        "person",
        _l("Contact persons"),
        PERSON_TARGETS,
        ("full_name", "last_name"),
        ("email", "phone", "external_id"),
        Person.__tablename__,
        PERSON_SUBJECT,
        Person.manager_id,
        "crm_base.person.update",
    ),
}
MATCH_LABELS = {
    "tax_code": _l("Tax code"),
    "email": _l("E-mail"),
    "phone": _l("Phone"),
    "external_id": _l("External id"),
}


@dataclass(frozen=True)
class AttributeTarget:
    """An additional attribute (CL-4) as a mapping target: ``attr:<id>``."""

    id: int
    code: str
    label: str
    type: str
    required: bool
    choices: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"attr:{self.id}"


def attribute_targets(session: Session, subject: str) -> list[AttributeTarget]:
    rows = session.scalars(
        select(Attribute)
        .where(Attribute.subject == subject, Attribute.active.is_(True))
        .order_by(Attribute.sort, Attribute.id)
    )
    return [
        AttributeTarget(
            a.id,
            a.code,
            a.label,
            a.type,
            a.required,
            tuple(c.strip() for c in a.choices.splitlines() if c.strip()),
        )
        for a in rows
    ]


def header_key(text: Any) -> str:
    """A header as compared with the aliases: lower case, punctuation as single spaces."""
    return " ".join(re.sub(r"[\W_]+", " ", str(text or "").lower()).split())


def suggest_mapping(
    header: Sequence[Any], kind: Kind, attributes: Sequence[AttributeTarget] = ()
) -> dict[int, str]:
    """``{column: target key}`` guessed from the header: an exact alias (or attribute code
    or label) first, then a header containing an alias as a word or phrase."""
    taken: set[str] = set()
    multi = {t.key for t in kind.targets if t.multi}
    names = {t.key: t.names for t in kind.targets}
    names.update({a.key: {header_key(a.code), header_key(a.label)} for a in attributes})
    found: dict[int, str] = {}
    for strict in (True, False):
        for col, title in enumerate(header):
            text = header_key(title)
            if col in found or not text:
                continue
            for key, aliases in names.items():
                if key in taken and key not in multi:
                    continue
                hit = text in aliases if strict else any(f" {a} " in f" {text} " for a in aliases)
                if hit:
                    found[col] = key
                    taken.add(key)
                    break
    return found


# -- reading files --------------------------------------------------------------------


def _decodes_as_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(256 * 1024):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def sniff_csv(path: Path) -> tuple[str, str]:
    """(encoding, delimiter): UTF-8 with or without a BOM, else Windows-1251 (what
    Ukrainian Excel saves); ``;``, ``,`` or a tab, whichever the first line has most of
    outside quotes."""
    with path.open("rb") as handle:
        head = handle.read(64 * 1024)
    if b"\x00" in head:
        raise ImportRefused(_("This is not a CSV file."))
    if head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif _decodes_as_utf8(path):
        encoding = "utf-8"
    else:
        encoding = "cp1251"
    first = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()[:1]
    line = re.sub(r'"[^"]*"', "", first[0]) if first else ""
    counts = {d: line.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return encoding, delimiter


def _cell(value: Any) -> Any:
    """A cell as the row parser takes it: text trimmed (no NUL), numbers without a
    spurious ``.0``, dates as dates."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    if isinstance(value, date):
        return value
    return str(value).replace("\x00", "").strip()[:MAX_CELL]


def read_table(path: Path, ext: str, encoding: str = "", delimiter: str = "") -> Iterator[list]:
    """Every record of the file's first sheet (the header first), cells cleaned; blank
    records are yielded as ``[]`` so that row numbers stay those the user sees."""
    if ext == "csv":
        with path.open("r", encoding=encoding or "utf-8", newline="", errors="strict") as f:
            for record in csv.reader(f, delimiter=delimiter or ","):
                cells = [_cell(v) for v in record[:MAX_COLUMNS]]
                yield cells if any(c != "" for c in cells) else []
        return
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = book.worksheets[0]
        for record in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS):
            cells = [_cell(v) for v in record]
            while cells and cells[-1] == "":
                cells.pop()
            yield cells
    finally:
        book.close()


def count_records(path: Path, ext: str, encoding: str, delimiter: str) -> int:
    """How many data records the file has (for the progress bar): counted for a CSV
    file, read from the sheet's dimension for a workbook (reading it twice is slow)."""
    if ext == "xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            rows = book.worksheets[0].max_row
        finally:
            book.close()
        if rows:
            return max(0, rows - 1)
    return max(0, sum(1 for _ in read_table(path, ext, encoding, delimiter)) - 1)


# -- uploads --------------------------------------------------------------------------


@dataclass
class Upload:
    """An uploaded file waiting to be imported, as its side file describes it."""

    token: str
    user_id: int
    subject: str
    filename: str
    ext: str
    encoding: str = ""
    delimiter: str = ""
    header: list[str] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    imported: bool = False
    created: float = field(default_factory=time.time)

    @property
    def kind(self) -> Kind:
        return KINDS[self.subject]


def imports_dir(instance_path: str | None = None) -> Path:
    """``<instance>/imports``: outside the web root, owner-only."""
    folder = Path(instance_path or current_app.instance_path, "imports")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def data_path(folder: Path, upload: Upload) -> Path:
    return folder / f"{upload.token}.{upload.ext}"


def report_path(folder: Path, token: str, job_id: int) -> Path:
    return folder / f"{token}-{job_id}.rejected.csv"


def _meta_path(folder: Path, token: str) -> Path:
    return folder / f"{token}.json"


def save_meta(folder: Path, upload: Upload) -> None:
    target = _meta_path(folder, upload.token)
    temp = target.with_suffix(".tmp")
    temp.write_text(json.dumps(asdict(upload), ensure_ascii=False), encoding="utf-8")
    os.replace(temp, target)


def load_upload(token: str, user_id: int, folder: Path | None = None) -> Upload | None:
    """The upload ``token`` if it exists and ``user_id`` made it (else ``None``: 404)."""
    if not TOKEN_RE.match(token or ""):
        return None
    try:
        data = json.loads(_meta_path(folder or imports_dir(), token).read_text(encoding="utf-8"))
        upload = Upload(**data)
    except (OSError, ValueError, TypeError):
        return None
    return upload if upload.user_id == user_id and upload.subject in KINDS else None


def remove_stale(folder: Path, now: float | None = None) -> None:
    """Remove uploads, spools and reports older than a day (best effort)."""
    limit = (now or time.time()) - KEEP_SECONDS
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()


def _check_xlsx(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            if XLSX_WORKBOOK not in archive.namelist():
                raise ImportRefused(_("This is not an Excel (XLSX) workbook."))
    except zipfile.BadZipFile as exc:
        raise ImportRefused(_("This is not an Excel (XLSX) workbook.")) from exc


def store_upload(
    stream: IO[bytes], filename: str, subject: str, user_id: int, folder: Path
) -> Upload:
    """Keep an uploaded file under a random name and read its header (or refuse it)."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in EXTENSIONS:
        raise ImportRefused(_("Upload a CSV or an Excel (XLSX) file."))
    upload = Upload(secrets.token_hex(16), user_id, subject, Path(filename).name[:200], ext)
    path = data_path(folder, upload)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(256 * 1024):
            out.write(chunk)
    try:
        if path.stat().st_size == 0:
            raise ImportRefused(_("The file is empty."))
        if ext == "xlsx":
            _check_xlsx(path)
        else:
            upload.encoding, upload.delimiter = sniff_csv(path)
        header = next((r for r in read_table(path, ext, upload.encoding, upload.delimiter)), [])
        if not any(str(c) for c in header):
            raise ImportRefused(_("The first row must name the columns."))
        upload.header = [str(c)[:100] for c in header]
    except ImportRefused:
        path.unlink(missing_ok=True)
        raise
    except (UnicodeError, csv.Error, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        path.unlink(missing_ok=True)
        raise ImportRefused(_("The file could not be read: is it a CSV or XLSX file?")) from exc
    save_meta(folder, upload)
    return upload


# -- reading one row ------------------------------------------------------------------

KIND_WORDS = {
    "company": ("company", "компанія", "юрособа", "юридична особа", "організація", "юо"),
    "person": ("person", "фізособа", "фізична особа", "фоп", "фо", "приватна особа"),
}
RELATION_WORDS = {
    "client": ("client", "клієнт"),
    "prospect": ("prospect", "потенційний", "потенційний клієнт", "лід", "lead"),
}
STATUS_WORDS = {
    "active": ("active", "активний", "діючий", "так", "yes"),
    "inactive": ("inactive", "неактивний", "закритий", "архів", "ні", "no"),
}
YES = ("так", "yes", "true", "1", "+", "y", "т")
NO = ("ні", "no", "false", "0", "-", "n", "н")
DATE_FORMATS = ("%d.%m.%Y", "%Y-%m-%d", "%d/%m/%Y", "%d.%m.%y")
LIMITS = {
    "name": 300,
    "website": 255,
    "notes": 10_000,
    "external_id": 64,
    "postal_code": 10,
    "region": 100,
    "city": 100,
    "address": 300,  # a counterparty's address line; a person's holds 400
    "full_name": 310,
    "last_name": 100,
    "first_name": 100,
    "middle_name": 100,
    "position": 200,
    "id_document": 200,
    "counterparty": 300,
    "counterparty_external_id": 64,
    "role": 100,
}
SPLIT_CONTACTS = re.compile(r"[;,\n]+")


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "").strip()


def _word(value: str, words: dict[str, tuple[str, ...]], what: Any) -> str:
    text = header_key(value)
    for key, forms in words.items():
        if text in forms:
            return key
    raise ValueError(_("%(value)s is not a known %(what)s.", value=value, what=what))


def _phones(value: Any) -> list[str]:
    found = []
    for part in SPLIT_CONTACTS.split(_text(value)):
        text = part.strip()
        if not text:
            continue
        if text.isdigit() and len(text) == 12 and text.startswith("380"):
            text = f"+{text}"  # a number cell lost its plus
        phone = normalize_phone(text)
        if phone not in found:
            found.append(phone)
    return found


def _emails(value: Any) -> list[str]:
    found = []
    for part in SPLIT_CONTACTS.split(_text(value)):
        if part.strip():
            email = normalize_email(part)
            if email not in found:
                found.append(email)
    return found


def parse_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(_("%(value)s is not a date (dd.mm.yyyy).", value=text))


def _tax_code(value: Any) -> str:
    text = _text(value)
    if text.isdigit() and len(text) < 8:
        text = text.zfill(8)  # a number cell lost the leading zeros of an EDRPOU code
    return normalize_tax_code(text)


def _attribute(target: AttributeTarget, value: Any) -> list[str]:
    """``[column, value as text]`` of an additional attribute's value."""
    text = _text(value)
    if target.type == "number":
        try:
            number = Decimal(text.replace(" ", "").replace(",", "."))
        except InvalidOperation as exc:
            raise ValueError(_("%(value)s is not a number.", value=text)) from exc
        if not number.is_finite() or abs(number) >= 10**14:
            raise ValueError(_("%(value)s is not a number.", value=text))
        return ["value_number", str(number)]
    if target.type == "date":
        return ["value_date", parse_date(value).isoformat()]
    if target.type == "bool":
        lowered = text.lower()
        if lowered not in YES + NO:
            raise ValueError(_("%(value)s is not yes or no.", value=text))
        return ["value_bool", "1" if lowered in YES else ""]
    if target.type == "choice" and text not in target.choices:
        raise ValueError(_("%(value)s is not one of the choices.", value=text))
    return ["value_text", text[:500]]


@dataclass
class Row:
    """One data row of the file and what the import decided for it."""

    line: int
    cells: list[Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    action: str = ""  # create | update | skip | reject
    match_id: int | None = None
    duplicate_ids: list[int] = field(default_factory=list)
    duplicate_lines: list[int] = field(default_factory=list)

    def reject(self, what: Any, message: str) -> None:
        """Reject the row: ``what`` (a field's label, or the check) and why."""
        text = f"{what}: {message}"
        if text not in self.errors:
            self.errors.append(text)


class RowParser:
    """Turns the cells of a row into checked values by the column mapping."""

    def __init__(
        self, kind: Kind, mapping: dict[int, str], attributes: Sequence[AttributeTarget]
    ) -> None:
        self.kind = kind
        self.columns: dict[str, list[int]] = {}
        for col, key in sorted(mapping.items()):
            self.columns.setdefault(key, []).append(col)
        self.attributes = {a.key: a for a in attributes if a.key in self.columns}
        self.labels = {t.key: t.label for t in kind.targets}
        self.labels.update({a.key: a.label for a in attributes})

    def _values(self, cells: Sequence[Any], key: str) -> list[Any]:
        found = []
        for col in self.columns.get(key, ()):
            value = cells[col] if col < len(cells) else ""
            if value != "" and value is not None:
                found.append(value)
        return found

    def parse(self, line: int, cells: list[Any]) -> Row:
        row = Row(line, cells)
        for key in self.columns:
            raw = self._values(cells, key)
            if key in self.attributes:
                self._attribute(row, self.attributes[key], raw)
                continue
            if not raw:
                continue
            try:
                self._field(row.values, key, raw)
            except ValueError as exc:
                row.reject(self.labels.get(key, key), str(exc))
        self._complete(row)
        return row

    def _attribute(self, row: Row, target: AttributeTarget, raw: list[Any]) -> None:
        if not raw:
            if target.required:
                row.reject(target.label, _("a value is required."))
            return
        try:
            row.values.setdefault("attrs", {})[str(target.id)] = _attribute(target, raw[0])
        except ValueError as exc:
            row.reject(target.label, str(exc))

    def _field(self, values: dict[str, Any], key: str, raw: list[Any]) -> None:
        if key == "phone":
            values["phones"] = [p for v in raw for p in _phones(v)]
        elif key == "email":
            values["emails"] = [e for v in raw for e in _emails(v)]
        elif key in ("tax_code", "counterparty_tax_code"):
            values[key] = _tax_code(raw[0])
        elif key == "website":
            values[key] = normalize_website(_text(raw[0]))
        elif key == "kind":
            values[key] = _word(_text(raw[0]), KIND_WORDS, _("kind"))
        elif key == "relation":
            values[key] = _word(_text(raw[0]), RELATION_WORDS, _("relation"))
        elif key == "status":
            values[key] = _word(_text(raw[0]), STATUS_WORDS, _("status"))
        elif key == "birthday":
            day = parse_date(raw[0])
            if not date(1900, 1, 1) <= day <= date.today():
                raise ValueError(_("%(value)s is not a believable birthday.", value=day))
            values[key] = day.isoformat()
        else:
            text = _text(raw[0])
            limit = (
                400 if (key, self.kind.subject) == ("address", "person") else LIMITS.get(key, 300)
            )
            if len(text) > limit:
                raise ValueError(_("at most %(n)s characters.", n=limit))
            values[key] = text

    def _complete(self, row: Row) -> None:
        """Rules over several fields: a name is required; the kind follows the tax code."""
        values = row.values
        if self.kind.subject == "counterparty":
            if not values.get("name"):
                row.reject(self.labels["name"], _("a value is required."))
            if "kind" not in values and "tax_code" in values:
                values["kind"] = "person" if len(values["tax_code"]) == 10 else "company"
            return
        if values.get("full_name") and not values.get("last_name"):
            parts = values["full_name"].split()
            values["last_name"] = parts[0][:100]
            values.setdefault("first_name", " ".join(parts[1:2])[:100])
            values.setdefault("middle_name", " ".join(parts[2:])[:100])
        values.pop("full_name", None)
        if not values.get("last_name"):
            row.reject(self.labels["last_name"], _("a value is required."))


# -- deciding what to do with each row ------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What the user chose on the mapping page."""

    mode: str = "create"  # create | update | skip (rows matching a stored record)
    match_by: str = "tax_code"
    on_error: str = "abort"  # abort (import nothing) | skip (skip bad rows)


def _owner_column(kind: Kind) -> Any:
    return Channel.counterparty_id if kind.subject == "counterparty" else Channel.person_id


class Planner:
    """Decides create / update / skip / reject for batches of parsed rows, from indexed
    lookups per batch, and notes likely duplicates. Remembers the keys of earlier rows of
    the same file (a key twice is a mistake, not two records)."""

    def __init__(self, session: Session, kind: Kind, options: Options, user: Any) -> None:
        self.session = session
        self.kind = kind
        self.options = options
        self.user = user
        self.model = Counterparty if kind.subject == "counterparty" else Person
        self.seen: dict[tuple[str, str], int] = {}  # (key, value) → line
        self.names: dict[tuple[str, str], int] = {}  # (name | tax_code, value) → line
        self.name_cache: dict[str, list[int]] = {}

    # lookups: value → ids

    def _by_column(self, column: Any, values: Iterable[str]) -> dict[str, set[int]]:
        wanted = sorted(set(values))
        found: dict[str, set[int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for value, record_id in self.session.execute(
                select(column, self.model.id).where(column.in_(chunk))
            ):
                found.setdefault(value, set()).add(record_id)
        return found

    def _by_channel(self, kind: str, values: Iterable[str]) -> dict[str, set[int]]:
        owner = _owner_column(self.kind)
        wanted = sorted(set(values))
        found: dict[str, set[int]] = {}
        for start in range(0, len(wanted), 500):
            rows = self.session.execute(
                select(Channel.value, owner).where(
                    Channel.kind == kind,
                    Channel.value.in_(wanted[start : start + 500]),
                    owner.is_not(None),
                )
            )
            for value, record_id in rows:
                found.setdefault(value, set()).add(record_id)
        return found

    def _reachable(self, ids: Iterable[int]) -> set[int]:
        wanted = sorted(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), 500):
            stmt = select(self.model.id).where(self.model.id.in_(wanted[start : start + 500]))
            stmt = scope_filter(stmt, self.kind.scope_subject, self.kind.owner, self.user)
            found.update(self.session.scalars(stmt))
        return found

    @staticmethod
    def _keys(row: Row, key: str) -> list[str]:
        if key in ("email", "phone"):
            return list(row.values.get(f"{key}s", ()))
        value = row.values.get(key)
        return [value] if value else []

    def _lookup(self, rows: list[Row], key: str) -> dict[str, set[int]]:
        values = [v for r in rows for v in self._keys(r, key)]
        if key in ("email", "phone"):
            return self._by_channel(key, values)
        return self._by_column(getattr(self.model, key), values)

    # the steps

    def plan(self, rows: list[Row]) -> None:
        if self.kind.subject == "person":
            self._resolve_counterparties([r for r in rows if not r.errors])
        live = [r for r in rows if not r.errors]
        external = self._lookup(live, "external_id")
        matches = self._lookup(live, self.options.match_by) if self.options.mode != "create" else {}
        matched = {i for ids in matches.values() for i in ids}
        reach = self._reachable(matched) if matched else set()
        for row in live:
            self._decide(row, external, matches, reach)
        self._duplicates([r for r in rows if r.action == "create"])
        for row in rows:
            if row.errors:
                row.action = "reject"

    def _repeat(self, row: Row, key: str, values: Iterable[str]) -> None:
        """A key another row of the file already has: the second row is a mistake."""
        label = MATCH_LABELS[key]
        for value in values:
            first = self.seen.setdefault((key, value), row.line)
            if first != row.line:
                row.reject(label, _("%(value)s repeats row %(line)s.", value=value, line=first))

    def _decide(
        self,
        row: Row,
        external: dict[str, set[int]],
        matches: dict[str, set[int]],
        reach: set[int],
    ) -> None:
        mode = self.options.mode
        ids = {i for v in self._keys(row, self.options.match_by) for i in matches.get(v, ())}
        match_label = MATCH_LABELS[self.options.match_by]
        if len(ids) > 1:
            row.reject(match_label, _("matches %(n)s stored records, not one.", n=len(ids)))
            return
        match_id = next(iter(ids), None)
        if match_id is not None and mode == "skip":
            row.action, row.match_id = "skip", match_id
            return
        if match_id is not None and match_id not in reach:
            row.reject(match_label, _("matches a record you may not change."))
            return
        ext = row.values.get("external_id")
        owners = external.get(ext, set()) if ext else set()
        if owners - {match_id}:
            row.reject(MATCH_LABELS["external_id"], _("%(id)s belongs to another record.", id=ext))
        self._repeat(row, "external_id", [ext] if ext else [])
        if mode != "create" and self.options.match_by != "external_id":
            self._repeat(row, self.options.match_by, self._keys(row, self.options.match_by))
        if row.errors:
            return
        row.action, row.match_id = ("update", match_id) if match_id else ("create", None)

    def _resolve_counterparties(self, rows: list[Row]) -> None:
        """A person's counterparty by external id, tax code or exact name (one of them),
        among the counterparties the user reaches."""
        keys = (
            ("counterparty_external_id", Counterparty.external_id),
            ("counterparty_tax_code", Counterparty.tax_code),
            ("counterparty", Counterparty.name),
        )
        found: dict[str, dict[str, set[int]]] = {}
        for key, column in keys:
            values = {r.values[key] for r in rows if r.values.get(key)}
            if values:
                stmt_values = sorted(values)
                hits: dict[str, set[int]] = {}
                for start in range(0, len(stmt_values), 500):
                    stmt = select(column, Counterparty.id).where(
                        column.in_(stmt_values[start : start + 500])
                    )
                    stmt = scope_filter(stmt, SUBJECT, Counterparty.manager_id, self.user)
                    for value, record_id in self.session.execute(stmt):
                        hits.setdefault(value, set()).add(record_id)
                found[key] = hits
        for row in rows:
            key = next((k for k, _c in keys if row.values.get(k)), None)
            if key is None:
                continue
            ids = found.get(key, {}).get(row.values[key], set())
            label = _("Counterparty")
            if not ids:
                row.reject(
                    label, _("%(value)s is not among those you can see.", value=row.values[key])
                )
            elif len(ids) > 1:
                row.reject(label, _("several match %(value)s.", value=row.values[key]))
            else:
                row.values["counterparty_id"] = next(iter(ids))

    def _name_matches(self, names: list[str]) -> dict[str, list[int]]:
        """``{name: ids of stored counterparties with the same or a similar name}`` for a
        batch of names, looked up together (names met before come from a cache)."""
        wanted = {dup.normalize_name(n): n for n in names}
        new = [name for normalized, name in wanted.items() if normalized not in self.name_cache]
        for name, hits in zip(new, dup.name_matches_many(self.session, new), strict=True):
            self.name_cache[dup.normalize_name(name)] = [i for i, _n, _score in hits]
        return {n: self.name_cache[dup.normalize_name(n)] for n in names}

    def _duplicates(self, rows: list[Row]) -> None:
        """Likely duplicates of the rows to create: stored records with the same tax code,
        phone, e-mail or a very similar name (counterparties), the same phone or e-mail
        (persons), and earlier rows of the file with the same name or tax code."""
        if not rows:
            return
        channels = {
            k: self._by_channel(k, [v for r in rows for v in self._keys(r, k)])
            for k in ("phone", "email")
        }
        codes: dict[str, set[int]] = {}
        similar: dict[str, list[int]] = {}
        if self.kind.subject == "counterparty":
            codes = dup.tax_code_matches(self.session, [r.values.get("tax_code", "") for r in rows])
            similar = self._name_matches([r.values["name"] for r in rows])
        for row in rows:
            ids: set[int] = set(codes.get(row.values.get("tax_code", ""), ()))
            for kind, found in channels.items():
                for value in self._keys(row, kind):
                    ids.update(found.get(value, ()))
            if self.kind.subject == "counterparty":
                ids.update(similar[row.values["name"]])
                keys = [("name", dup.normalize_name(row.values["name"]))]
                keys.append(("tax_code", row.values.get("tax_code", "")))
                for key in keys:
                    first = self.names.setdefault(key, row.line) if key[1] else row.line
                    if first != row.line and first not in row.duplicate_lines:
                        row.duplicate_lines.append(first)
            row.duplicate_ids = sorted(ids)[:10]


# -- writing --------------------------------------------------------------------------

COUNTERPARTY_COLUMNS = (
    "name",
    "kind",
    "relation",
    "status",
    "tax_code",
    "website",
    "notes",
    "external_id",
)
PERSON_COLUMNS = (
    "last_name",
    "first_name",
    "middle_name",
    "birthday",
    "position",
    "address",
    "id_document",
    "notes",
    "external_id",
)
ADDRESS_PARTS = {
    "postal_code": "postal_code",
    "region": "region",
    "city": "city",
    "address": "line",
}
DEFAULTS = {"kind": "company", "relation": "prospect", "status": "active"}


def _chunks(items: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Writer:
    """Writes planned rows with bulk statements (see the module docstring)."""

    def __init__(self, session: Session, kind: Kind, user_id: int | None) -> None:
        self.session = session
        self.kind = kind
        self.user_id = user_id
        self.person = kind.subject == "person"
        self.table = (Person if self.person else Counterparty).__table__
        self.owner_key = "person_id" if self.person else "counterparty_id"

    def write(self, rows: list[Row]) -> None:
        creates = [r for r in rows if r.action == "create"]
        updates = [r for r in rows if r.action == "update"]
        if creates:
            self._create(creates)
        if updates:
            self._update(updates)
        self._channels(creates + updates)
        self._attributes(creates + updates)
        if self.person:
            self._links(creates + updates)
        else:
            self._addresses(creates + updates)

    # records

    def _record_values(self, row: Row, create: bool) -> dict[str, Any]:
        columns = PERSON_COLUMNS if self.person else COUNTERPARTY_COLUMNS
        values = {c: row.values[c] for c in columns if c in row.values}
        if "birthday" in values:
            day = date.fromisoformat(values["birthday"])
            values["birthday"], values["birth_key"] = day, birth_key(day)
        if not create:
            return values
        if self.person:
            parts = [row.values.get(k, "") for k in ("last_name", "first_name", "middle_name")]
            values["full_name"] = full_name_of(*parts)
            values.setdefault("birthday", None)
            values.setdefault("birth_key", None)
        else:
            for key, default in DEFAULTS.items():
                values.setdefault(key, default)
        for column in columns:
            if column not in values:
                values[column] = None if column in ("tax_code", "external_id", "birthday") else ""
        values["manager_id"] = self.user_id
        return values

    def _create(self, rows: list[Row]) -> None:
        params = [self._record_values(r, create=True) for r in rows]
        stmt = insert(self.table).returning(self.table.c.id, sort_by_parameter_order=True)
        ids = self.session.execute(stmt, params).scalars().all()
        for row, new_id in zip(rows, ids, strict=True):
            row.match_id = new_id

    def _update(self, rows: list[Row]) -> None:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        names = self._names([r.match_id for r in rows if self._renames(r)]) if self.person else {}
        for row in rows:
            values = self._record_values(row, create=False)
            if self.person and self._renames(row):
                old = names.get(row.match_id, ("", "", ""))
                parts = [
                    values.get(k, o)
                    for k, o in zip(("last_name", "first_name", "middle_name"), old, strict=True)
                ]
                values["full_name"] = full_name_of(*parts)
            groups.setdefault(tuple(sorted(values)), []).append(
                {"b_id": row.match_id, **{f"b_{k}": v for k, v in values.items()}}
            )
        table = self.table
        for keys, params in groups.items():
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({**{k: bindparam(f"b_{k}") for k in keys}, "version": table.c.version + 1})
            )
            self.session.execute(stmt, params)

    @staticmethod
    def _renames(row: Row) -> bool:
        return any(k in row.values for k in ("last_name", "first_name", "middle_name"))

    def _names(self, ids: list[Any]) -> dict[int, tuple[str, str, str]]:
        found = {}
        for chunk in _chunks(ids):
            for row in self.session.execute(
                select(Person.id, Person.last_name, Person.first_name, Person.middle_name).where(
                    Person.id.in_(chunk)
                )
            ):
                found[row.id] = (row.last_name, row.first_name, row.middle_name)
        return found

    # what hangs off a record

    def _existing(self, columns: Sequence[Any], where: Any) -> set[tuple[Any, ...]]:
        return {tuple(r) for r in self.session.execute(select(*columns).where(where))}

    def _channels(self, rows: list[Row]) -> None:
        owner = getattr(Channel, self.owner_key)
        old_ids = [r.match_id for r in rows if r.action == "update"]
        have: set[tuple[Any, ...]] = set()
        for chunk in _chunks(old_ids):
            have |= self._existing((owner, Channel.kind, Channel.value), owner.in_(chunk))
        has_kind = {(owner_id, kind) for owner_id, kind, _value in have}  # not a scan per row
        new = []
        for row in rows:
            for kind in ("phone", "email"):
                primary = (row.match_id, kind) not in has_kind if row.action == "update" else True
                for value in row.values.get(f"{kind}s", ()):
                    if (row.match_id, kind, value) in have:
                        continue
                    have.add((row.match_id, kind, value))
                    has_kind.add((row.match_id, kind))
                    new.append(
                        {
                            self.owner_key: row.match_id,
                            "kind": kind,
                            "value": value,
                            "label": "",
                            "is_primary": primary,
                        }
                    )
                    primary = False
        for chunk in _chunks(new, BATCH):
            self.session.execute(insert(Channel.__table__), chunk)

    def _addresses(self, rows: list[Row]) -> None:
        wanted = [r for r in rows if any(k in r.values for k in ADDRESS_PARTS)]
        if not wanted:
            return
        ids = [r.match_id for r in wanted if r.action == "update"]
        first: dict[int, int] = {}
        for chunk in _chunks(ids):
            for address_id, owner in self.session.execute(
                select(Address.id, Address.counterparty_id)
                .where(Address.counterparty_id.in_(chunk), Address.kind == "actual")
                .order_by(Address.id.desc())
            ):
                first[owner] = address_id
        new = []
        changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # by the parts given
        for row in wanted:
            parts = {
                col: row.values[key] for key, col in ADDRESS_PARTS.items() if key in row.values
            }
            if row.match_id in first:
                changed.setdefault(tuple(sorted(parts)), []).append(
                    {"b_id": first[row.match_id], **{f"b_{k}": v for k, v in parts.items()}}
                )
            else:
                blank = dict.fromkeys(ADDRESS_PARTS.values(), "")
                new.append({**blank, **parts, "counterparty_id": row.match_id, "kind": "actual"})
        if new:
            self.session.execute(insert(Address.__table__), new)
        table = Address.__table__
        for keys, params in changed.items():  # one executemany per set of parts, not per row
            stmt = (
                update(table)
                .where(table.c.id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in keys})
            )
            self.session.execute(stmt, params)

    def _attributes(self, rows: list[Row]) -> None:
        pairs, new = [], []
        for row in rows:
            for attr_id, (column, text) in row.values.get("attrs", {}).items():
                pairs.append((int(attr_id), row.match_id))
                values: dict[str, Any] = {
                    "value_text": None,
                    "value_number": None,
                    "value_date": None,
                    "value_bool": None,
                }
                if column == "value_number":
                    values[column] = Decimal(text)
                elif column == "value_date":
                    values[column] = date.fromisoformat(text)
                elif column == "value_bool":
                    values[column] = bool(text)
                else:
                    values[column] = text
                new.append({"attribute_id": int(attr_id), "record_id": row.match_id, **values})
        if not new:
            return
        for chunk in _chunks(pairs):
            self.session.execute(
                delete(AttributeValue)
                .where(tuple_(AttributeValue.attribute_id, AttributeValue.record_id).in_(chunk))
                .execution_options(synchronize_session=False)
            )
        for chunk in _chunks(new, BATCH):
            self.session.execute(insert(AttributeValue.__table__), chunk)

    def _links(self, rows: list[Row]) -> None:
        wanted = [r for r in rows if r.values.get("counterparty_id")]
        pairs = [(r.match_id, r.values["counterparty_id"]) for r in wanted]
        have: set[tuple[Any, ...]] = set()
        for chunk in _chunks([r.match_id for r in wanted if r.action == "update"]):
            have |= self._existing(
                (PersonLink.person_id, PersonLink.counterparty_id), PersonLink.person_id.in_(chunk)
            )
        new, roles = [], []
        for row, pair in zip(wanted, pairs, strict=True):
            role = row.values.get("role", "")
            if pair in have:
                if role:
                    roles.append({"b_person": pair[0], "b_counterparty": pair[1], "b_role": role})
                continue
            have.add(pair)
            new.append(
                {
                    "person_id": pair[0],
                    "counterparty_id": pair[1],
                    "role": role,
                    "is_primary": False,
                }
            )
        if roles:  # one executemany, not an UPDATE per row
            links = PersonLink.__table__
            self.session.execute(
                update(links)
                .where(
                    links.c.person_id == bindparam("b_person"),
                    links.c.counterparty_id == bindparam("b_counterparty"),
                )
                .values(role=bindparam("b_role")),
                roles,
            )
        for chunk in _chunks(new, BATCH):
            self.session.execute(insert(PersonLink.__table__), chunk)


# -- the job --------------------------------------------------------------------------


@dataclass
class Summary:
    """The figures of a run (the job's result, JSON)."""

    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    rejected: int = 0
    with_duplicates: int = 0
    applied: bool = False
    stopped: str = ""  # why nothing was written, when nothing was
    reasons: list[list[Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class ImportRun:
    """One dry run or import of an upload, run by the job (own sessions, no request)."""

    upload: Upload
    mapping: dict[int, str]
    options: Options
    user: Any
    folder: Path
    dry_run: bool
    data_factory: Callable[[], Session]
    messages: dict[str, str]
    attributes: list[AttributeTarget] = field(default_factory=list)

    def run(self, progress: Session, job_id: int) -> dict[str, Any]:
        started = time.perf_counter()
        summary = Summary(self.dry_run)
        source = data_path(self.folder, self.upload)
        spool = self.folder / f"{self.upload.token}-{job_id}.spool"
        report = report_path(self.folder, self.upload.token, job_id)
        total = count_records(source, self.upload.ext, self.upload.encoding, self.upload.delimiter)
        advance(progress, job_id, 0, self.messages["checking"], total=total)
        try:
            with self.data_factory() as data:
                self._check(data, progress, job_id, source, spool, report, summary)
                data.commit()  # the checks only read: end their transaction
                if self.dry_run:
                    return self._done(summary, started)
                if summary.rejected and self.options.on_error == "abort":
                    summary.stopped = "rejected"
                    return self._done(summary, started)
                self._write(data, progress, job_id, spool, report, summary)
        finally:
            spool.unlink(missing_ok=True)
        if summary.applied:
            source.unlink(missing_ok=True)  # imported: the file is no longer needed
            self.upload.imported = True
            save_meta(self.folder, self.upload)
        return self._done(summary, started)

    def _done(self, summary: Summary, started: float) -> dict[str, Any]:
        summary.seconds = round(time.perf_counter() - started, 3)
        return asdict(summary)

    # pass 1

    def _check(
        self,
        data: Session,
        progress: Session,
        job_id: int,
        source: Path,
        spool: Path,
        report: Path,
        summary: Summary,
    ) -> None:
        kind = self.upload.kind
        parser = RowParser(kind, self.mapping, self.attributes)
        planner = Planner(data, kind, self.options, self.user)
        reasons: Counter[str] = Counter()
        records = read_table(source, self.upload.ext, self.upload.encoding, self.upload.delimiter)
        header = next(records, [])
        rejected: list[list[Any]] = []
        with spool.open("w", encoding="utf-8") as out:

            def flush(batch: list[Row]) -> None:
                planner.plan(batch)
                for row in batch:
                    self._count(row, summary, reasons, rejected, out)
                summary.rows += len(batch)
                advance(progress, job_id, summary.rows, self.messages["checking"])

            batch: list[Row] = []
            for line, cells in enumerate(records, start=2):
                if cells:
                    batch.append(parser.parse(line, cells))
                if len(batch) == BATCH:
                    flush(batch)
                    batch = []
            if batch:
                flush(batch)
        summary.reasons = [[r, n] for r, n in reasons.most_common(10)]
        if rejected:
            write_report(report, header, rejected, self.messages)

    @staticmethod
    def _count(
        row: Row,
        summary: Summary,
        reasons: Counter[str],
        rejected: list[list[Any]],
        out: IO[str],
    ) -> None:
        if row.action == "reject":
            summary.rejected += 1
            reasons.update(e.split(": ", 1)[0] for e in row.errors)
            rejected.append([row.line, "; ".join(row.errors), *row.cells])
            return
        if row.action == "skip":
            summary.skipped += 1
            return
        if row.action == "create":
            summary.created += 1
        else:
            summary.updated += 1
        if row.duplicate_ids or row.duplicate_lines:
            summary.with_duplicates += 1
            if len(summary.duplicates) < SAMPLES:
                summary.duplicates.append(
                    {"line": row.line, "ids": row.duplicate_ids, "lines": row.duplicate_lines}
                )
        out.write(json.dumps([row.line, row.action, row.match_id, row.values], ensure_ascii=False))
        out.write("\n")

    # pass 2

    def _spooled(self, spool: Path) -> Iterator[list[Row]]:
        batch: list[Row] = []
        with spool.open(encoding="utf-8") as source:
            for text in source:
                line, action, match_id, values = json.loads(text)
                batch.append(Row(line, [], values, action=action, match_id=match_id))
                if len(batch) == BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _write(
        self,
        data: Session,
        progress: Session,
        job_id: int,
        spool: Path,
        report: Path,
        summary: Summary,
    ) -> None:
        kind = self.upload.kind
        writer = Writer(data, kind, self.user.id)
        one_transaction = self.options.on_error == "abort"
        # SQLite: the open writing transaction holds the write lock the figures need.
        live = not (one_transaction and data.get_bind().dialect.name == "sqlite")
        to_write = summary.created + summary.updated
        advance(progress, job_id, 0, self.messages["writing"], total=to_write)
        data.info["audit"] = False
        written, refused = 0, []
        try:
            with write_intent():
                for batch in self._spooled(spool):
                    if one_transaction:
                        writer.write(batch)
                    else:
                        refused += self._write_batch(data, writer, batch)
                        data.commit()
                    written += len(batch)
                    if live:
                        advance(progress, job_id, written, self.messages["writing"])
                for row in refused:
                    summary.rejected += 1
                    if row.action == "create":
                        summary.created -= 1
                    else:
                        summary.updated -= 1
                self._audit(data, job_id, summary)
                data.commit()
        except REFUSED:
            data.rollback()
            if not one_transaction:
                raise
            log.warning("import job %s: a row conflicts with data saved meanwhile", job_id)
            summary.stopped = "conflict"
            return
        finally:
            data.info.pop("audit", None)
        summary.applied = True
        if refused:
            append_report(report, refused, self.messages)

    def _write_batch(self, data: Session, writer: Writer, batch: list[Row]) -> list[Row]:
        """Skip-bad-rows mode: the batch in a savepoint; if the database refuses it, row
        by row, rejecting those it refuses (with the reason)."""
        try:
            with data.begin_nested():
                writer.write(batch)
            return []
        except REFUSED:
            pass
        refused = []
        for row in batch:
            action, match_id = row.action, row.match_id
            try:
                with data.begin_nested():
                    writer.write([row])
            except REFUSED:
                row.action, row.match_id = action, match_id
                row.errors = [f"{self.messages['database']}: {self.messages['conflict']}"]
                refused.append(row)
        return refused

    def _audit(self, data: Session, job_id: int, summary: Summary) -> None:
        audit.record(
            data,
            "import",
            self.upload.kind.audit_subject,
            "",
            file=self.upload.filename,
            job=job_id,
            mode=self.options.mode,
            match_by=self.options.match_by,
            on_error=self.options.on_error,
            created=summary.created,
            updated=summary.updated,
            skipped=summary.skipped,
            rejected=summary.rejected,
        )


def write_report(
    path: Path, header: Sequence[Any], rows: Iterable[Sequence[Any]], messages: dict[str, str]
) -> None:
    """The rejected rows with their reasons: CSV for Excel (UTF-8 with BOM, ``;``)."""
    head = [messages["row"], messages["reasons"], *(str(h) for h in header)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in csv_stream(head, rows):
            out.write(chunk)


def append_report(path: Path, rows: list[Row], messages: dict[str, str]) -> None:
    """Rows the database refused in skip-bad-rows mode, added to the report."""
    if not path.exists():
        write_report(path, [], [], messages)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([row.line, "; ".join(row.errors)])
    with path.open("a", encoding="utf-8", newline="") as out:
        out.write(buffer.getvalue())


# -- pages ----------------------------------------------------------------------------


class UploadForm(FlaskForm):
    subject = RadioField(
        _l("What the file holds"),
        choices=[SelectChoice(k.subject, k.label) for k in KINDS.values()],
        default="counterparty",
        validators=[InputRequired()],
    )
    file = FileField(_l("CSV or Excel (XLSX) file"), validators=[InputRequired()])


class OptionsForm(FlaskForm):
    mode = RadioField(
        _l("Rows matching a stored record"),
        choices=[
            SelectChoice("create", _l("Create new records anyway")),
            SelectChoice("update", _l("Update the matching record")),
            SelectChoice("skip", _l("Skip them")),
        ],
        default="create",
    )
    match_by = SelectField(
        _l("Match by"),
        choices=[SelectChoice(k, v) for k, v in MATCH_LABELS.items()],
        default="tax_code",
    )
    on_error = RadioField(
        _l("If some rows have errors"),
        choices=[
            SelectChoice("abort", _l("Import nothing (the rows with errors are listed)")),
            SelectChoice("skip", _l("Skip the bad rows and import the others")),
        ],
        default="abort",
    )


def mapping_form(upload: Upload, attributes: Sequence[AttributeTarget]) -> Any:
    """The mapping page's form: one select per column (suggested from its header), then
    the options. Built per upload, as the columns are the file's."""
    kind = upload.kind
    choices = [SelectChoice("", _("— do not import —"))]
    choices += [SelectChoice(t.key, str(t.label)) for t in kind.targets]
    choices += [SelectChoice(a.key, a.label) for a in attributes]
    suggested = suggest_mapping(upload.header, kind, attributes)

    class MappingForm(OptionsForm):
        pass

    for col, title in enumerate(upload.header):
        label = title or _("Column %(n)s", n=col + 1)
        setattr(
            MappingForm,
            f"col_{col}",
            SelectField(label, choices=choices, default=suggested.get(col, "")),
        )
    form = MappingForm()
    if kind.subject == "person":
        form.match_by.choices = [
            SelectChoice(k, v) for k, v in MATCH_LABELS.items() if k in kind.match_keys
        ]
        if not form.is_submitted():
            form.match_by.data = kind.match_keys[0]
    return form


def column_fields(form: Any, upload: Upload) -> list[Any]:
    return [getattr(form, f"col_{col}") for col in range(len(upload.header))]


def mapping_of(form: Any, upload: Upload) -> dict[int, str]:
    return {col: f.data for col, f in enumerate(column_fields(form, upload)) if f.data}


def check_mapping(form: Any, upload: Upload, attributes: Sequence[AttributeTarget]) -> bool:
    """The mapping and options make sense (else messages next to the fields)."""
    kind = upload.kind
    ok = True
    mapping = mapping_of(form, upload)
    used = Counter(mapping.values())
    multi = {t.key for t in kind.targets if t.multi}
    for field_ in column_fields(form, upload):
        if field_.data and used[field_.data] > 1 and field_.data not in multi:
            field_.errors = [*field_.errors, _("Another column is mapped to this field too.")]
            ok = False
    if not set(kind.required) & set(mapping.values()):
        labels = ", ".join(str(t.label) for t in kind.targets if t.key in kind.required)
        form.mode.errors = [*form.mode.errors, _("Map a column to: %(fields)s.", fields=labels)]
        ok = False
    if form.mode.data != "create":
        if form.match_by.data not in kind.match_keys:
            form.match_by.errors = [_("Contact persons are matched by e-mail, phone or id.")]
            ok = False
        elif form.match_by.data not in mapping.values():
            form.match_by.errors = [_("Map a column to this field to match by it.")]
            ok = False
    if form.mode.data == "update" and not has_permission(kind.update_permission):
        form.mode.errors = [*form.mode.errors, _("You may not change existing records.")]
        ok = False
    return ok


def _options(form: Any) -> Options:
    return Options(form.mode.data, form.match_by.data, form.on_error.data)


def _upload_or_404(token: str) -> Upload:
    upload = load_upload(token, current_user.id)
    if upload is None:
        abort(404)
    return upload


def preview(
    upload: Upload, mapping: dict[int, str], options: Options, attributes: Sequence[AttributeTarget]
) -> list[Row]:
    """The first rows, checked and planned as the run would (nothing is written)."""
    path = data_path(imports_dir(), upload)
    if not path.exists():
        return []
    parser = RowParser(upload.kind, mapping, attributes)
    rows = []
    records = read_table(path, upload.ext, upload.encoding, upload.delimiter)
    next(records, None)
    for line, cells in enumerate(records, start=2):
        if cells:
            rows.append(parser.parse(line, cells))
        if len(rows) == PREVIEW_ROWS:
            break
    Planner(db_session(), upload.kind, options, current_user).plan(rows)
    return rows


@bp.route("/import", methods=["GET", "POST"])
@require(IMPORT)
def import_start() -> ResponseReturnValue:
    """Step 1: upload the file and say what it holds."""
    form = UploadForm()
    if form.validate_on_submit():
        folder = imports_dir()
        remove_stale(folder)
        upload_file = form.file.data
        try:
            upload = store_upload(
                upload_file.stream,
                upload_file.filename or "",
                form.subject.data,
                current_user.id,
                folder,
            )
        except ImportRefused as exc:
            form.file.errors = [str(exc)]
        else:
            return redirect(url_for("crm_base.import_mapping", token=upload.token), 303)
    return render_template(
        "crm_base/import_start.html", form=form, breadcrumbs=[(_("Import"), None)]
    ), (400 if form.errors else 200)


MESSAGES = {
    "checking": _l("Checking rows"),
    "writing": _l("Writing"),
    "database": _l("Database"),
    "conflict": _l("the row conflicts with a stored record."),
    "row": _l("Row"),
    "reasons": _l("Reasons"),
}


def _start(
    upload: Upload,
    mapping: dict[int, str],
    options: Options,
    attributes: list[AttributeTarget],
    dry_run: bool,
) -> ResponseReturnValue:
    """Start the dry run or the import as a job, and go to its page."""
    folder = imports_dir()
    if not dry_run and (upload.imported or any(_running(j) for j in upload.jobs)):
        flash(_("This file is being imported or has been imported already."), "warning")
        return redirect(url_for("crm_base.import_mapping", token=upload.token), 303)
    if not data_path(folder, upload).exists():
        flash(_("The uploaded file is gone; upload it again."), "warning")
        return redirect(url_for("crm_base.import_start"), 303)
    db = db_session()
    kind = "crm_base.import_check" if dry_run else "crm_base.import"
    job = start_job(db, kind, current_user.id, message=_("Waiting to start"))
    upload.jobs.append(job.id)
    save_meta(folder, upload)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    locale = str(get_locale())
    user = current_user._get_current_object()  # type: ignore[attr-defined]
    rights = rights_of(user)  # the job checks the scope with the rights of its start
    run = ImportRun(
        upload,
        mapping,
        options,
        user,
        folder,
        dry_run,
        kernel().db.session_factory,
        {k: str(v) for k, v in MESSAGES.items()},
        attributes,
    )

    def work(progress: Session, job_id: int) -> dict[str, Any]:
        """In the user's language, as the user (audit), in a context of its own."""

        def inner() -> dict[str, Any]:
            # inline (tests): the request's own context, where the user is signed in
            scope = contextlib.nullcontext() if has_app_context() else app.app_context()
            with scope, force_locale(locale):
                g.setdefault("vitrylo_rights", {})[user.id] = rights
                audit.set_actor(user.id)
                set_write_intent(False)  # reads stay readers; the writing pass says so
                try:
                    return run.run(progress, job_id)
                finally:
                    if not inline:
                        kernel().db.session.remove()  # this thread's session

        return contextvars.copy_context().run(inner)

    inline = bool(current_app.config.get("VITRYLO_JOBS_INLINE"))

    run_in_thread(
        kernel().db.session_factory,
        job.id,
        work,
        inline=inline,
        failed_message=_("The import failed; nothing was changed. The error has been logged."),
    )
    return redirect(url_for("crm_base.import_job", token=upload.token, job_id=job.id), 303)


def _running(job_id: int) -> bool:
    job = visible_progress_job(db_session(), job_id, current_user)
    return job is not None and job.state not in ("done", "failed")


@bp.route("/import/<token>", methods=["GET", "POST"])
@require(IMPORT)
def import_mapping(token: str) -> ResponseReturnValue:
    """Step 2: map the columns, choose the options, preview, then check or import."""
    upload = _upload_or_404(token)
    attributes = attribute_targets(db_session(), upload.subject)
    posted = request.method == "POST"
    form = mapping_form(upload, attributes)
    status = 200
    if posted:
        if not form.validate_on_submit() or not check_mapping(form, upload, attributes):
            status = 400
        elif request.form.get("action") in ("dry_run", "run"):
            return _start(
                upload,
                mapping_of(form, upload),
                _options(form),
                attributes,
                request.form["action"] == "dry_run",
            )
    rows = (
        preview(upload, mapping_of(form, upload), _options(form), attributes)
        if status == 200
        else []
    )
    return render_template(
        "crm_base/import_mapping.html",
        form=form,
        upload=upload,
        columns=column_fields(form, upload),
        rows=rows,
        imported=upload.imported,
        breadcrumbs=[(_("Import"), url_for("crm_base.import_start")), (upload.filename, None)],
    ), status


def _job_or_404(upload: Upload, job_id: int) -> Any:
    job = (
        visible_progress_job(db_session(), job_id, current_user) if job_id in upload.jobs else None
    )
    if job is None:
        abort(404)
    return job


def _duplicate_names(result: dict[str, Any]) -> dict[int, str]:
    """Names of the stored duplicates the user may see (one query)."""
    ids = {i for sample in result.get("duplicates", []) for i in sample["ids"]}
    if not ids:
        return {}
    if result.get("subject") == "person":
        stmt = select(Person.id, Person.full_name).where(Person.id.in_(ids))
        stmt = scope_filter(stmt, PERSON_SUBJECT, Person.manager_id)
    else:
        stmt = select(Counterparty.id, Counterparty.name).where(Counterparty.id.in_(ids))
        stmt = scope_filter(stmt, SUBJECT, Counterparty.manager_id)
    return {row[0]: row[1] for row in db_session().execute(stmt)}


@bp.get("/import/<token>/jobs/<int:job_id>")
@require(IMPORT)
def import_job(token: str, job_id: int) -> ResponseReturnValue:
    """Step 3: the job's progress, then what it did (htmx re-fetches the result part)."""
    upload = _upload_or_404(token)
    job = _job_or_404(upload, job_id)
    result = job_result(job) if job.state == "done" else None
    if result is not None:
        result["subject"] = upload.subject
    context = {
        "upload": upload,
        "job": job,
        "result": result,
        "names": _duplicate_names(result or {}),
        "report": report_path(imports_dir(), token, job_id).exists(),
        "kind_url": url_for(
            "crm_base.counterparties" if upload.subject == "counterparty" else "crm_base.persons"
        ),
    }
    if request.headers.get("HX-Request") == "true":
        response = Response(render_template("crm_base/import_result.html", **context))
    else:
        response = Response(
            render_template(
                "crm_base/import_job.html",
                progress=render_progress(
                    job, _("Dry run") if job.kind.endswith("_check") else _("Import")
                ),
                breadcrumbs=[
                    (_("Import"), url_for("crm_base.import_start")),
                    (upload.filename, url_for("crm_base.import_mapping", token=token)),
                    (_("Result"), None),
                ],
                **context,
            )
        )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/import/<token>/jobs/<int:job_id>/rejected.csv")
@require(IMPORT)
def import_report(token: str, job_id: int) -> ResponseReturnValue:
    """The rejected rows of a run with their reasons (CSV for Excel)."""
    upload = _upload_or_404(token)
    _job_or_404(upload, job_id)
    path = report_path(imports_dir(), token, job_id)
    if not path.exists():
        abort(404)
    stem = Path(upload.filename).stem[:60] or "import"
    response = send_file(
        path,
        mimetype="text/csv; charset=utf-8",
        as_attachment=True,
        download_name=f"{stem}-rejected.csv",
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Imports are audited as one summary entry; they add nothing to a chronology."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The import has no card tab."""
    return []
