"""Money in sales documents: printed as a Ukrainian document prints it (``1 200,00 грн``),
shown in lists in the reader's language. How amounts are typed (``1 200,50``) is in
:mod:`addons.sales.shared`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal as babel_decimal
from flask_babel import format_decimal

from core.money import format_uah, to_kopecks


def plain_number(value: Decimal) -> str:
    """``Decimal("2.500")`` → ``"2.5"``, ``Decimal("100")`` → ``"100"`` (never ``1E+2``)."""
    return format(value.normalize(), "f")


def money_text(value: Decimal, currency: str) -> str:
    """An amount as a Ukrainian document prints it: ``1 200,00 грн``, else with the code
    (``1 200,00 USD``)."""
    if currency == "UAH":
        return format_uah(value, "uk")
    number = babel_decimal(to_kopecks(value), format="#,##0.00", locale="uk")
    return f"{number}\u00a0{currency}"


def amount_cell(value: Any) -> str:
    """An amount in a list, in the reader's language."""
    return "" if value is None else format_decimal(value, format="#,##0.00")
