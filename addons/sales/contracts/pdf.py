"""The printed contract (``/print/sales.contract/<id>``): the parties with their
requisites, the subject, the amount in figures and words, the term and the signatures;
"standard" or "short"."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from addons.sales.documents.amounts import money_text
from addons.sales.documents.printing import party, print_template, printed_day
from addons.sales.models import CONTRACT, Contract
from addons.sales.views import record_or_404
from core.money import amount_in_words_uk

#: The blank a printed contract leaves for a date not known yet.
NO_DAY = "«___» __________ 20__"


def contract_context(record_id: int) -> dict[str, Any]:
    """The printed contract; the record is loaded within the user's scope (404 outside)."""
    record = record_or_404(Contract, record_id, CONTRACT)
    amount = Decimal(record.amount)
    return {
        "title": f"Договір № {record.number}",
        "variant": print_template("contract", record.template),
        "record": record,
        "supplier": party(None),
        "buyer": party(record.counterparty_id),
        "amount": money_text(amount, record.currency),
        "words": amount_in_words_uk(amount) if record.currency == "UAH" else "",
        "signed": printed_day(record.signed_on, NO_DAY),
        "starts": printed_day(record.starts_on, NO_DAY),
        "ends": printed_day(record.ends_on, NO_DAY),
    }
