"""The calls of a queue: which campaigns an operator works, claiming a call atomically,
handing it back, what the operator sees of it, and saving its outcome (see the package
docstring)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import Session

from addons.crm_base.codes import format_phone
from addons.crm_base.models import Counterparty, Person
from addons.sales.funnel import create_opportunity
from addons.sales.models import Call, Campaign, CampaignOperator, Contact
from addons.sales.telemarketing.common import OPEN, OUTCOME_LABELS
from addons.sales.telemarketing.forms import OutcomeForm, callback_utc
from core.db import utcnow
from core.security import user_names

CLAIM_MINUTES = 15
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 3
CLAIM_ROUNDS = 3
HISTORY_LIMIT = 20


def workable(user_id: int, campaign_id: int | None = None) -> Select[Any]:
    """Ids of the active campaigns ``user_id`` is an operator of (``campaign_id`` only)."""
    stmt = (
        select(Campaign.id)
        .join(
            CampaignOperator,
            and_(CampaignOperator.campaign_id == Campaign.id, CampaignOperator.user_id == user_id),
        )
        .where(Campaign.status == "active")
    )
    return stmt if campaign_id is None else stmt.where(Campaign.id == campaign_id)


def _claim_expired(now: datetime) -> datetime:
    """Claims older than this are void (the operator went home)."""
    return now - timedelta(minutes=CLAIM_MINUTES)


def free(now: datetime) -> Any:
    """Nobody holds the call (never taken, released, or the claim expired)."""
    return or_(Call.taken_at.is_(None), Call.taken_at < _claim_expired(now))


def _update_calls(db: Session, *where: Any, **values: Any) -> int:
    """One UPDATE of the calls matching ``where``, their version bumped (a page showing
    one is stale then); how many rows it changed."""
    result = db.execute(
        update(Call)
        .where(*where)
        .values(version=Call.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def claim(db: Session, call_id: int, user_id: int, now: datetime | None = None) -> bool:
    """Take call ``call_id`` for ``user_id`` if nobody holds it: one UPDATE whose WHERE is
    the check, so of two operators at once only one gets it."""
    now = now or utcnow()
    where = (Call.id == call_id, Call.outcome.in_(OPEN), free(now))
    return _update_calls(db, *where, operator_id=user_id, taken_at=now) == 1


def held_call(db: Session, user_id: int, campaign_id: int | None = None) -> int | None:
    """The call ``user_id`` holds now (in the campaigns they may work), if any."""
    return db.scalar(
        select(Call.id)
        .where(
            Call.operator_id == user_id,
            Call.taken_at >= _claim_expired(utcnow()),
            Call.outcome.in_(OPEN),
            Call.campaign_id.in_(workable(user_id, campaign_id)),
        )
        .order_by(Call.taken_at.desc(), Call.id)
        .limit(1)
    )


def take_next(db: Session, user_id: int, campaign_id: int | None = None) -> int | None:
    """The call ``user_id`` holds, else the next due one claimed for them (or ``None``)."""
    current = held_call(db, user_id, campaign_id)
    if current is not None:
        return current
    for _round in range(CLAIM_ROUNDS):
        now = utcnow()
        candidates = db.scalars(
            select(Call.id)
            .where(
                Call.campaign_id.in_(workable(user_id, campaign_id)),
                Call.outcome.in_(OPEN),
                Call.due_at <= now,
                free(now),
            )
            .order_by(Call.due_at, Call.id)
            .limit(10)
        ).all()
        if not candidates:
            return None
        for call_id in candidates:
            if claim(db, call_id, user_id, now):
                return call_id
    return None


def release(db: Session, call_id: int, user_id: int) -> bool:
    """Give back a held call unanswered (the operator pauses)."""
    where = (Call.id == call_id, Call.operator_id == user_id, Call.taken_at.is_not(None))
    return _update_calls(db, *where, taken_at=None) == 1


@dataclass(frozen=True)
class CallView:
    """What the operator sees of a call."""

    id: int
    campaign_id: int
    campaign: str
    script: str
    counterparty_id: int | None
    counterparty: str
    person_id: int | None
    person: str
    phone: str
    phone_shown: str
    attempts: int
    outcome: str
    version: int
    due_at: datetime | None


def load_call(db: Session, call_id: int) -> CallView | None:
    """The call with its campaign's script and its member's names (one query)."""
    row = db.execute(
        select(
            Call.id,
            Call.campaign_id,
            Campaign.name.label("campaign"),
            Campaign.script,
            Call.counterparty_id,
            func.coalesce(Counterparty.name, "").label("counterparty"),
            Call.person_id,
            func.coalesce(Person.full_name, "").label("person"),
            Call.phone,
            Call.attempts,
            Call.outcome,
            Call.version,
            Call.due_at,
        )
        .join(Campaign, Campaign.id == Call.campaign_id)
        .outerjoin(Counterparty, Counterparty.id == Call.counterparty_id)
        .outerjoin(Person, Person.id == Call.person_id)
        .where(Call.id == call_id)
    ).one_or_none()
    if row is None:
        return None
    shown = format_phone(row.phone) if row.phone else ""
    return CallView(**row._mapping, phone_shown=shown)


def call_history(db: Session, call: CallView) -> list[dict[str, Any]]:
    """Earlier calls of this campaign to this member (the contacts recorded)."""
    stmt = (
        select(Contact.done_at, Contact.result, Contact.responsible_id)
        .where(
            Contact.campaign_id == call.campaign_id,
            Contact.counterparty_id == call.counterparty_id,
            Contact.person_id.is_(None)
            if call.person_id is None
            else Contact.person_id == call.person_id,
        )
        .order_by(Contact.id.desc())
        .limit(HISTORY_LIMIT)
    )
    rows = db.execute(stmt).all()
    names = user_names(r.responsible_id for r in rows if r.responsible_id)
    return [
        {"at": r.done_at, "result": r.result, "by": names.get(r.responsible_id, "")} for r in rows
    ]


# -- outcomes --------------------------------------------------------------------------------


def _outcome_values(call: CallView, form: OutcomeForm, now: datetime) -> dict[str, Any]:
    """The call's new columns for the pressed outcome."""
    outcome = form.outcome.data
    values: dict[str, Any] = {
        "outcome": outcome,
        "attempts": call.attempts + 1,
        "called_at": now,
        "taken_at": None,
        "note": form.note.data or "",
    }
    if outcome == "no_answer":
        values["outcome"] = "no_answer" if call.attempts + 1 >= MAX_ATTEMPTS else "pending"
        values["due_at"] = now + RETRY_AFTER
    elif outcome == "call_back":
        values["due_at"] = callback_utc(form.callback_at.data)
    return values


def _result_text(outcome: str, form: OutcomeForm) -> str:
    text = str(OUTCOME_LABELS[outcome])
    if outcome == "call_back" and form.callback_at.data is not None:
        text += " " + form.callback_at.data.strftime("%Y-%m-%d %H:%M")
    return f"{text}: {form.note.data}" if form.note.data else text


def record_outcome(
    db: Session, campaign: Campaign, call: CallView, form: OutcomeForm, user_id: int
) -> str | None:
    """Save the outcome (call, contact, opportunity) in the caller's transaction; the
    message why not (nothing written) if another operator holds the call or it changed.
    The funnel's refusal of the opportunity (a ``ValueError``) propagates."""
    now = utcnow()
    values = _outcome_values(call, form, now)
    mine = (
        Call.id == call.id,
        Call.campaign_id == campaign.id,
        Call.version == call.version,
        Call.outcome.in_(OPEN),
        or_(Call.operator_id == user_id, free(now)),
    )
    if _update_calls(db, *mine, operator_id=user_id, **values) != 1:
        return _("This call was handled meanwhile or another operator has it: nothing saved.")
    opportunity_id = None
    if form.outcome.data == "interested":
        name = form.opportunity_name.data or f"{campaign.name} — {call.counterparty}"
        opportunity_id = create_opportunity(
            db,
            counterparty_id=call.counterparty_id,
            name=name[:300],
            responsible_id=user_id,
            pipeline_id=campaign.pipeline_id,
            source_id=campaign.source_id,
            campaign_id=campaign.id,
            person_id=call.person_id,
            user_id=user_id,
        ).id
        _update_calls(db, Call.id == call.id, opportunity_id=opportunity_id)
    db.add(
        Contact(
            kind="call",
            subject=_("Call: %(campaign)s", campaign=campaign.name)[:300],
            planned_at=now,
            status="done",
            done_at=now,
            responsible_id=user_id,
            counterparty_id=call.counterparty_id,
            person_id=call.person_id,
            campaign_id=campaign.id,
            source_id=campaign.source_id,
            opportunity_id=opportunity_id,
            result=_result_text(values["outcome"], form),
            created_by=user_id,
        )
    )
    return None
