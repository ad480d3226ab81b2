"""crm_base's contributions to the shell: global search hits and a dashboard widget."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

from addons.crm_base.models import SUBJECT, Counterparty
from core.hooktypes import DashboardWidget, SearchResult
from core.security import has_permission, scope_filter
from core.web import db_session

READ = "crm_base.counterparty.read"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_counterparties(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Counterparties whose name contains ``query`` (case-insensitive), within scope."""
    if not has_permission(READ, user):
        return []
    pattern = f"%{_escape_like(query.lower())}%"
    stmt = (
        select(Counterparty.id, Counterparty.name)
        .where(func.lower(Counterparty.name).like(pattern, escape="\\"))
        .order_by(Counterparty.name)
        .limit(limit)
    )
    rows = db_session().execute(scope_filter(stmt, SUBJECT, Counterparty.manager_id, user))
    return [
        SearchResult(SUBJECT, name, url_for("crm_base.counterparty", record_id=rid))
        for rid, name in rows
    ]


def my_counterparties_widget(user: Any) -> list[DashboardWidget]:
    """How many counterparties the user is responsible for, with a link to the list."""
    if not has_permission(READ, user):
        return []

    def render() -> Markup:
        count = db_session().scalar(
            select(func.count()).select_from(Counterparty).where(Counterparty.manager_id == user.id)
        )
        html = render_template("crm_base/widget_mine.html", count=count or 0)
        return Markup(html)  # noqa: S704 - Jinja output, already escaped

    return [DashboardWidget("crm_base.mine", str(_l("My counterparties")), render, order=10)]
