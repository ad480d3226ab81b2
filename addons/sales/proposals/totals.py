"""A proposal's money: line sums and the VAT of each rate, rounded as on a printed invoice
(``/work/shared/domain``).

A line's sum is quantity × price without VAT, rounded half up to kopecks; the VAT is
computed on the total of the lines of each rate ("Разом без ПДВ", "ПДВ 20%", "Всього з
ПДВ"), not per line, so the printed VAT is exactly the rate of the printed base.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from addons.sales.documents.amounts import plain_number
from core.money import KOPECK, to_kopecks

NO_VAT = "none"
VAT_CHOICES = (
    ("20", "20%"),
    ("14", "14%"),
    ("7", "7%"),
    ("0", "0%"),
    (NO_VAT, _l("No VAT")),
)


def line_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """A line's sum without VAT, half up to kopecks, as printed in the "Сума" column."""
    return to_kopecks(quantity * price)


@dataclass(frozen=True)
class Totals:
    """A proposal's totals: ``net`` ("Разом без ПДВ"), ``vat`` and ``total`` ("Всього з
    ПДВ"); ``by_rate`` is ``(rate, base, vat)`` per VAT rate, ``None`` for "без ПДВ"."""

    net: Decimal
    vat: Decimal
    total: Decimal
    by_rate: tuple[tuple[Decimal | None, Decimal, Decimal], ...]


def compute_totals(lines: Iterable[tuple[Decimal, Decimal, Decimal | None]]) -> Totals:
    """Totals of ``(quantity, price, vat_rate)`` lines: line sums rounded to kopecks, the
    VAT of each rate computed once on that rate's base and rounded half up."""
    bases: dict[Decimal | None, Decimal] = {}
    for quantity, price, rate in lines:
        key = None if rate is None else Decimal(rate).normalize()
        bases[key] = bases.get(key, Decimal("0")) + line_amount(quantity, price)
    by_rate = tuple(
        (rate, base, Decimal("0.00") if rate is None else to_kopecks(base * rate / 100))
        for rate, base in sorted(bases.items(), key=lambda item: (item[0] is None, -(item[0] or 0)))
    )
    net = sum((base for _rate, base, _vat in by_rate), Decimal("0.00"))
    vat = sum((tax for _rate, _base, tax in by_rate), Decimal("0.00"))
    return Totals(net.quantize(KOPECK), vat.quantize(KOPECK), (net + vat).quantize(KOPECK), by_rate)


def vat_rate_of(choice: str) -> Decimal | None:
    """The VAT select's value as a stored rate (``None``: without VAT)."""
    return None if choice == NO_VAT else Decimal(choice)


def vat_choice_of(rate: Decimal | None) -> str:
    """A stored rate as the VAT select's value."""
    return NO_VAT if rate is None else plain_number(Decimal(rate))


def rate_label(rate: Decimal | None) -> str:
    """A rate as the printed proposal writes it: ``20%``, ``Без ПДВ``."""
    return "Без ПДВ" if rate is None else f"{plain_number(Decimal(rate))}%"
