"""Files attached to any record: checked by content, stored outside the web root.

Why it is built this way:

- **Type by content, not by name.** A name is whatever the sender typed: an ``.exe`` renamed
  ``invoice.pdf`` must not reach a colleague as a PDF. The first bytes (and, for office
  files, the ZIP's ``mimetype`` or ``[Content_Types].xml`` member, for legacy office files
  the OLE directory) say what a file is; it is accepted only when that agrees with its
  extension, and the stored content type is the one the content proved.
- **Outside the web root**, under ``<instance>/attachments/<2 chars>/<random key>``: the
  name on disk is never the user's, so no path tricks, no clashes, and the web server can
  never serve a file by itself. Files go out only through a view that checks the right and
  the record scope, always as downloads (``Content-Disposition: attachment``, ``nosniff``).
- **A row never points at a missing file.** Upload: write to a temporary name (hashing and
  counting on the way), flush the row, rename the file into place, commit; any failure
  rolls the row back and removes the file. Deletion: commit the row's removal, then remove
  the file. The worst a crash can leave is an orphan file nobody can reach, never a row
  whose download fails.
- **Rules per kind of record.** The routes are the core's (one place to get the checks
  right); an addon registers, for its subject (``crm_base.counterparty``), which rights read
  and write attachments and how to tell whether the user reaches a record
  (:func:`register`, :func:`scoped_reach`).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
import secrets
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.models import Attachment
from core.security import has_permission, scope_filter

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_BYTES_SETTING = "ATTACHMENT_MAX_BYTES"  # app config (VITRYLO settings with upper-case keys)
PATH_SETTING = "ATTACHMENTS_PATH"  # default: <instance>/attachments
CHUNK = 64 * 1024
MAX_NAME = 255
MAX_ZIP_MEMBER = 1024 * 1024  # [Content_Types].xml is a few KB; more is not an office file
SUBJECT_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
SUBJECT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}$")

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODT = b"application/vnd.oasis.opendocument.text"
ODS = b"application/vnd.oasis.opendocument.spreadsheet"
DOCX_PART = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
XLSX_PART = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
# OLE directory entries name their streams in UTF-16LE, NUL-terminated.
WORD_STREAM = "WordDocument\0".encode("utf-16-le")
EXCEL_STREAMS = ("Workbook\0".encode("utf-16-le"), "Book\0".encode("utf-16-le"))


class AttachmentRefused(ValueError):
    """An upload that cannot be accepted; the message (translated) tells the user why."""


@dataclass(frozen=True)
class FileKind:
    """A type of file we accept: what its content proves, what its name must end in."""

    label: str | LazyString
    content_type: str
    extensions: tuple[str, ...]


KINDS: dict[str, FileKind] = {
    "pdf": FileKind("PDF", "application/pdf", (".pdf",)),
    "png": FileKind("PNG", "image/png", (".png",)),
    "jpeg": FileKind("JPEG", "image/jpeg", (".jpg", ".jpeg")),
    "gif": FileKind("GIF", "image/gif", (".gif",)),
    "webp": FileKind("WebP", "image/webp", (".webp",)),
    "docx": FileKind(
        "Word (DOCX)",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (".docx",),
    ),
    "xlsx": FileKind(
        "Excel (XLSX)",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        (".xlsx",),
    ),
    "odt": FileKind("OpenDocument (ODT)", ODT.decode(), (".odt",)),
    "ods": FileKind("OpenDocument (ODS)", ODS.decode(), (".ods",)),
    "doc": FileKind("Word (DOC)", "application/msword", (".doc",)),
    "xls": FileKind("Excel (XLS)", "application/vnd.ms-excel", (".xls",)),
    "txt": FileKind(_l("plain text"), "text/plain; charset=utf-8", (".txt",)),
    "csv": FileKind("CSV", "text/csv; charset=utf-8", (".csv",)),
}
EXTENSIONS = {ext: name for name, kind in KINDS.items() for ext in kind.extensions}


# -- what a file is --------------------------------------------------------------------


def sniff(path: Path) -> frozenset[str]:
    """The kinds (keys of :data:`KINDS`) the file's content matches; empty if none."""
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"%PDF-"):
        return frozenset({"pdf"})
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return frozenset({"png"})
    if head.startswith(b"\xff\xd8\xff"):
        return frozenset({"jpeg"})
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return frozenset({"gif"})
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return frozenset({"webp"})
    if head.startswith(b"PK\x03\x04"):
        return _zip_kinds(path)
    if head.startswith(OLE_MAGIC):
        return _ole_kinds(path)
    if _is_utf8_text(path):
        return frozenset({"txt", "csv"})
    return frozenset()


def _zip_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """A small member's bytes, or b"" if it is missing or too big to be what we look for."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        return b""
    return zf.read(info) if info.file_size <= MAX_ZIP_MEMBER else b""


def _zip_kinds(path: Path) -> frozenset[str]:
    """Office files are ZIPs: ODF names itself in ``mimetype``, OOXML in its content types.

    A plain ZIP (or a macro-enabled DOCM/XLSM) is none of the kinds we accept.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            mimetype = _zip_member(zf, "mimetype").strip()
            if mimetype == ODT:
                return frozenset({"odt"})
            if mimetype == ODS:
                return frozenset({"ods"})
            types = _zip_member(zf, "[Content_Types].xml")
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, zlib.error, EOFError):
        return frozenset()
    if DOCX_PART in types:
        return frozenset({"docx"})
    if XLSX_PART in types:
        return frozenset({"xlsx"})
    return frozenset()


def _ole_kinds(path: Path) -> frozenset[str]:
    """Legacy DOC and XLS are OLE containers; the stream names tell Word from Excel.

    Other OLE files (an ``.msi`` installer, Outlook messages) have neither stream.
    """
    found = _contains(path, (WORD_STREAM, *EXCEL_STREAMS))
    kinds = set()
    if WORD_STREAM in found:
        kinds.add("doc")
    if found & set(EXCEL_STREAMS):
        kinds.add("xls")
    return frozenset(kinds)


def _contains(path: Path, needles: Iterable[bytes]) -> set[bytes]:
    """Which of ``needles`` occur in the file, read in chunks (files may be large)."""
    wanted = set(needles)
    overlap = max(len(n) for n in wanted) - 1
    found: set[bytes] = set()
    tail = b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            buf = tail + chunk
            found |= {n for n in wanted - found if n in buf}
            tail = buf[-overlap:]
    return found


def _is_utf8_text(path: Path) -> bool:
    """Plain text and CSV: valid UTF-8 throughout, and no NUL (binaries are full of them)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                if b"\x00" in chunk:
                    return False
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def allowed_extensions() -> str:
    """The extensions we accept, for messages and the upload field's ``accept``."""
    return ", ".join(sorted(EXTENSIONS))


def check_content(path: Path, filename: str) -> FileKind:
    """The kind of file at ``path`` if its content agrees with ``filename``'s extension."""
    ext = Path(filename).suffix.lower()
    expected = EXTENSIONS.get(ext)
    if expected is None:
        raise AttachmentRefused(
            _(
                "Files of this type are not accepted. Accepted: %(exts)s.",
                exts=allowed_extensions(),
            )
        )
    if expected not in sniff(path):
        raise AttachmentRefused(
            _(
                "The file's content is not %(kind)s, though its name ends in %(ext)s. "
                "It was not attached.",
                kind=KINDS[expected].label,
                ext=ext,
            )
        )
    return KINDS[expected]


# -- names ----------------------------------------------------------------------------


def clean_filename(name: str) -> str:
    """The name to keep: no folders, no control characters, at most 255 characters.

    Some browsers send the full path (``C:\\Users\\...``); only the last part is the name.
    """
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if len(name) > MAX_NAME:
        stem, ext = os.path.splitext(name)
        ext = ext if len(ext) <= 16 else ""
        name = stem[: MAX_NAME - len(ext)] + ext
    return name


def content_disposition(filename: str, fallback_stem: str = "attachment") -> str:
    """``attachment`` with an ASCII ``filename`` and the real name as RFC 5987 ``filename*``.

    Old clients read ``filename``; for a Cyrillic name its ASCII form would be empty, so
    the fallback keeps the extension and puts a neutral stem in front.
    """
    stem, ext = os.path.splitext(filename)
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_stem).strip(" ._") or fallback_stem
    ascii_ext = re.sub(r"[^A-Za-z0-9.]+", "", ext)
    value = f'attachment; filename="{ascii_stem}{ascii_ext}"'
    if filename != f"{ascii_stem}{ascii_ext}":
        value += f"; filename*=UTF-8''{quote(filename, safe='!#$&+-.^_`|~')}"
    return value


# -- where files live -----------------------------------------------------------------


def storage_root() -> Path:
    """``ATTACHMENTS_PATH`` if set, else ``<instance>/attachments`` (never under static/)."""
    configured = current_app.config.get(PATH_SETTING)
    return Path(str(configured)) if configured else Path(current_app.instance_path, "attachments")


def file_path(storage_key: str) -> Path:
    """Where a stored file is; a key of any other shape (a tampered row) is refused."""
    if not KEY_RE.match(storage_key):
        raise ValueError(f"bad attachment storage key {storage_key!r}")
    return storage_root() / storage_key


def max_bytes(rules: AttachmentRules | None = None) -> int:
    """The size limit: the subject's own, else ``ATTACHMENT_MAX_BYTES``, else 20 MB."""
    if rules is not None and rules.max_bytes:
        return rules.max_bytes
    return int(current_app.config.get(MAX_BYTES_SETTING) or DEFAULT_MAX_BYTES)


def _write_limited(stream: IO[bytes], target: Path, limit: int) -> tuple[int, str]:
    """Copy ``stream`` to a new file ``target`` (owner-only), counting and hashing.

    Stops as soon as the limit is passed rather than storing a huge file first.
    """
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise AttachmentRefused(
                    _(
                        "The file is too big: at most %(mb)s MB.",
                        mb=f"{limit / 1024 / 1024:.3g}",
                    )
                )
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


# -- rules per subject ----------------------------------------------------------------

Check = str | Callable[[], bool] | None


@dataclass(frozen=True)
class AttachmentRules:
    """Who may read and write the attachments of one kind of record.

    ``read`` and ``write`` are permission names (``crm_base.counterparty.read``), or
    callables answering for the current user, or ``None`` for any signed-in user.
    ``reach(subject_id)`` says whether the current user reaches that record (its record
    scope); ``False`` answers 404, exactly as for a record that does not exist.
    """

    subject: str
    reach: Callable[[str], bool]
    read: Check = None
    write: Check = None
    max_bytes: int | None = None

    @property
    def addon(self) -> str:
        return self.subject.split(".", 1)[0]

    def allows(self, action: str) -> bool:
        check = self.read if action == "read" else self.write
        return check() if callable(check) else has_permission(check)

    def permission(self, action: str) -> str | None:
        """The permission name behind ``action`` (for the audit of a refusal), if any."""
        check = self.read if action == "read" else self.write
        return check if isinstance(check, str) else None


_RULES: dict[str, AttachmentRules] = {}


def register(rules: AttachmentRules) -> AttachmentRules:
    """Let records of ``rules.subject`` carry attachments (called when the addon loads).

    Registering the same subject again replaces the rules (a reloaded module).
    """
    if not SUBJECT_RE.match(rules.subject):
        raise ValueError(f"attachment subject {rules.subject!r} is not '<addon>.<object>'")
    _RULES[rules.subject] = rules
    return rules


def rules_for(subject: str) -> AttachmentRules | None:
    """The rules of ``subject`` if its addon is enabled in this database, else ``None``."""
    from core.web import kernel

    rules = _RULES.get(subject)
    if rules is None or not kernel().is_enabled(rules.addon):
        return None
    return rules


def scoped_reach(
    model: type[Any], subject: str, owner: InstrumentedAttribute[Any] | None
) -> Callable[[str], bool]:
    """A ``reach`` for records whose scope follows an owner column (``manager_id``)."""

    def reach(subject_id: str) -> bool:
        from core.web import db_session

        if not subject_id.isdigit() or int(subject_id) > 2**31 - 1:
            return False
        stmt = select(model.id).where(model.id == int(subject_id))
        if owner is not None:
            stmt = scope_filter(stmt, subject, owner)
        return db_session().scalar(stmt) is not None

    return reach


# -- the operations -------------------------------------------------------------------


def attachments_of(db: Session, subject: str, subject_id: Any) -> list[Attachment]:
    """The record's attachments, newest first."""
    return list(
        db.scalars(
            select(Attachment)
            .where(Attachment.subject == subject, Attachment.subject_id == str(subject_id))
            .order_by(Attachment.uploaded_at.desc(), Attachment.id.desc())
        )
    )


def save_upload(
    db: Session,
    rules: AttachmentRules,
    subject_id: str,
    stream: IO[bytes],
    filename: str,
    user_id: int | None,
) -> Attachment:
    """Check and store one uploaded file and its row, both or neither; commits.

    Raises :class:`AttachmentRefused` (nothing stored) when the file is refused.
    """
    name = clean_filename(filename)
    if not name:
        raise AttachmentRefused(_("Choose a file to attach."))
    key = secrets.token_hex(16)
    storage_key = f"{key[:2]}/{key}"
    final = file_path(storage_key)
    temp = final.with_name(f".{key}.part")
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        size, digest = _write_limited(stream, temp, max_bytes(rules))
        if size == 0:
            raise AttachmentRefused(_("The file is empty. It was not attached."))
        kind = check_content(temp, name)
        row = Attachment(
            subject=rules.subject,
            subject_id=subject_id,
            filename=name,
            content_type=kind.content_type,
            size=size,
            sha256=digest,
            storage_key=storage_key,
            uploaded_by=user_id,
        )
        db.add(row)
        db.flush()
        os.replace(temp, final)
        db.commit()
    except BaseException:
        db.rollback()
        temp.unlink(missing_ok=True)
        final.unlink(missing_ok=True)
        raise
    return row


def remove_files(storage_keys: Iterable[str]) -> None:
    """Remove stored files whose rows are already gone (committed); log what fails.

    A file that cannot be removed is only an orphan: no row points at it any more.
    """
    for storage_key in storage_keys:
        try:
            file_path(storage_key).unlink(missing_ok=True)
        except (OSError, ValueError):
            log.warning("could not remove attachment file %s", storage_key, exc_info=True)


def delete_attachment(db: Session, row: Attachment) -> None:
    """Delete the row (commit), then its file."""
    storage_key = row.storage_key
    db.delete(row)
    db.commit()
    remove_files([storage_key])


def detach_all(db: Session, subject: str, subject_id: Any) -> list[str]:
    """Delete the rows of a record's attachments in the caller's transaction.

    Returns their storage keys: pass them to :func:`remove_files` after the commit (a
    record being deleted takes its files along, but only once the deletion is certain).
    """
    rows = attachments_of(db, subject, subject_id)
    for row in rows:
        db.delete(row)
    return [row.storage_key for row in rows]
