"""Demo data for ``make run``: a few Ukrainian companies."""

from __future__ import annotations

from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty

DEMO_NAMES = (
    "ТОВ «Ромашка»",
    "ПрАТ «Київський хлібозавод»",
    "ФОП Коваленко Олена Петрівна",
    "ТОВ «Дніпро-Агро»",
    "ТОВ «Львівська кава»",
)


def load(session: Session) -> None:
    session.add_all(Counterparty(name=name) for name in DEMO_NAMES)
