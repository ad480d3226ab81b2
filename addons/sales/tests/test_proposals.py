"""Commercial proposals (MS-7): lines, totals and VAT, numbering, "from an opportunity",
status, the printed proposal, record scope and rights, the card's purchase history (CL-5).

Totals are checked against numbers worked out by hand from the rules of
``/work/shared/domain/ua-documents.md``: a line's sum is quantity × price without VAT
rounded to kopecks; the VAT of each rate is computed on that rate's total and rounded half
up; "Всього з ПДВ" is their sum.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.sales import proposals
from addons.sales.models import Proposal, ProposalLine
from addons.sales.proposals import compute_totals
from addons.sales.tests.helpers import count, make_opportunity, make_person
from core.testing.plugin import csrf_token

READ = "sales.proposal.read"
PERMS = (
    READ,
    "sales.proposal.create",
    "sales.proposal.update",
    "sales.proposal.delete",
    "crm_base.counterparty.read",
    "crm_base.person.read",
)
#: Three lines worked out by hand:
#:   3 × 333.33 = 999.99 at 20 %  → VAT 199.998 → 200.00
#:   2.5 × 41.10 = 102.75 at 7 %  → VAT 7.1925 → 7.19
#:   1 × 500.00 = 500.00 without VAT
#: Разом без ПДВ 1 602.74, ПДВ 207.19, Всього з ПДВ 1 809.93.
LINES = (
    ("Ноутбук", "3", "шт", "333,33", "20"),
    ("Доставка", "2.5", "год", "41.10", "7"),
    ("Навчання", "1", "посл.", "500", "none"),
)
TOTAL = Decimal("1809.93")
VAT = Decimal("207.19")
WORDS = "Одна тисяча вісімсот дев'ять гривень 93 копійки"


def form_data(
    client: Any, app: Any, counterparty_id: int, lines: tuple = LINES, **header: str
) -> dict[str, str]:
    """A posted proposal form: the header (overridable) and ``lines``."""
    data = {
        "csrf_token": csrf_token(app, client),
        "counterparty_id": f"#{counterparty_id}",
        "person_id": "",
        "issued_on": "2031-03-02",
        "valid_until": "2031-03-16",
        "currency": "UAH",
        "intro": "Пропонуємо",
        "terms": "Оплата 100%",
        "template": "standard",
        "responsible_id": str(client.user_id),
    }
    data.update(header)
    for n, (description, quantity, unit, price, rate) in enumerate(lines):
        data.update(
            {
                f"lines-{n}-description": description,
                f"lines-{n}-quantity": quantity,
                f"lines-{n}-unit": unit,
                f"lines-{n}-price": price,
                f"lines-{n}-vat_rate": rate,
            }
        )
    return data


def make_proposal(
    sdb: Session, counterparty_id: int, responsible_id: int, number: str, **kw: Any
) -> Proposal:
    """A proposal written straight to the database (for scope and history tests)."""
    record = Proposal(
        number=number,
        counterparty_id=counterparty_id,
        responsible_id=responsible_id,
        issued_on=kw.pop("issued_on", date(2031, 3, 2)),
        total=kw.pop("total", Decimal("1200.00")),
        vat_total=kw.pop("vat_total", Decimal("200.00")),
        **kw,
    )
    sdb.add(record)
    sdb.flush()
    sdb.add(
        ProposalLine(
            proposal_id=record.id,
            description="Послуга",
            quantity=Decimal("1"),
            price=Decimal("1000"),
            vat_rate=Decimal("20"),
        )
    )
    sdb.commit()
    return record


def create(client: Any, app: Any, counterparty_id: int, **header: str) -> Any:
    return client.post(
        "/sales/proposals/new", data=form_data(client, app, counterparty_id, **header)
    )


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


# -- money ------------------------------------------------------------------------------------


def test_totals_by_hand() -> None:
    """MS-7: line sums to kopecks, VAT per rate on the rate's total, "без ПДВ" has none."""
    totals = compute_totals(
        [
            (Decimal("3"), Decimal("333.33"), Decimal("20")),
            (Decimal("2.5"), Decimal("41.10"), Decimal("7")),
            (Decimal("1"), Decimal("500"), None),
        ]
    )
    assert totals.net == Decimal("1602.74")
    assert totals.vat == VAT
    assert totals.total == TOTAL
    assert [(r, b, v) for r, b, v in totals.by_rate] == [
        (Decimal("20"), Decimal("999.99"), Decimal("200.00")),
        (Decimal("7"), Decimal("102.75"), Decimal("7.19")),
        (None, Decimal("500.00"), Decimal("0.00")),
    ]


def test_vat_is_on_the_rate_total_not_per_line() -> None:
    """MS-7: three lines of 0.03 at 20 %: 0.09 × 20 % = 0.018 → 0.02 (per line it would be
    3 × 0.01 = 0.03); a line's sum rounds half up (0.125 → 0.13)."""
    totals = compute_totals([(Decimal("1"), Decimal("0.03"), Decimal("20"))] * 3)
    assert (totals.net, totals.vat, totals.total) == (
        Decimal("0.09"),
        Decimal("0.02"),
        Decimal("0.11"),
    )
    assert proposals.line_amount(Decimal("0.5"), Decimal("0.25")) == Decimal("0.13")


# -- creating -----------------------------------------------------------------------------------


def test_create_with_lines_stores_totals_and_number(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: a proposal with three lines: numbered, lines in order, totals and VAT stored."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    response = create(client, sales_app, cp.id)
    assert response.status_code == 303, response.data.decode()
    record = sdb.scalars(select(Proposal).where(Proposal.counterparty_id == cp.id)).one()
    assert record.number == "КП-2031-0001"
    assert (record.total, record.vat_total) == (TOTAL, VAT)
    assert (record.status, record.responsible_id) == ("draft", client.user_id)
    lines = sdb.scalars(
        select(ProposalLine)
        .where(ProposalLine.proposal_id == record.id)
        .order_by(ProposalLine.sort)
    ).all()
    assert [(ln.sort, ln.description, ln.quantity, ln.vat_rate) for ln in lines] == [
        (0, "Ноутбук", Decimal("3"), Decimal("20")),
        (1, "Доставка", Decimal("2.5"), Decimal("7")),
        (2, "Навчання", Decimal("1"), None),
    ]
    card = client.get(response.headers["Location"])
    assert card.status_code == 200
    assert "КП-2031-0001" in card.get_data(as_text=True)


def test_numbers_run_per_year(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: КП-<year>-NNNN, one sequence per year of the proposal's date."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    for issued in ("2031-01-10", "2031-12-31", "2032-01-01"):
        assert create(client, sales_app, cp.id, issued_on=issued, valid_until="").status_code == 303
    numbers = sdb.scalars(select(Proposal.number).order_by(Proposal.id)).all()
    assert numbers == ["КП-2031-0001", "КП-2031-0002", "КП-2032-0001"]
    assert proposals.next_number(sdb, Proposal, "КП", 2031) == "КП-2031-0003"


def test_a_number_taken_meanwhile_takes_the_next(
    sales_app, sdb, slogin, counterparty, monkeypatch
) -> None:
    """MS-7: another save took the number between reading and inserting: the unique
    constraint refuses it and the proposal gets the next free one."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    make_proposal(sdb, cp.id, client.user_id, "КП-2031-0001")
    real = proposals.next_number
    calls = []

    def stale_first(db, model, prefix, year):  # the value a concurrent reader saw
        calls.append(year)
        return "КП-2031-0001" if len(calls) == 1 else real(db, model, prefix, year)

    monkeypatch.setattr(proposals, "next_number", stale_first)
    assert create(client, sales_app, cp.id).status_code == 303
    assert len(calls) == 2
    assert sdb.scalars(select(Proposal.number).order_by(Proposal.id)).all() == [
        "КП-2031-0001",
        "КП-2031-0002",
    ]
    assert count(sdb, ProposalLine) == 1 + len(LINES)


def test_from_an_opportunity(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: the new proposal starts with the opportunity's counterparty, contact person
    and one line (its name and amount); saved, it points at the opportunity."""
    client = slogin([*PERMS, "sales.opportunity.read"])
    cp = counterparty(manager_id=client.user_id)
    person = make_person(sdb, client.user_id, "Шевченко", counterparty_id=cp.id)
    opportunity = make_opportunity(
        sdb, cp.id, client.user_id, amount=Decimal("45000.00"), person_id=person.id
    )
    url = f"/sales/opportunities/{opportunity.id}/proposal"
    page = client.get(url).get_data(as_text=True)
    assert "Впровадження CRM" in page and "45000" in page
    assert f'value="{person.id}" selected' in page or f'selected value="{person.id}"' in page
    lines = (("Впровадження CRM", "1", "шт", "45000.00", "20"),)
    data = form_data(client, sales_app, cp.id, lines, person_id=str(person.id))
    assert client.post(url, data=data).status_code == 303
    record = sdb.scalars(select(Proposal).where(Proposal.opportunity_id == opportunity.id)).one()
    assert (record.person_id, record.total, record.vat_total) == (
        person.id,
        Decimal("54000.00"),
        Decimal("9000.00"),
    )


def test_from_another_managers_opportunity_is_404(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: the opportunity is loaded within the user's opportunity scope."""
    owner = slogin(PERMS)
    client = slogin([*PERMS, "sales.opportunity.read"])
    cp = counterparty(manager_id=client.user_id)
    theirs = make_opportunity(sdb, cp.id, owner.user_id)
    assert client.get(f"/sales/opportunities/{theirs.id}/proposal").status_code == 404
    assert client.get("/sales/opportunities/99999999/proposal").status_code == 404
    assert slogin(PERMS).get(f"/sales/opportunities/{theirs.id}/proposal").status_code == 403


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lines-0-quantity": "0"}, "The quantity must be more than zero."),
        ({"lines-0-price": "-5"}, "The price cannot be negative."),
        ({"lines-0-price": "abc"}, "Enter a number"),
        ({"lines-0-price": "1.005"}, "At most 2 decimal places."),
        ({"lines-0-description": ""}, "Describe what is offered."),
        ({"valid_until": "2031-03-01"}, "cannot be before"),
        ({"counterparty_id": "Нема такого"}, "No counterparty"),
        ({"lines-0-price": "1e40"}, "Enter a number"),
    ],
)
def test_bad_input_saves_nothing(sales_app, sdb, slogin, counterparty, change, message) -> None:
    """MS-7: a wrong field answers 400 with its message; no proposal, no line is saved."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    data = form_data(client, sales_app, cp.id)
    data.update(change)
    response = client.post("/sales/proposals/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(sdb, Proposal) == 0 and count(sdb, ProposalLine) == 0


def test_without_lines_is_refused(sales_app, sdb, slogin, counterparty) -> None:
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    response = client.post("/sales/proposals/new", data=form_data(client, sales_app, cp.id, ()))
    assert response.status_code == 400
    assert "Add at least one line." in response.get_data(as_text=True)
    assert count(sdb, Proposal) == 0


def test_another_managers_counterparty_cannot_be_chosen(
    sales_app, sdb, slogin, counterparty
) -> None:
    """MS-7: only a counterparty the user reaches (crm_base's scope)."""
    other = slogin(PERMS)
    client = slogin(PERMS)
    cp = counterparty(manager_id=other.user_id)
    response = create(client, sales_app, cp.id)
    assert response.status_code == 400
    assert count(sdb, Proposal) == 0


# -- editing and status -------------------------------------------------------------------------


def test_one_more_line_then_save_recomputes(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: "One more line" shows the posted form with a blank row, saving nothing; a
    save with changed lines updates lines and totals in one go."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    create(client, sales_app, cp.id)
    record = sdb.scalars(select(Proposal)).one()
    card = client.get(f"/sales/proposals/{record.id}")
    assert card.status_code == 200
    data = form_data(client, sales_app, cp.id, LINES[:1], version=str(record.version))
    more = client.post(
        f"/sales/proposals/{record.id}/edit", data={**data, "more_lines": "1"}
    ).get_data(as_text=True)
    assert 'name="lines-1-description"' in more
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).total == TOTAL
    response = client.post(f"/sales/proposals/{record.id}/edit", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    sdb.expire_all()
    saved = sdb.get(Proposal, record.id)
    # 3 × 333.33 = 999.99, VAT 200.00
    assert (saved.total, saved.vat_total) == (Decimal("1199.99"), Decimal("200.00"))
    assert count(sdb, ProposalLine) == 1


def test_send_then_only_a_draft_is_edited(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: draft → sent → accepted; a sent proposal's form does not save."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    record = make_proposal(sdb, cp.id, client.user_id, "КП-2031-0001")
    token = csrf_token(sales_app, client)
    url = f"/sales/proposals/{record.id}/status"
    wrong = client.post(
        url, data={"csrf_token": token, "version": record.version, "to": "accepted"}
    )
    assert wrong.status_code == 303
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).status == "draft"
    sent = client.post(url, data={"csrf_token": token, "version": record.version, "to": "sent"})
    assert sent.status_code == 303
    sdb.expire_all()
    record = sdb.get(Proposal, record.id)
    assert record.status == "sent" and record.sent_at is not None
    data = form_data(client, sales_app, cp.id, version=str(record.version))
    client.post(f"/sales/proposals/{record.id}/edit", data=data)
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).total == Decimal("1200.00")
    stale = client.post(url, data={"csrf_token": token, "version": "1", "to": "accepted"})
    assert stale.status_code == 303
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).status == "sent"
    done = client.post(url, data={"csrf_token": token, "version": record.version, "to": "accepted"})
    assert done.status_code == 303
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).status == "accepted"


# -- printing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["standard", "short"])
def test_pdf_has_lines_totals_and_words(sales_app, sdb, slogin, counterparty, template) -> None:
    """MS-7: the printed proposal: a PDF with the lines, the VAT and the total in words."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    create(client, sales_app, cp.id, template=template)
    record = sdb.scalars(select(Proposal)).one()
    response = client.get(f"/print/sales.proposal/{record.id}")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    text = pdf_text(response.data)
    assert "КП-2031-0001" in text and "Ноутбук" in text
    assert WORDS in text
    assert "Пропозиція дійсна до 16.03.2031" in text
    assert "207,19" in text


# -- scope and rights -----------------------------------------------------------------------


def test_another_managers_proposal_is_404_everywhere(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: list, card, edit, status and PDF see only the user's own proposals (own
    scope); another's id and a guessed one answer 404."""
    owner = slogin(PERMS)
    client = slogin(PERMS)
    cp = counterparty(manager_id=owner.user_id)
    theirs = make_proposal(sdb, cp.id, owner.user_id, "КП-2031-0077")
    assert "КП-2031-0077" not in client.get("/sales/proposals").get_data(as_text=True)
    assert "КП-2031-0077" in owner.get("/sales/proposals").get_data(as_text=True)
    for url in (
        f"/sales/proposals/{theirs.id}",
        f"/sales/proposals/{theirs.id}/edit",
        f"/print/sales.proposal/{theirs.id}",
        "/sales/proposals/424242",
        "/print/sales.proposal/424242",
        "/sales/proposals/99999999999",
    ):
        assert client.get(url).status_code == 404, url
    token = csrf_token(sales_app, client)
    status = client.post(
        f"/sales/proposals/{theirs.id}/status", data={"csrf_token": token, "to": "sent"}
    )
    assert status.status_code == 404
    team = slogin(PERMS, scopes={"sales.proposal": "all"})
    assert team.get(f"/print/sales.proposal/{theirs.id}").status_code == 200


def test_rights_are_checked(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: without the rights: 403 (list, new, card, PDF, status, delete)."""
    owner = slogin(PERMS)
    cp = counterparty(manager_id=owner.user_id)
    record = make_proposal(sdb, cp.id, owner.user_id, "КП-2031-0001")
    nobody = slogin(["crm_base.counterparty.read"])
    for url in (
        "/sales/proposals",
        "/sales/proposals/new",
        f"/sales/proposals/{record.id}",
        f"/print/sales.proposal/{record.id}",
    ):
        assert nobody.get(url).status_code == 403, url
    reader = slogin([READ], scopes={"sales.proposal": "all"})
    assert reader.get(f"/sales/proposals/{record.id}").status_code == 200
    token = csrf_token(sales_app, reader)
    for url in (f"/sales/proposals/{record.id}/status", f"/sales/proposals/{record.id}/delete"):
        assert reader.post(url, data={"csrf_token": token, "to": "sent"}).status_code == 403


# -- the counterparty's card ------------------------------------------------------------------


def test_purchase_history_tab_timeline_and_search(sales_app, sdb, slogin, counterparty) -> None:
    """CL-5: the card's "Purchase history" lists the proposals the user reaches with the
    accepted total; the timeline and the global search find them too."""
    client = slogin([*PERMS, "sales.contract.read", "sales.contract.create"])
    other = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    make_proposal(sdb, cp.id, client.user_id, "КП-2031-0001", status="accepted")
    make_proposal(sdb, cp.id, other.user_id, "КП-2031-0002")
    card = client.get(f"/crm/counterparties/{cp.id}").get_data(as_text=True)
    assert "Purchase history" in card
    tab = client.get(f"/sales/counterparties/{cp.id}/purchases", headers={"HX-Request": "true"})
    html = tab.get_data(as_text=True)
    assert tab.status_code == 200 and "<html" not in html
    assert "КП-2031-0001" in html and "КП-2031-0002" not in html
    assert "1\u00a0200,00" in html  # the accepted total
    assert f"/sales/proposals/new?counterparty={cp.id}" in html
    assert f"/sales/contracts/new?counterparty={cp.id}" in html
    page = client.get(f"/sales/counterparties/{cp.id}/purchases")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert "Proposal КП-2031-0001 created" in card  # the card's timeline
    assert "КП-2031-0002" not in card
    found = client.get("/search", query_string={"q": "кп-2031"}).get_data(as_text=True)
    assert "КП-2031-0001" in found and "КП-2031-0002" not in found
    assert (
        slogin(["crm_base.counterparty.read"])
        .get(f"/sales/counterparties/{cp.id}/purchases")
        .status_code
        == 403
    )
    stranger = slogin([*PERMS])
    assert stranger.get(f"/sales/counterparties/{cp.id}/purchases").status_code == 404


def test_merge_moves_proposals(sales_app, sdb, slogin, counterparty) -> None:
    """CL-5: merging a duplicate counterparty (or person) moves its proposals."""
    client = slogin(PERMS)
    source, target = counterparty("Дубль"), counterparty("Основний")
    record = make_proposal(sdb, source.id, client.user_id, "КП-2031-0001")
    assert proposals.merge_records(COUNTERPARTY, source.id, target.id, sdb) == 1
    assert proposals.merge_records("other.subject", source.id, target.id, sdb) == 0
    sdb.expire_all()
    assert sdb.get(Proposal, record.id).counterparty_id == target.id


def test_send_queues_an_email_only_with_notifications(sales_app, sdb, slogin, counterparty) -> None:
    """MS-7: without the notifications addon, "Send" only changes the status."""
    client = slogin(PERMS)
    cp = counterparty(manager_id=client.user_id)
    person = make_person(sdb, client.user_id, email="koval@example.com")
    record = make_proposal(sdb, cp.id, client.user_id, "КП-2031-0001", person_id=person.id)
    assert proposals.person_email(sdb, person.id) == "koval@example.com"
    token = csrf_token(sales_app, client)
    response = client.post(
        f"/sales/proposals/{record.id}/status",
        data={"csrf_token": token, "version": record.version, "to": "sent"},
        follow_redirects=True,
    )
    assert "e-mail" not in response.get_data(as_text=True)
