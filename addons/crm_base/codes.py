"""Ukrainian codes and contacts, checked with well-kept libraries (OR-1, CL-1).

python-stdnum checks EDRPOU, RNOKPP and IBAN check digits; phonenumbers parses phones into
E.164; email-validator checks addresses. Each function returns the normalised value or
raises ``ValueError`` with a message fit for the user (translated).
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError
from stdnum.ua import edrpou, rntrc

DEFAULT_REGION = "UA"
VAT_NUMBER_RE = re.compile(r"^\d{12}$")


def normalize_edrpou(value: str) -> str:
    """An 8-digit EDRPOU code with a valid check digit."""
    try:
        return str(edrpou.validate(value))
    except ValidationError as exc:
        raise ValueError(
            _(
                "EDRPOU code %(code)s is not valid: it must have 8 digits and a "
                "correct check digit.",
                code=value,
            )
        ) from exc


def normalize_rnokpp(value: str) -> str:
    """A 10-digit individual tax number (RNOKPP) with a valid check digit."""
    try:
        return str(rntrc.validate(value))
    except ValidationError as exc:
        raise ValueError(
            _(
                "Tax number %(code)s is not valid: it must have 10 digits and a "
                "correct check digit.",
                code=value,
            )
        ) from exc


def normalize_tax_code(value: str) -> str:
    """EDRPOU (8 digits) of a company or RNOKPP (10 digits) of a person, by its length."""
    digits = re.sub(r"\s", "", value or "")
    if len(digits) == 8:
        return normalize_edrpou(digits)
    if len(digits) == 10:
        return normalize_rnokpp(digits)
    raise ValueError(_("A tax code has 8 digits (EDRPOU) or 10 digits (RNOKPP)."))


def normalize_iban(value: str) -> str:
    """A Ukrainian IBAN (UA + 27 characters) with valid mod-97 check digits."""
    compact = stdnum_iban.compact(value or "")
    if not compact.startswith("UA") or len(compact) != 29:
        raise ValueError(_("A Ukrainian IBAN starts with UA and has 29 characters."))
    try:
        return str(stdnum_iban.validate(compact))
    except ValidationError as exc:
        raise ValueError(_("IBAN %(iban)s is not valid: check the digits.", iban=value)) from exc


def normalize_vat_number(value: str) -> str:
    """The 12-digit VAT payer number (no check digit to verify: shape only)."""
    digits = re.sub(r"\s", "", value or "")
    if not VAT_NUMBER_RE.match(digits):
        raise ValueError(_("A VAT payer number has 12 digits."))
    return digits


def normalize_phone(value: str, region: str = DEFAULT_REGION) -> str:
    """A phone number in E.164 (``+380441234567``); local numbers are read as Ukrainian."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("%(value)s is not a phone number.", value=value)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(_("%(value)s is not a valid phone number.", value=value))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """How a stored phone is shown: ``+380 44 123 4567``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def normalize_email(value: str) -> str:
    """A syntactically valid e-mail address, lower-cased (no DNS lookup: works offline)."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(_("%(value)s is not a valid e-mail address.", value=value)) from exc
    return result.normalized.lower()


def normalize_channel(kind: str, value: str) -> str:
    """The stored form of a contact channel's value, by its kind."""
    if kind == "phone":
        return normalize_phone(value)
    if kind == "email":
        return normalize_email(value)
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValueError(_("The value is empty."))
    return cleaned[:254]
