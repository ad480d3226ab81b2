"""The contacts list with the signed-in user's quick tabs (today, overdue, this week)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_
from sqlalchemy.orm import aliased

from addons.crm_base.models import Counterparty, Person
from addons.sales.contacts.common import (
    CREATE,
    KIND_LABELS,
    READ,
    STATUS_LABELS,
    kind_label,
    local_moment,
    local_today,
    status_label,
)
from addons.sales.models import CONTACT, CONTACT_KINDS, CONTACT_STATUSES, Contact
from addons.sales.shared import user_label
from addons.sales.sources import all_source_choices
from addons.sales.views import bp
from core.db import utcnow
from core.models import User
from core.security import has_permission, require, user_choices
from core.tz import user_timezone
from core.ui import ChoiceFilter, Column, DateRangeFilter, ListView, RelatedFilter

QUICK_TABS = ("today", "overdue", "week")
QUICK_LABELS: dict[str, Any] = {
    "today": _l("My today"),
    "overdue": _l("Overdue"),
    "week": _l("This week"),
}
Responsible = aliased(User)


def quick_condition(which: str, user_id: int, now: datetime, tz: tzinfo) -> Any:
    """The quick tabs, for the signed-in user: contacts of today (in their time zone),
    planned ones already due, and those of this week (Monday to Sunday)."""
    mine = Contact.responsible_id == user_id
    today = local_today(tz)
    if which == "overdue":
        return and_(mine, Contact.status == "planned", Contact.planned_at < now)
    if which == "week":
        monday = today - timedelta(days=today.weekday())
        start, end = monday, monday + timedelta(days=7)
    else:
        start, end = today, today + timedelta(days=1)
    return and_(
        mine,
        Contact.status != "cancelled",
        Contact.planned_at >= local_moment(start, time.min, tz),
        Contact.planned_at < local_moment(end, time.min, tz),
    )


def _quick(which: str) -> Any:
    return quick_condition(which, current_user.id, utcnow(), user_timezone())


CONTACTS = ListView(
    name="sales_contacts",
    endpoint="sales.contacts",
    model=Contact,
    title=_l("Contacts"),
    columns=[
        Column("when", _l("When"), Contact.planned_at, sortable=True),
        Column("kind", _l("Kind"), Contact.kind, format=kind_label, export_format=kind_label),
        Column(
            "subject",
            _l("Subject"),
            Contact.subject,
            link=lambda row: url_for("sales.contact", record_id=row.id),
        ),
        Column("counterparty", _l("Counterparty"), Counterparty.name),
        Column("person", _l("Contact person"), Person.full_name),
        Column("responsible", _l("Responsible"), user_label(Responsible)),
        Column(
            "status", _l("Status"), Contact.status, format=status_label, export_format=status_label
        ),
    ],
    joins=[
        (Counterparty, Counterparty.id == Contact.counterparty_id),
        (Person, Person.id == Contact.person_id),
        (Responsible, Responsible.id == Contact.responsible_id),
    ],
    search=[Contact.subject, Counterparty.name],
    filters=[
        ChoiceFilter("show", _l("Show"), [(k, QUICK_LABELS[k]) for k in QUICK_TABS], where=_quick),
        ChoiceFilter(
            "status",
            _l("Status"),
            [(s, STATUS_LABELS[s]) for s in CONTACT_STATUSES],
            Contact.status,
        ),
        ChoiceFilter(
            "kind", _l("Kind"), [(k, KIND_LABELS[k]) for k in CONTACT_KINDS], Contact.kind
        ),
        RelatedFilter("responsible", _l("Responsible"), Contact.responsible_id, user_choices),
        ChoiceFilter(
            "source", _l("Lead source"), all_source_choices, Contact.source_id, coerce=int
        ),
        DateRangeFilter("period", _l("Period"), Contact.planned_at),
        RelatedFilter("counterparty", _l("Counterparty no."), Contact.counterparty_id),
    ],
    default_sort="-when",
    subject=CONTACT,
    owner=Contact.responsible_id,
    export_permission=READ,
    export_endpoint="sales.contacts_export",
    empty_message=_l("No contacts yet."),
)


@bp.route("/contacts")
@require(READ)
def contacts() -> ResponseReturnValue:
    """All contacts the user reaches; the quick tabs are filters of this list."""
    shown = request.args.get("show", "")
    return CONTACTS.render(
        "sales/contacts.html",
        quick=[(k, QUICK_LABELS[k]) for k in QUICK_TABS],
        shown=shown if shown in QUICK_TABS else "",
        can_create=has_permission(CREATE),
    )


@bp.route("/contacts/export.<fmt>")
@require(READ)
def contacts_export(fmt: str) -> ResponseReturnValue:
    return CONTACTS.export(fmt)
