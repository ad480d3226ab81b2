"""Money: ``Decimal`` amounts, UAH formatting and the amount in words of Ukrainian documents.

Money is ``Decimal`` everywhere (the database's ``Numeric``), never ``float``: a float cannot
hold 2.675 and rounds it the wrong way. :func:`to_decimal` is the one gate every amount goes
through, so a float fails loudly at the first helper it reaches instead of printing a kopeck
off on an invoice. See ``/work/shared/domain/ua-documents.md`` ("Amount in words").
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel import Locale
from babel.numbers import format_currency, format_decimal

KOPECK = Decimal("0.01")
NBSP = "\u00a0"
UAH_SHORT = "грн"


def to_decimal(value: Decimal | int | str) -> Decimal:
    """``value`` as a finite ``Decimal``; a ``float`` (or ``bool``) is refused.

    A ``str`` ("1200.50") or an ``int`` (whole hryvnias) is converted exactly; a float has
    already lost the exact value, so it is an error rather than a silent rounding.
    """
    if isinstance(value, bool | float):
        raise TypeError(
            f"money must be a Decimal, int or str, not {type(value).__name__} ({value!r}): "
            "a float cannot hold amounts exactly; use Decimal('…') or a string"
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not an amount of money: {value!r}") from None
    else:
        raise TypeError(f"money must be a Decimal, int or str, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return result


def to_kopecks(value: Decimal | int | str) -> Decimal:
    """Rounded to whole kopecks, half up (2.675 → 2.68), as on a printed document."""
    return to_decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def format_uah(amount: Decimal | int | str, locale: str | Locale | None = "uk") -> str:
    """``1 200,00 грн`` in Ukrainian (what documents print), Babel's currency format otherwise.

    Babel's own Ukrainian currency format ends in the sign "₴"; invoices and acts write
    "грн", so for Ukrainian only the number comes from Babel. The spaces are non-breaking,
    so an amount never wraps across lines in a table cell.
    """
    value = to_kopecks(amount)
    loc = Locale.parse(locale or "uk")
    if loc.language == "uk":
        return f"{format_decimal(value, format='#,##0.00', locale=loc)}{NBSP}{UAH_SHORT}"
    return format_currency(value, "UAH", locale=loc)


def amount_in_words_uk(amount: Decimal | int | str) -> str:
    """The words of an invoice's total: "Одна тисяча двісті гривень 00 копійок".

    num2words does the grammar (feminine гривня and тисяча, 11–14 → гривень); its traps
    are avoided here: it always gets a ``Decimal`` (an ``int`` would be read as kopecks),
    rounded to kopecks first, and the first letter is capitalised by hand.
    """
    from num2words import num2words  # imported when first needed: not at app start-up

    value = to_kopecks(amount)
    words = num2words(value, lang="uk", to="currency", currency="UAH", cents=False, separator="")
    words = " ".join(words.split())
    return words[:1].upper() + words[1:]


def _uah_filter(value: Any, locale: str | None = None) -> str:
    """Jinja ``uah``: in the given locale, else the request's (Ukrainian outside one)."""
    if value is None or value == "":
        return ""
    if locale is None:
        from flask_babel import get_locale

        current = get_locale()
        locale = str(current) if current is not None else "uk"
    return format_uah(value, locale)


def _amount_in_words_filter(value: Any) -> str:
    """Jinja ``amount_in_words``: always Ukrainian, the language of the documents."""
    return "" if value is None or value == "" else amount_in_words_uk(value)


def jinja_filters() -> dict[str, Callable[..., str]]:
    """The template filters ``uah`` and ``amount_in_words``, for the app's environment."""
    return {"uah": _uah_filter, "amount_in_words": _amount_in_words_filter}
