"""Ukrainian codes and contacts are checked and normalised (OR-1, CL-1)."""

from __future__ import annotations

import pytest

from addons.crm_base import codes


def test_valid_codes_pass_and_are_normalised(vitrylo_app):
    with vitrylo_app.test_request_context():
        assert codes.normalize_edrpou("32855961") == "32855961"
        assert codes.normalize_tax_code(" 1759013776 ") == "1759013776"
        assert codes.normalize_iban("UA21 3223 1300 0002 6007 2335 6600 1") == (
            "UA213223130000026007233566001"
        )
        assert codes.normalize_vat_number("123456789012") == "123456789012"
        assert codes.normalize_phone("044 123 45 67") == "+380441234567"
        assert codes.normalize_phone("+380 67 123 4567") == "+380671234567"
        assert codes.format_phone("+380441234567") == "+380 44 123 4567"
        assert codes.normalize_email(" Olena.K@Example.COM ") == "olena.k@example.com"


@pytest.mark.parametrize(
    ("func", "value"),
    [
        (codes.normalize_edrpou, "32855968"),
        (codes.normalize_tax_code, "123"),
        (codes.normalize_tax_code, "1759013775"),
        (codes.normalize_iban, "UA213223130000026007233566002"),
        (codes.normalize_iban, "DE89370400440532013000"),
        (codes.normalize_vat_number, "12345"),
        (codes.normalize_phone, "not a phone"),
        (codes.normalize_phone, "123"),
        (codes.normalize_email, "olena@"),
    ],
)
def test_invalid_codes_get_a_clear_message(vitrylo_app, func, value):
    with vitrylo_app.test_request_context(), pytest.raises(ValueError) as err:
        func(value)
    assert str(err.value)
