"""Printing (issue 4): PDFs through /print/<document>/<id>, Cyrillic, rights, big tables.

The PDF's text is read back with pypdf: Ukrainian words that come out as text prove the
bundled font is embedded (xhtml2pdf's own fonts have no Cyrillic glyphs).
"""

from __future__ import annotations

import io
import urllib.parse
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

import core.views.printing  # noqa: F401 - its route joins the core blueprint (web_plugin)
from addons.crm_base.models import Counterparty
from core.models import User
from core.printing import (
    FONTS_DIR,
    ResourceRefused,
    content_disposition,
    get_document,
    html_to_pdf,
    make_link_callback,
    render_pdf,
    safe_filename,
)

READ = ["crm_base.counterparty.read"]
NAME = "ТОВ «Їжачок-Ґрунт»"


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def font_names(data: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).split("+")[-1])
    return names


def user_id(db_session, client) -> int:
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


@pytest.fixture
def olena(login):
    return login(READ, login_name="olena")


@pytest.fixture
def card(db_session, olena) -> Counterparty:
    """A counterparty managed by Olena."""
    record = Counterparty(name=NAME, manager_id=user_id(db_session, olena))
    db_session.add(record)
    db_session.commit()
    return record


def test_the_card_prints_in_ukrainian_with_page_numbers(olena, card):
    response = olena.get(f"/print/crm_base.card/{card.id}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('inline; filename="crm_base.card-')
    quoted = disposition.split("filename*=UTF-8''")[1]
    assert urllib.parse.unquote(quoted) == f"Картка контрагента {card.id}.pdf"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "object-src 'none'" not in response.headers["Content-Security-Policy"]

    [text] = pdf_pages(response.data)
    assert NAME in text
    assert "Картка контрагента" in text
    assert "Olena" in text  # the manager
    assert "Одна тисяча двісті гривень 00 копійок" in text
    assert "1 200,00 грн" in text.replace("\u00a0", " ")
    assert "Сторінка 1 з 1" in text
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= font_names(response.data)


def test_without_the_right_the_answer_is_403(login, card):
    stranger = login([])
    assert stranger.get(f"/print/crm_base.card/{card.id}").status_code == 403


def test_signed_out_goes_to_the_sign_in_page(client, card):
    response = client.get(f"/print/crm_base.card/{card.id}")
    assert response.status_code == 302
    assert "/login" in response.location


def test_another_managers_record_is_404_like_a_missing_one(login, card):
    petro = login(READ, login_name="petro")
    assert petro.get(f"/print/crm_base.card/{card.id}").status_code == 404
    assert petro.get("/print/crm_base.card/999999").status_code == 404


def test_unknown_document_is_404(olena, card):
    assert olena.get(f"/print/crm_base.nothing/{card.id}").status_code == 404
    assert olena.get(f"/print/nothing/{card.id}").status_code == 404


def test_the_registry_finds_the_card(vitrylo_app):
    with vitrylo_app.app_context():
        doc = get_document("crm_base.card")
        assert doc is not None
        assert (doc.addon, doc.subject, doc.permission) == (
            "crm_base",
            "crm_base.counterparty",
            "crm_base.counterparty.read",
        )
        assert get_document("crm_base.nothing") is None


def test_a_long_table_splits_over_pages_repeating_its_head(vitrylo_app):
    rows = [(n, f"Рядок {n}", f"{n}.00") for n in range(1, 1001)]
    columns = [
        {"label": "№", "num": True},
        {"label": "Найменування", "num": False},
        {"label": "Сума", "num": True},
    ]
    context = {"columns": columns, "rows": rows, "total": Decimal("500500")}
    with vitrylo_app.test_request_context():
        pdf = render_pdf("core/print/table.html", context, title="Реєстр рядків")
    pages = pdf_pages(pdf)
    assert len(pages) > 5
    for number, text in enumerate(pages, start=1):
        assert f"Сторінка {number} з {len(pages)}" in text
        assert "Реєстр рядків" in text  # the page header
        assert "Найменування" in text  # the repeated column heads
    assert "Рядок 1\n" in pages[0] and "Рядок 1000" in pages[-1]
    assert "П'ятсот тисяч п'ятсот гривень 00 копійок" in pages[-1]


def test_the_font_is_embedded_whatever_the_working_directory(vitrylo_app, monkeypatch, tmp_path):
    # xhtml2pdf's default policy confines reads to the working directory: ours must not.
    monkeypatch.chdir(tmp_path)
    context = {"columns": [{"label": "Назва", "num": False}], "rows": [("Ґанок",)]}
    with vitrylo_app.test_request_context():
        pdf = render_pdf("core/print/table.html", context, title="Їжа")
    assert "Ґанок" in pdf_pages(pdf)[0]
    assert "DejaVuSans" in font_names(pdf)


def test_the_link_callback_reads_only_fonts_and_static(vitrylo_app):
    static = Path(vitrylo_app.static_folder)
    callback = make_link_callback(static)
    assert callback("fonts/DejaVuSans.ttf", None) == str(FONTS_DIR / "DejaVuSans.ttf")
    assert callback("/static/core.css", None) == str((static / "core.css").resolve())
    assert callback("data:image/png;base64,AAAA", None).startswith("data:")
    for uri in (
        "/etc/passwd",
        "file:///etc/passwd",
        "fonts/../printing.py",
        "fonts/%2e%2e/printing.py",
        "fonts//etc/passwd",
        "/static/../app.py",
        "/static/nothing.css",
        "core/fonts/DejaVuSans.ttf",
        str(FONTS_DIR / "DejaVuSans.ttf"),
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/logo.png",
        "//example.com/logo.png",
    ):
        with pytest.raises(ResourceRefused):
            callback(uri, None)


def test_a_template_asking_for_another_file_is_not_rendered(vitrylo_app):
    html = '<html><body><p>x</p><img src="/etc/passwd"></body></html>'
    with pytest.raises(ResourceRefused):
        html_to_pdf(html, roots=(FONTS_DIR,), static_folder=Path(vitrylo_app.static_folder))


def test_file_names_are_safe():
    assert safe_filename('a/b\\c:"d"\r\n') == "a b c d.pdf"
    assert safe_filename("..") == "document.pdf"
    header = content_disposition("Акт №5.pdf", "crm_base.act-5")
    assert header == (
        "inline; filename=\"crm_base.act-5.pdf\"; filename*=UTF-8''"
        "%D0%90%D0%BA%D1%82%20%E2%84%965.pdf"
    )
    assert content_disposition("x.pdf", 'evil"; x=1') == (
        "inline; filename=\"evil_x_1.pdf\"; filename*=UTF-8''x.pdf"
    )
