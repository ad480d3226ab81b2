"""The printed proposal (``/print/sales.proposal/<id>``): both parties with their
requisites, the lines with VAT, the totals and the total in words, the terms and the
validity; "standard" or "short" (``templates/sales/print/proposal_*.html``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from addons.crm_base.models import Person
from addons.sales.documents.amounts import money_text, plain_number
from addons.sales.documents.printing import party, print_template, printed_day
from addons.sales.models import PROPOSAL, Proposal
from addons.sales.proposals.lines import load_lines
from addons.sales.proposals.totals import compute_totals, line_amount, rate_label
from addons.sales.views import record_or_404
from core.money import amount_in_words_uk
from core.security import user_names
from core.web import db_session


def proposal_context(record_id: int) -> dict[str, Any]:
    """The printed proposal; the record is loaded within the user's scope (404 outside)."""
    record = record_or_404(Proposal, record_id, PROPOSAL)
    db = db_session()
    lines = load_lines(db, record.id)
    totals = compute_totals((line.quantity, line.price, line.vat_rate) for line in lines)
    person = db.get(Person, record.person_id) if record.person_id else None
    responsible = user_names([record.responsible_id]).get(record.responsible_id or 0, "")

    def money(value: Any) -> str:
        return money_text(Decimal(value), record.currency)

    return {
        "title": f"Комерційна пропозиція № {record.number}",
        "variant": print_template("proposal", record.template),
        "record": record,
        "supplier": party(None),
        "buyer": party(record.counterparty_id),
        "person": person.full_name if person else "",
        "responsible": responsible,
        "rows": [
            (
                n,
                line.description,
                line.unit,
                plain_number(Decimal(line.quantity)).replace(".", ","),
                money(line.price),
                money(line_amount(line.quantity, line.price)),
                rate_label(line.vat_rate),
            )
            for n, line in enumerate(lines, start=1)
        ],
        "totals": totals,
        "vat_rows": [
            (rate_label(rate), money(vat))
            for rate, _base, vat in totals.by_rate
            if rate is not None
        ],
        "money": money,
        "words": amount_in_words_uk(totals.total) if record.currency == "UAH" else "",
        "vat_words": money(totals.vat),
        "issued": printed_day(record.issued_on),
        "valid_until": printed_day(record.valid_until),
    }
