"""The dashboard's "My contacts today": the list's "today" tab, the first few rows."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from addons.sales.contacts.common import READ, kind_label, status_label, summary
from addons.sales.contacts.listing import quick_condition
from addons.sales.models import Contact
from core.db import utcnow
from core.hooktypes import DashboardWidget
from core.security import has_permission
from core.tz import user_timezone
from core.web import db_session

WIDGET_LIMIT = 10


def dashboard_widgets(user: Any) -> list[DashboardWidget]:
    """ "My contacts today": the first few, with a link to the whole list."""
    if not has_permission(READ, user):
        return []

    def render() -> Markup:
        stmt = (
            summary()
            .where(quick_condition("today", user.id, utcnow(), user_timezone()))
            .order_by(Contact.planned_at, Contact.id)
            .limit(WIDGET_LIMIT + 1)
        )
        rows = db_session().execute(stmt).all()
        html = render_template(
            "sales/contact_widget.html",
            rows=rows[:WIDGET_LIMIT],
            more=len(rows) > WIDGET_LIMIT,
            kind_label=kind_label,
            status_label=status_label,
        )
        return Markup(html)  # noqa: S704 - Jinja output, already escaped

    return [DashboardWidget("sales.contacts_today", str(_l("My contacts today")), render, order=20)]
