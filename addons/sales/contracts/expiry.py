"""Contracts that end soon: the ``sales.contract_expiring`` event, raised by an hourly job
(``sales.contract_expiry``) for active contracts ending within ``sales.contract_expiry_days``
days, to the responsible manager, once per contract and end date (the event key: moving
the end date warns again); and the same contracts among the user's reminders. The
notifications addon is optional: without it the job does nothing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.sales.contracts.kind import KIND, READ
from addons.sales.documents.printing import printed_day
from addons.sales.models import Contract
from addons.sales.shared import int_setting
from core.db import write_intent
from core.hooktypes import Reminder
from core.security import has_permission
from core.web import db_session

EXPIRING = "sales.contract_expiring"
EXPIRY_JOB = "sales.contract_expiry"
EXPIRY_SETTING = "sales.contract_expiry_days"
DEFAULT_EXPIRY_DAYS = 30
MAX_EXPIRY_DAYS = 366
EXPIRY_EVERY_SECONDS = 3600  # daily work; hourly runs catch up after a restart
REMINDERS_LIMIT = 200


def expiry_days(session: Session) -> int:
    """The ``sales.contract_expiry_days`` setting (a default for anything unreadable)."""
    return int_setting(session, EXPIRY_SETTING, DEFAULT_EXPIRY_DAYS, 0, MAX_EXPIRY_DAYS)


def expiring(day: date, days: int) -> Any:
    """Active contracts ending from ``day`` to ``day + days`` (the (status, ends_on) index)."""
    return (
        select(
            Contract.id,
            Contract.number,
            Contract.ends_on,
            Contract.responsible_id,
            Counterparty.name,
        )
        .join(Counterparty, Counterparty.id == Contract.counterparty_id)
        .where(
            Contract.status == "active",
            Contract.ends_on >= day,
            Contract.ends_on <= day + timedelta(days=days),
        )
        .order_by(Contract.ends_on, Contract.id)
    )


def scan_expiring_contracts(
    session: Session, day: date, hooks: Any = None, language: str = "uk"
) -> int:
    """Raise ``sales.contract_expiring`` for the contracts ending soon, in the caller's
    transaction; returns how many events were new (each contract and end date once)."""
    from addons.notifications.events import EventSpec, raise_events

    stmt = expiring(day, expiry_days(session)).where(Contract.responsible_id.is_not(None))
    with force_locale(language):
        specs = [
            EventSpec(
                EXPIRING,
                f"contract:{cid}:{ends_on.isoformat()}",
                _(
                    "Contract %(number)s ends on %(day)s",
                    number=number,
                    day=printed_day(ends_on),
                ),
                name,
                f"/sales/contracts/{cid}",
                (responsible,),
            )
            for cid, number, ends_on, responsible, name in session.execute(stmt)
        ]
    return len(raise_events(session, specs, hooks=hooks))


def expiry_job(app: Any) -> None:
    """The ``sales.contract_expiry`` job: one short writing transaction, when the
    notifications addon is enabled (else there is nobody to tell)."""
    kernel = app.extensions["vitrylo"]
    if not kernel.is_enabled("notifications"):
        return
    from addons.notifications.channels import read_settings
    from addons.notifications.scans import today_in

    with write_intent(), kernel.db.session_factory() as session, session.begin():
        today = today_in(read_settings(session)["notifications.timezone"])
        scan_expiring_contracts(session, today, hooks=kernel.hooks)


def ending_soon(user: Any, day: date) -> list[Reminder]:
    """The user's reminders: their active contracts ending within the warning period from
    ``day``."""
    if not has_permission(READ, user):
        return []
    db = db_session()
    stmt = expiring(day, expiry_days(db)).where(Contract.responsible_id == user.id)
    label = _("Contracts expiring")
    return [
        Reminder(
            "sales.contract",
            _("Contract %(number)s ends", number=number),
            ends_on,
            url=KIND.card_url(cid),
            key=f"sales.contract.{cid}",
            kind_label=label,
            detail=name,
        )
        for cid, number, ends_on, _responsible, name in db.execute(stmt.limit(REMINDERS_LIMIT))
    ]
