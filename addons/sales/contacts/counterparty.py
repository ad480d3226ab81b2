"""Contacts on the counterparty's card: the "Contacts" tab and the chronology (MS-6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from addons.crm_base.models import Direction
from addons.crm_base.notes import TIMELINE_LIMIT, counterparty_or_404
from addons.sales.contacts.common import (
    CREATE,
    KIND,
    READ,
    TITLED,
    card_path,
    contact_title,
    kind_label,
    status_label,
    summary,
)
from addons.sales.models import CONTACT, Contact
from addons.sales.shared import (
    COUNTERPARTY_READ,
    counterparty_tab,
    id_or_none,
    of_counterparty,
    on_counterparty_card,
)
from addons.sales.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.security import has_permission, require, user_names
from core.tz import as_utc
from core.web import db_session

TAB_PLANNED_LIMIT = 50
TAB_PAGE = 25


def _tab_cursor() -> tuple[datetime, int] | None:
    """Where the page of past contacts continues (``before=<iso>_<id>``), if valid."""
    at, _sep, raw_id = request.args.get("before", "").rpartition("_")
    record_id = id_or_none(raw_id)
    if record_id is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(at)), record_id
    except (ValueError, OverflowError):
        return None


@bp.get("/counterparties/<int:record_id>/contacts")
@require(READ)
def contact_tab(record_id: int) -> ResponseReturnValue:
    """The counterparty's contacts the user reaches: planned first (soonest first), then
    done and cancelled ones, newest first, a page at a time."""
    if not has_permission(COUNTERPARTY_READ):
        abort(403)
    counterparty = counterparty_or_404(record_id)
    db = db_session()
    base = of_counterparty(summary(), Contact, CONTACT, counterparty.id)
    cursor = _tab_cursor()
    planned: list[Any] = []
    if cursor is None:
        planned = db.execute(
            base.where(Contact.status == "planned")
            .order_by(Contact.planned_at, Contact.id)
            .limit(TAB_PLANNED_LIMIT)
        ).all()
    past_stmt = base.where(Contact.status != "planned")
    if cursor is not None:
        at, last = cursor
        past_stmt = past_stmt.where(
            or_(Contact.planned_at < at, and_(Contact.planned_at == at, Contact.id < last))
        )
    past = db.execute(
        past_stmt.order_by(Contact.planned_at.desc(), Contact.id.desc()).limit(TAB_PAGE + 1)
    ).all()
    older_url = ""
    if len(past) > TAB_PAGE:
        last_row = past[TAB_PAGE - 1]
        before = f"{as_utc(last_row.planned_at).isoformat()}_{last_row.id}"
        older_url = url_for("sales.contact_tab", record_id=counterparty.id, before=before)
    return counterparty_tab(
        "sales/contact_tab.html",
        _("Contacts"),
        counterparty,
        planned=planned,
        past=past[:TAB_PAGE],
        older_url=older_url,
        names=user_names(r.responsible_id for r in [*planned, *past]),
        kind_label=kind_label,
        status_label=status_label,
        can_create=has_permission(CREATE),
    )


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's contacts (planned and done) that ``user`` may see (MS-6)."""
    if not on_counterparty_card(subject, subject_id, user, READ):
        return []
    stmt = (
        select(
            *TITLED,
            Contact.status,
            Contact.result,
            Contact.next_step,
            Direction.name,
        )
        .outerjoin(Direction, Direction.id == Contact.direction_id)
        .where(Contact.status != "cancelled")
        .order_by(Contact.planned_at.desc(), Contact.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    entries = []
    for cid, kind, text, planned_at, status, result, next_step, direction in db_session().execute(
        of_counterparty(stmt, Contact, CONTACT, int(subject_id), user)
    ):
        title = contact_title(kind, text)
        if status == "planned":
            title = _("Planned — %(title)s", title=title)
        if direction:
            title = f"{title} · {direction}"
        body = result
        if next_step:
            step = _("Next step: %(step)s", step=next_step)
            body = f"{body}\n{step}".strip()
        entries.append(TimelineEntry(as_utc(planned_at), KIND, title, body, card_path(cid)))
    return entries


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Contacts" on a counterparty's card, with how many of them the user reaches."""
    if not on_counterparty_card(subject, subject_id, user, READ):
        return []
    stmt = select(func.count()).select_from(Contact)
    count = db_session().scalar(of_counterparty(stmt, Contact, CONTACT, int(subject_id), user))
    url = url_for("sales.contact_tab", record_id=int(subject_id))
    return [CardTab("sales.contacts", _("Contacts"), url, order=40, count=count or None)]
