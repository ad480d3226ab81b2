"""crm_base's contributions to the shell: global search hits and a dashboard widget.

Global search finds, each within the user's rights and record scope:

- counterparties by name (contains), by tax code (EDRPOU / RNOKPP, exact), and by a phone
  or e-mail of theirs or of their contact persons (the list's exact keys);
- contact persons by name (contains), and by a phone or e-mail of theirs.

A query that is an exact key (a tax code, a phone, an e-mail) is looked up as that key
only, not OR-ed with the name search: an OR with a subquery would make PostgreSQL read
the whole table, while each alone is an index lookup.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import func, select

from addons.crm_base.models import PERSON_SUBJECT, SUBJECT, Counterparty, Person
from core.hooktypes import DashboardWidget, SearchResult
from core.security import has_permission, scope_filter
from core.ui.listview import search_condition
from core.web import db_session

READ = "crm_base.counterparty.read"
PERSON_READ = "crm_base.person.read"


def _contains(column: Any, query: str) -> Any:
    """The lists' own "contains" search (with its SQLite shortcut for ASCII queries)."""
    return search_condition([column], query, "contains", db_session().get_bind().dialect.name)


def search_counterparties(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Counterparties whose name contains ``query`` (case-insensitive), or, when it is a
    tax code, phone or e-mail, those it belongs to; within scope."""
    from addons.crm_base.views import counterparty_exact_match

    if not has_permission(READ, user):
        return []
    exact = counterparty_exact_match(query)
    condition = _contains(Counterparty.name, query) if exact is None else exact
    stmt = (
        select(Counterparty.id, Counterparty.name, Counterparty.tax_code)
        .where(condition)
        .order_by(Counterparty.name, Counterparty.id)
        .limit(limit)
    )
    rows = db_session().execute(scope_filter(stmt, SUBJECT, Counterparty.manager_id, user))
    return [
        SearchResult(
            SUBJECT, name, url_for("crm_base.counterparty", record_id=rid), snippet=code or ""
        )
        for rid, name, code in rows
    ]


def search_persons(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Contact persons whose full name contains ``query``, or, when it is a phone or an
    e-mail, those it belongs to; within their own scope (their manager)."""
    from addons.crm_base.persons import person_exact_match

    if not has_permission(PERSON_READ, user):
        return []
    exact = person_exact_match(query)
    condition = _contains(Person.full_name, query) if exact is None else exact
    stmt = (
        select(Person.id, Person.full_name, Person.position)
        .where(condition)
        .order_by(Person.full_name, Person.id)
        .limit(limit)
    )
    rows = db_session().execute(scope_filter(stmt, PERSON_SUBJECT, Person.manager_id, user))
    return [
        SearchResult(
            PERSON_SUBJECT, name, url_for("crm_base.person", record_id=rid), snippet=position
        )
        for rid, name, position in rows
    ]


def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    """Everything crm_base finds for the ``global_search`` hook: counterparties, then
    contact persons, ``limit`` of each at most."""
    return search_counterparties(user, query, limit) + search_persons(user, query, limit)


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
