"""sales: telemarketing (MS-3) — call campaigns over a crm_base mailing list, the
operator's call queue, call outcomes and the campaign's progress.

Why it is built this way:

- **The queue is rows, built in bulk.** "Build the queue" reads the mailing list's members
  as the user building it may see them (:func:`addons.crm_base.mailing.mailing_list_members`,
  keyset batches) and inserts one ``sales_call`` per member with a phone, a thousand rows
  per statement: a list of 50,000 builds in seconds. The campaign row is locked first
  (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialised anyway), so two builds at
  once cannot queue a member twice; a rebuild adds only members not queued yet.
- **A call is claimed atomically.** ``UPDATE … SET taken_at = now WHERE id = :id AND
  (taken_at IS NULL OR taken_at < now - 15 min)``: of two operators racing for one number
  only one UPDATE matches a row, the other moves on to the next. A claim that is not
  answered within 15 minutes (the operator went home) frees the number for others.
  Taking a call changes data, so it is a POST ("Take the next call"); an outcome takes the
  next call at once, so an operator clicks once per call.
- **An outcome is one transaction**: the call's new state (guarded by its version and by
  the claim, so a call another operator holds is never overwritten), a done contact of
  kind "call" (the counterparty's chronology shows it through the contacts area), and for
  "interested" an opportunity (:func:`addons.sales.funnel.create_opportunity`).
- **Open calls** are ``pending`` (never reached, or "no answer" fewer than three times) and
  ``call_back``; the others are final. ``operator_id`` keeps who handled a call last (the
  progress per operator), ``taken_at`` says whether it is held now.

Rights: ``sales.campaign.read/create/update/delete`` (record scope through the responsible
manager) and ``sales.campaign.call`` (work the queues of the active campaigns one is an
operator of).

The parts: ``common`` (rights, statuses, outcomes), ``forms``, ``campaigns`` (list, card,
status), ``queue_build``, ``calls`` (claims and outcomes), ``queue`` (the operator's pages)
and ``stats`` (progress). This module declares the area to the kernel.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from addons.crm_base.models import PERSON_SUBJECT, SUBJECT
from addons.sales.models import Call
from addons.sales.shared import repoint
from addons.sales.telemarketing import queue as _pages  # noqa: F401 - registers the routes
from addons.sales.telemarketing.calls import (
    CLAIM_MINUTES,
    RETRY_AFTER,
    claim,
    held_call,
    release,
    take_next,
)
from addons.sales.telemarketing.campaigns import CAMPAIGN_FORM, CAMPAIGNS, operator_ids
from addons.sales.telemarketing.common import CALL, CREATE, DELETE, READ, UPDATE
from addons.sales.telemarketing.forms import list_choices, readable_lists
from addons.sales.telemarketing.queue_build import build_queue
from addons.sales.telemarketing.stats import progress
from addons.sales.views import menu
from core.hooktypes import MenuItem, PermissionDef


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read call campaigns")),
        PermissionDef(CREATE, _l("Create call campaigns")),
        PermissionDef(UPDATE, _l("Edit call campaigns")),
        PermissionDef(DELETE, _l("Delete call campaigns")),
        PermissionDef(CALL, _l("Work a call queue")),
    ]


def menu_items() -> list[MenuItem]:
    return [
        menu("campaigns", _l("Call campaigns"), READ, 40),
        menu("queue", _l("My call queue"), CALL, 41),
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """Calls of a merged duplicate (counterparty or person) follow the record kept."""
    columns = {SUBJECT: Call.counterparty_id, PERSON_SUBJECT: Call.person_id}
    return repoint(session, columns, subject, source_id, target_id, version=Call.version + 1)


__all__ = [
    "CAMPAIGNS",
    "CAMPAIGN_FORM",
    "CLAIM_MINUTES",
    "RETRY_AFTER",
    "build_queue",
    "claim",
    "held_call",
    "list_choices",
    "menu_items",
    "merge_records",
    "operator_ids",
    "permissions",
    "progress",
    "readable_lists",
    "release",
    "take_next",
]
