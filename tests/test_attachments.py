"""Attachments (core.attachments + core/views/attachments.py) on crm_base counterparties:
type by content, size limit, storage outside the web root, download headers, rights and
scope, and a row never without its file (nor a file left behind by a refusal)."""

from __future__ import annotations

import hashlib
import html
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

import addons.crm_base.card  # noqa: F401 - registers the counterparty's attachment rules
from addons.crm_base.models import Counterparty
from core import attachments as store
from core.models import Attachment, AuditEntry, User
from core.testing.plugin import csrf_token

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
HTML = b"<!doctype html><html><script>alert(1)</script></html>"
CSV = "Назва;Сума\nТОВ «Ромашка»;1200,00\n".encode()
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def ooxml(main_part: str) -> bytes:
    """A minimal DOCX/XLSX: a ZIP whose [Content_Types].xml names the main part."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/main.xml" ContentType="{main_part}"/></Types>',
        )
        zf.writestr("main.xml", "<document/>")
    return buf.getvalue()


def odf(mimetype: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


DOCX = ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
XLSX = ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
DOCM = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml")
ODT = odf("application/vnd.oasis.opendocument.text")
ODS = odf("application/vnd.oasis.opendocument.spreadsheet")
DOC = OLE + "WordDocument\0".encode("utf-16-le") + b"\x00" * 100
XLS = OLE + "Workbook\0".encode("utf-16-le") + b"\x00" * 100
MSI = OLE + "SummaryInformation\0".encode("utf-16-le")


def uid(db, client) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(User.id).where(User.login == client.user_login))  # type: ignore[no-any-return]


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    client = login([READ, UPDATE])
    db_session.execute(update(User).where(User.login == client.user_login).values(language="en"))
    db_session.commit()
    return client


@pytest.fixture
def record(db_session, olena) -> Counterparty:  # type: ignore[no-untyped-def]
    row = Counterparty(name="ТОВ «Ромашка»", manager_id=uid(db_session, olena))
    db_session.add(row)
    db_session.commit()
    return row


@pytest.fixture
def storage(vitrylo_app) -> Path:  # type: ignore[no-untyped-def]
    return Path(vitrylo_app.instance_path) / "attachments"


def files_in(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def list_url(record: Counterparty) -> str:
    return f"/attachments/for/crm_base.counterparty/{record.id}"


def upload(app, client, record, content: bytes, name: str, **headers):  # type: ignore[no-untyped-def]
    return client.post(
        list_url(record),
        data={
            "file": (io.BytesIO(content), name),
            "csrf_token": csrf_token(app, client),
            "next": f"/crm/counterparties/{record.id}?tab=attachments",
        },
        content_type="multipart/form-data",
        headers=headers,
    )


def rows(db, record) -> list[Attachment]:  # type: ignore[no-untyped-def]
    db.expire_all()
    return list(db.scalars(select(Attachment).where(Attachment.subject_id == str(record.id))))


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (PDF, "Рахунок.pdf", "application/pdf"),
        (PNG, "scan.PNG", "image/png"),
        (JPEG, "photo.jpeg", "image/jpeg"),
        (GIF, "a.gif", "image/gif"),
        (WEBP, "a.webp", "image/webp"),
        (DOCX, "Договір.docx", store.KINDS["docx"].content_type),
        (XLSX, "table.xlsx", store.KINDS["xlsx"].content_type),
        (ODT, "letter.odt", "application/vnd.oasis.opendocument.text"),
        (ODS, "sheet.ods", "application/vnd.oasis.opendocument.spreadsheet"),
        (DOC, "old.doc", "application/msword"),
        (XLS, "old.xls", "application/vnd.ms-excel"),
        (CSV, "клієнти.csv", "text/csv; charset=utf-8"),
        ("Привіт\n".encode(), "note.txt", "text/plain; charset=utf-8"),
    ],
)
def test_accepted_files_are_stored_outside_the_web_root_with_their_checksum(
    vitrylo_app, olena, record, db_session, storage, content, name, content_type
):
    response = upload(vitrylo_app, olena, record, content, name)
    assert response.status_code == 303
    assert response.location.endswith(f"/crm/counterparties/{record.id}?tab=attachments")
    [row] = rows(db_session, record)
    assert (row.filename, row.content_type, row.size) == (name, content_type, len(content))
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    assert row.uploaded_by == uid(db_session, olena)
    path = storage / row.storage_key
    assert path.read_bytes() == content
    assert row.storage_key.split("/")[0] == row.storage_key.split("/")[1][:2]
    assert name not in str(path)  # the name on disk is never the user's
    assert Path(vitrylo_app.static_folder) not in path.parents
    assert not [p for p in files_in(storage) if p.name.endswith(".part")]


def test_htmx_upload_answers_the_list_partial(vitrylo_app, olena, record):
    response = upload(vitrylo_app, olena, record, PDF, "a.pdf", **{"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div class="attachments"')
    assert "Attached: a.pdf." in page and "a.pdf</a>" in page
    listed = olena.get(list_url(record), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "a.pdf</a>" in listed and "<html" not in listed
    assert "<html" in olena.get(list_url(record)).get_data(as_text=True)  # a page without htmx
    refused = upload(vitrylo_app, olena, record, EXE, "b.pdf", **{"HX-Request": "true"})
    page = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 200  # htmx swaps only 2xx answers: the message must show
    assert "The file's content is not PDF" in page and "attachment-error" in page


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (EXE, "invoice.pdf", "The file's content is not PDF, though its name ends in .pdf."),
        (HTML, "photo.png", "The file's content is not PNG, though its name ends in .png."),
        (PNG, "photo.jpg", "is not JPEG"),
        (b"PK\x03\x04junk", "a.docx", "is not Word (DOCX)"),
        (DOCM, "macro.docx", "is not Word (DOCX)"),
        (ODT, "letter.ods", "is not OpenDocument (ODS)"),
        (MSI, "setup.doc", "is not Word (DOC)"),
        (b"\xff\xfe\x00a\x00b", "a.csv", "is not CSV"),
        (b"name\x00value\n", "a.txt", "is not plain text"),
        (EXE, "setup.exe", "Files of this type are not accepted."),
        (PDF, "no-extension", "Files of this type are not accepted."),
        (b"", "empty.pdf", "The file is empty."),
    ],
)
def test_refused_files_leave_nothing_behind(
    vitrylo_app, olena, record, db_session, storage, content, name, message
):
    before = files_in(storage)
    response = upload(vitrylo_app, olena, record, content, name)
    assert response.status_code == 400
    assert message in html.unescape(response.get_data(as_text=True))
    assert rows(db_session, record) == []
    assert files_in(storage) == before


def test_too_big_is_refused_by_the_configured_limit(
    vitrylo_app, olena, record, db_session, storage, monkeypatch
):
    assert store.DEFAULT_MAX_BYTES == 20 * 1024 * 1024
    monkeypatch.setitem(vitrylo_app.config, store.MAX_BYTES_SETTING, 1024)
    before = files_in(storage)
    response = upload(vitrylo_app, olena, record, PDF + b"x" * 1024, "big.pdf")
    assert response.status_code == 400
    assert "The file is too big" in response.get_data(as_text=True)
    assert rows(db_session, record) == [] and files_in(storage) == before
    assert upload(vitrylo_app, olena, record, PDF, "small.pdf").status_code == 303


def test_a_failing_commit_leaves_neither_row_nor_file(
    vitrylo_app, olena, record, db_session, storage, monkeypatch
):
    before = files_in(storage)

    def broken_commit() -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(db_session, "commit", broken_commit)
    response = upload(vitrylo_app, olena, record, PDF, "a.pdf")
    monkeypatch.undo()
    assert response.status_code == 500
    assert rows(db_session, record) == []
    assert files_in(storage) == before


def test_download_is_an_attachment_with_the_cyrillic_name_and_nosniff(
    vitrylo_app, olena, record, db_session
):
    upload(vitrylo_app, olena, record, PDF, "Договір №5.pdf")
    [row] = rows(db_session, record)
    response = olena.get(f"/attachments/{row.id}")
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="No5.pdf"' in disposition  # the ASCII fallback for old clients
    assert "filename*=UTF-8''%D0%94%D0%BE%D0%B3%D0%BE%D0%B2%D1%96%D1%80%20%E2%84%965.pdf" in (
        disposition
    )
    assert "sandbox" in response.headers["Content-Security-Policy"]

    upload(vitrylo_app, olena, record, CSV, "report.csv")
    csv_row = next(r for r in rows(db_session, record) if r.filename == "report.csv")
    csv = olena.get(f"/attachments/{csv_row.id}")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.headers["Content-Disposition"] == 'attachment; filename="report.csv"'


def test_reading_and_writing_need_their_rights(vitrylo_app, olena, record, db_session, login):
    upload(vitrylo_app, olena, record, PDF, "a.pdf")
    [row] = rows(db_session, record)
    stranger = login([])
    assert stranger.get(f"/attachments/{row.id}").status_code == 403
    assert stranger.get(list_url(record)).status_code == 403

    reader = login([READ])  # may read the record, not change it
    db_session.execute(
        update(Counterparty)
        .where(Counterparty.id == record.id)
        .values(manager_id=uid(db_session, reader))
    )
    db_session.commit()
    assert reader.get(f"/attachments/{row.id}").status_code == 200
    listed = reader.get(list_url(record), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "a.pdf" in listed and "attachment-upload" not in listed and "Remove" not in listed
    assert upload(vitrylo_app, reader, record, PDF, "b.pdf").status_code == 403
    token = csrf_token(vitrylo_app, reader)
    deleted = reader.post(f"/attachments/{row.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 403
    assert len(rows(db_session, record)) == 1
    assert db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "denied", AuditEntry.subject_id == UPDATE)
    )


def test_a_guessed_id_of_another_managers_attachment_is_404(
    vitrylo_app, olena, record, db_session, login
):
    upload(vitrylo_app, olena, record, PDF, "secret.pdf")
    [row] = rows(db_session, record)
    petro = login([READ, UPDATE])  # same rights, but his scope is his own records
    token = csrf_token(vitrylo_app, petro)
    assert petro.get(f"/attachments/{row.id}").status_code == 404
    assert petro.post(f"/attachments/{row.id}/delete", data={"csrf_token": token}).status_code == (
        404
    )
    assert petro.get(list_url(record)).status_code == 404
    assert upload(vitrylo_app, petro, record, PDF, "x.pdf").status_code == 404
    assert petro.get("/attachments/999999999").status_code == 404
    assert petro.get("/attachments/for/crm_base.nothing/1").status_code == 404
    assert petro.get("/attachments/for/crm_base.counterparty/1%2F..").status_code == 404
    assert len(rows(db_session, record)) == 1


def test_delete_removes_the_row_then_the_file(vitrylo_app, olena, record, db_session, storage):
    upload(vitrylo_app, olena, record, PDF, "a.pdf")
    [row] = rows(db_session, record)
    path = storage / row.storage_key
    assert path.exists()
    assert olena.get(f"/attachments/{row.id}/delete").status_code == 405  # POST only
    response = olena.post(
        f"/attachments/{row.id}/delete",
        data={"csrf_token": csrf_token(vitrylo_app, olena), "next": "//evil.example/"},
    )
    assert response.status_code == 303
    assert response.location.endswith(list_url(record))  # never off-site
    assert rows(db_session, record) == []
    assert not path.exists()
    assert olena.get(f"/attachments/{row.id}").status_code == 404


def test_the_card_lists_the_files_and_offers_the_upload(vitrylo_app, olena, record):
    upload(vitrylo_app, olena, record, PDF, "Рахунок.pdf")
    page = olena.get(f"/crm/counterparties/{record.id}/edit?tab=attachments").get_data(as_text=True)
    assert "Рахунок.pdf</a>" in page
    assert 'hx-post="/attachments/for/crm_base.counterparty/' in page
    assert 'data-confirm="Remove the file Рахунок.pdf?"' in page


def test_names_are_cleaned_and_headers_quoted():
    assert store.clean_filename("C:\\Users\\olena\\Рахунок.pdf") == "Рахунок.pdf"
    assert store.clean_filename("../../etc/passwd\x00.txt") == "passwd.txt"
    assert len(store.clean_filename("я" * 400 + ".pdf")) == 255
    assert store.clean_filename("я" * 400 + ".pdf").endswith(".pdf")
    assert store.content_disposition("Рахунок.pdf", "attachment-7") == (
        'attachment; filename="attachment-7.pdf"; '
        "filename*=UTF-8''%D0%A0%D0%B0%D1%85%D1%83%D0%BD%D0%BE%D0%BA.pdf"
    )
    header = store.content_disposition('a"b\r\n.pdf')
    assert "\r" not in header and "\n" not in header and 'a"b' not in header.split(";")[1]
