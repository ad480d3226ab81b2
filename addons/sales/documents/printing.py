"""What the printed sales documents share: the layout a record chose, the parties with
their requisites, and dates as documents write them (``/work/shared/domain``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from addons.crm_base.models import Counterparty
from core.web import db_session

#: The print layouts a document may choose (``sales/print/<key>_<name>.html``).
TEMPLATES = (("standard", _l("Standard")), ("short", _l("Short")))
TEMPLATE_NAMES = tuple(name for name, _label in TEMPLATES)


def print_template(key: str, template: str) -> str:
    """The print layout of a record's ``template`` choice (standard when unknown)."""
    chosen = template if template in TEMPLATE_NAMES else "standard"
    return f"sales/print/{key}_{chosen}.html"


def party(counterparty_id: int | None) -> dict[str, Any]:
    """A party of a document (``None``: our own organization): its name and default
    requisites (``None`` if none)."""
    from addons.crm_base.requisites import own_organization, requisites_for

    if counterparty_id is None:
        found = own_organization()
        return {"name": found.full_name if found else "", "requisites": found}
    db = db_session()
    name = db.scalar(select(Counterparty.name).where(Counterparty.id == counterparty_id)) or ""
    found = requisites_for(counterparty_id)
    return {"name": found.full_name if found else name, "requisites": found}


def printed_day(value: date | None, blank: str = "") -> str:
    """A date as documents print it (``02.03.2026``), ``blank`` when there is none."""
    return value.strftime("%d.%m.%Y") if value else blank
