"""Money helpers (issue 4): Decimal only, UAH formatting, the amount in words of documents.

The expected words follow /work/shared/domain/ua-documents.md ("Amount in words"): гривня
and копійка are feminine, 11–14 take "гривень", тисяча is feminine, мільйон masculine,
kopecks are two digits, the first letter is capital.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from jinja2 import Environment

from core.money import amount_in_words_uk, format_uah, jinja_filters, to_decimal

NBSP = "\u00a0"


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1200", "Одна тисяча двісті гривень 00 копійок"),
        ("1", "Одна гривня 00 копійок"),
        ("2", "Дві гривні 00 копійок"),
        ("5", "П'ять гривень 00 копійок"),
        ("11", "Одинадцять гривень 00 копійок"),
        ("12", "Дванадцять гривень 00 копійок"),
        ("13", "Тринадцять гривень 00 копійок"),
        ("14", "Чотирнадцять гривень 00 копійок"),
        ("21", "Двадцять одна гривня 00 копійок"),
        ("22.50", "Двадцять дві гривні 50 копійок"),
        ("2000", "Дві тисячі гривень 00 копійок"),
        ("1000000", "Один мільйон гривень 00 копійок"),
        ("0.01", "Нуль гривень 01 копійка"),
        ("0.02", "Нуль гривень 02 копійки"),
        (
            "1234567.89",
            "Один мільйон двісті тридцять чотири тисячі п'ятсот шістдесят сім гривень 89 копійок",
        ),
    ],
)
def test_amount_in_words(amount, words):
    assert amount_in_words_uk(Decimal(amount)) == words


def test_amount_in_words_from_str_and_int_means_hryvnias_not_kopecks():
    # num2words reads an int as kopecks (100 → "одна гривня"); ours never passes it one.
    assert amount_in_words_uk(100) == "Сто гривень 00 копійок"
    assert amount_in_words_uk("1200.00") == "Одна тисяча двісті гривень 00 копійок"


@pytest.mark.parametrize("amount", ["2.675", Decimal("2.675")])
def test_half_a_kopeck_rounds_up_when_given_exactly(amount):
    assert amount_in_words_uk(amount) == "Дві гривні 68 копійок"
    assert format_uah(amount) == f"2,68{NBSP}грн"


def test_float_is_refused_everywhere_with_a_clear_error():
    for func in (to_decimal, amount_in_words_uk, format_uah):
        with pytest.raises(TypeError, match="float"):
            func(2.675)
    with pytest.raises(TypeError):
        to_decimal(True)


@pytest.mark.parametrize("bad", ["", "12,50", "abc", "NaN", "Infinity"])
def test_what_is_not_an_amount_is_refused(bad):
    with pytest.raises(ValueError, match="not an amount"):
        to_decimal(bad)


def test_to_decimal_is_exact():
    assert to_decimal(" 1200.50 ") == Decimal("1200.50")
    assert to_decimal(7) == Decimal(7)
    value = Decimal("0.10")
    assert to_decimal(value) is value


def test_format_uah_ukrainian_is_what_documents_print():
    assert format_uah(Decimal("1200")) == f"1{NBSP}200,00{NBSP}грн"
    assert format_uah(Decimal("1234567.5"), "uk") == f"1{NBSP}234{NBSP}567,50{NBSP}грн"
    assert format_uah("0", "uk_UA") == f"0,00{NBSP}грн"
    assert format_uah(Decimal("-5"), "uk") == f"-5,00{NBSP}грн"


def test_format_uah_other_locales_use_babel():
    assert format_uah(Decimal("1200"), "en") == "UAH1,200.00"


def test_jinja_filters():
    env = Environment(autoescape=True)
    env.filters.update(jinja_filters())
    html = env.from_string("{{ a|uah('uk') }} | {{ a|amount_in_words }} | {{ n|uah('uk') }}")
    assert html.render(a=Decimal("21"), n=None) == (
        f"21,00{NBSP}грн | Двадцять одна гривня 00 копійок | "
    )
    # Outside a request the locale is Ukrainian.
    assert env.from_string("{{ a|uah }}").render(a=Decimal("1")) == f"1,00{NBSP}грн"
