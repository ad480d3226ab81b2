"""sales: the sales funnel (MS-2) — opportunities moving through the ordered stages of a
pipeline, won or lost with a reason; a list, a card, a kanban board per pipeline, a tab and
chronology entries on the counterparty's card.

Public API (other areas and addons call these; none of them commits — the caller does):

- ``default_pipeline(session) -> Pipeline``: the first active pipeline (by ``sort``, id);
  when there is none, creates "Продажі" with the stages Кваліфікація 10 %, Потреби 25 %,
  Пропозиція 50 %, Переговори 75 %.
- ``create_opportunity(session, *, counterparty_id, name, responsible_id, pipeline_id=None,
  stage_id=None, amount=Decimal(0), currency="UAH", source_id=None, campaign_id=None,
  person_id=None, user_id=None) -> Opportunity``: at the pipeline's first stage (or
  ``stage_id``), its probability taken from the stage, last in the board's column, with
  ``reached_sort`` = the stage's sort and a first :class:`StageMove` (``from`` empty).
- ``move_to_stage(session, opp, stage, user_id, position=None, probability=None)``: an open
  deal to another stage of its pipeline (probability = the stage's default, unless given),
  or to another place in the same column. ``position`` is the card's new ``position``
  value; only if another open card of the stage holds it do the cards from there down
  shift by one (one UPDATE); ``None`` puts it last.
- ``close_won(session, opp, user_id)``, ``close_lost(session, opp, reason_id, note,
  user_id)``, ``reopen(session, opp, user_id)``: close (probability 100 / 0, ``closed_at``)
  or reopen (at its stage, last in the column, the stage's probability).

Each of the last four records a :class:`StageMove` when the stage or the status changes
(a reorder inside a column records nothing), keeps ``reached_sort = max(reached_sort,
stage.sort)``, and, when the notifications addon is enabled (a soft dependency), raises
``sales.stage_changed`` to the responsible manager unless they made the change
themselves. Rule breaks (a stage of another pipeline, moving a closed deal, closing one
twice) raise :class:`FunnelError` with a message for the user.

Why the board is the way it is: a column is a keyset scan of the index
``ix_sales_opportunity_board (stage_id, status, position, id)``, so a stage holding 10,000
deals costs what one holding 20 costs; the column headers are one GROUP BY. Positions are
spaced ``POSITION_STEP`` apart, so a drop usually lands between its two neighbours (or
above the first card) without renumbering the column; only a drop between two adjacent
positions shifts the cards below it. Sums are of the deals in the pipeline's currency only
(amounts in different currencies do not add up); the other deals are counted. Record
scope (own / team / all through ``responsible_id``) applies to the list, the board, the
card, the tab, the chronology and search alike.

The parts: ``api`` (the rules above) with ``notify``, ``common`` (rights, statuses, stage
moves in words), ``board``, ``listing``, ``forms``, ``card`` (card, new, won / lost /
reopen), ``counterparty`` (the card's tab and the chronology) and ``search``. This module
declares the area to the kernel and re-exports the API and the hook functions.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from addons.crm_base.models import PERSON_SUBJECT, SUBJECT
from addons.sales.funnel.api import (
    CURRENCIES,
    POSITION_STEP,
    STAGE_STEP,
    FunnelError,
    close_lost,
    close_won,
    create_opportunity,
    default_pipeline,
    move_to_stage,
    pipeline_stages,
    reopen,
)
from addons.sales.funnel.board import pipeline_board
from addons.sales.funnel.card import OPPORTUNITY_FORM
from addons.sales.funnel.common import CREATE, DELETE, EXPORT, READ, UPDATE
from addons.sales.funnel.counterparty import card_tabs, timeline_entries
from addons.sales.funnel.listing import OPPORTUNITIES
from addons.sales.funnel.notify import STAGE_CHANGED
from addons.sales.funnel.search import global_search
from addons.sales.models import Opportunity
from addons.sales.shared import repoint
from addons.sales.views import menu
from core.hooktypes import MenuItem, NotificationEventType, PermissionDef


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read opportunities")),
        PermissionDef(CREATE, _l("Create opportunities")),
        PermissionDef(UPDATE, _l("Edit, move and close opportunities")),
        PermissionDef(DELETE, _l("Delete opportunities")),
        PermissionDef(EXPORT, _l("Export opportunities")),
    ]


def menu_items() -> list[MenuItem]:
    return [
        menu("opportunities", _l("Opportunities"), READ, 20),
        menu("board", _l("Sales board"), READ, 21),
    ]


def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            STAGE_CHANGED,
            _l("Deal moved, won or lost"),
            _l("Someone else moved a deal you are responsible for, closed it or reopened it."),
            default_channels=("popup",),
        )
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """Deals of a merged-away counterparty or contact person go to the surviving one."""
    columns = {SUBJECT: Opportunity.counterparty_id, PERSON_SUBJECT: Opportunity.person_id}
    return repoint(session, columns, subject, source_id, target_id)


__all__ = [
    "CURRENCIES",
    "OPPORTUNITIES",
    "OPPORTUNITY_FORM",
    "POSITION_STEP",
    "STAGE_STEP",
    "FunnelError",
    "card_tabs",
    "close_lost",
    "close_won",
    "create_opportunity",
    "default_pipeline",
    "global_search",
    "menu_items",
    "merge_records",
    "move_to_stage",
    "notification_event_types",
    "permissions",
    "pipeline_board",
    "pipeline_stages",
    "reopen",
    "timeline_entries",
]
