"""Building a campaign's call queue: one ``sales_call`` per member of its mailing list
with a phone, inserted in bulk (see the package docstring)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from addons.crm_base.mailing import mailing_list_members
from addons.crm_base.models import Channel, MailingList, PersonLink
from addons.sales.models import Call, Campaign
from core import audit
from core.db import utcnow

BATCH = 1000


@dataclass
class BuildResult:
    """What a build did: calls queued, members skipped, members queued before."""

    added: int = 0
    no_phone: int = 0
    no_counterparty: int = 0
    already: int = 0


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _first_of_each(rows: Iterable[tuple[int, Any]]) -> dict[int, Any]:
    """The first value per key of rows sorted by key, main one first."""
    found: dict[int, Any] = {}
    for key, value in rows:
        found.setdefault(key, value)
    return found


def _phones(db: Session, owner: Any, ids: list[int]) -> dict[int, str]:
    """The main (else first) phone of each owner in ``ids`` (one query)."""
    return _first_of_each(
        db.execute(
            select(owner, Channel.value)
            .where(owner.in_(ids), Channel.kind == "phone")
            .order_by(owner, Channel.is_primary.desc(), Channel.id)
        )
    )


def _person_counterparties(db: Session, ids: list[int]) -> dict[int, int]:
    """The counterparty of each person (the main link, else the first)."""
    return _first_of_each(
        db.execute(
            select(PersonLink.person_id, PersonLink.counterparty_id)
            .where(PersonLink.person_id.in_(ids))
            .order_by(
                PersonLink.person_id, PersonLink.is_primary.desc(), PersonLink.counterparty_id
            )
        )
    )


def _member_rows(
    db: Session, of_persons: bool, ids: list[int], result: BuildResult
) -> list[tuple[int, int | None, str]]:
    """``(counterparty id, person id, phone)`` of a batch of members; those without a
    phone (or, for persons, without a counterparty) are counted in ``result``."""
    phones = _phones(db, Channel.person_id if of_persons else Channel.counterparty_id, ids)
    companies = _person_counterparties(db, ids) if of_persons else {}
    rows = []
    for member_id in ids:
        phone = phones.get(member_id)
        counterparty_id = companies.get(member_id) if of_persons else member_id
        if not phone:
            result.no_phone += 1
        elif counterparty_id is None:
            result.no_counterparty += 1
        else:
            rows.append((counterparty_id, member_id if of_persons else None, phone))
    return rows


def build_queue(db: Session, campaign: Campaign, user: Any) -> BuildResult:
    """Queue a call for every member of the campaign's mailing list (as ``user`` sees the
    list) not queued yet; bulk inserts, in the caller's transaction."""
    result = BuildResult()
    mailing = db.get(MailingList, campaign.mailing_list_id) if campaign.mailing_list_id else None
    if mailing is None:
        return result
    # Serialise builds of one campaign: the second sees the first one's rows.
    db.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    of_persons = mailing.subject == "person"
    existing = {
        (c, p)
        for c, p in db.execute(
            select(Call.counterparty_id, Call.person_id).where(Call.campaign_id == campaign.id)
        )
    }
    now = utcnow()
    members = (
        member_id for member_id, _name, _emails in mailing_list_members(db, mailing.id, user)
    )
    for ids in _chunks(members, BATCH):
        new = []
        for counterparty_id, person_id, phone in _member_rows(db, of_persons, ids, result):
            if (counterparty_id, person_id) in existing:
                result.already += 1
                continue
            existing.add((counterparty_id, person_id))
            new.append(
                {
                    "campaign_id": campaign.id,
                    "counterparty_id": counterparty_id,
                    "person_id": person_id,
                    "phone": phone[:40],
                    "due_at": now,
                }
            )
        if new:
            db.execute(insert(Call), new)
            result.added += len(new)
    audit.record(
        db,
        "build_queue",
        "sales_campaign",
        str(campaign.id),
        added=result.added,
        no_phone=result.no_phone,
        no_counterparty=result.no_counterparty,
        already=result.already,
    )
    return result
