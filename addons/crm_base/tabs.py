"""Helpers every crm_base card tab needs (notes, requisites, work, groups, duplicates…):
load the counterparty within the user's record scope, tell whether a hook's user reaches
it, answer the card's htmx load with a fragment and a direct visit with a page of its own,
and accept a bare POST (a delete button) by its CSRF token.

``addons.crm_base.notes`` re-exports these names for the addons that import them from
there.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, has_request_context, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select

from addons.crm_base.models import SUBJECT, Counterparty
from core.security import get_scoped_or_404, has_permission, scope_filter
from core.ui.formview import MAX_ID
from core.web import db_session

READ = "crm_base.counterparty.read"
# The chronology shows at most this many entries per kind (newest first): a counterparty
# with years of notes must not make its card slow.
TIMELINE_LIMIT = 500


def counterparty_or_404(record_id: int) -> Counterparty:
    """The counterparty if the current user reaches it (record scope), else 404 — also for
    ids too large to exist, which PostgreSQL would refuse with an error."""
    if not 0 < record_id <= MAX_ID:
        abort(404)
    return get_scoped_or_404(Counterparty, record_id, SUBJECT, Counterparty.manager_id)  # type: ignore[no-any-return]


def reaches_counterparty(counterparty_id: int, user: Any) -> bool:
    """Whether ``user`` (any user a hook is asked about) may read this counterparty.

    Asked once per request for a (user, counterparty): a card's tabs and chronology ask it
    from every area (notes, work, requisites, groups, sales…)."""
    if not has_permission(READ, user) or not 0 < int(counterparty_id) <= MAX_ID:
        return False
    key = (user.id, int(counterparty_id))
    cache: dict[tuple[int, int], bool] = (
        g.setdefault("crm_base_reaches", {}) if has_request_context() else {}
    )
    if key not in cache:
        stmt = select(Counterparty.id).where(Counterparty.id == key[1])
        stmt = scope_filter(stmt, SUBJECT, Counterparty.manager_id, user)
        cache[key] = db_session().scalar(stmt) is not None
    return cache[key]


def wants_fragment() -> bool:
    """The card loads its tabs with htmx: answer those requests with the tab's content only."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true" and headers.get("HX-History-Restore-Request") != "true"
    )


def render_tab(
    name: str, counterparty: Counterparty, title: str, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """A counterparty card tab: ``crm_base/<name>_tab.html`` alone for the card's htmx load,
    else ``crm_base/<name>.html`` (a page of its own around it: without JavaScript, after a
    form was posted, or a direct link)."""
    context.update(
        counterparty=counterparty,
        tab_title=title,
        card_url=url_for("crm_base.counterparty", record_id=counterparty.id),
    )
    if wants_fragment() and status == 200:
        return render_template(f"crm_base/{name}_tab.html", **context)
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, context["card_url"]),
        (title, None),
    ]
    return render_template(f"crm_base/{name}.html", breadcrumbs=breadcrumbs, **context), status


def posted_ok() -> bool:
    """A bare POST (a delete button) carries a valid CSRF token."""
    return bool(FlaskForm().validate_on_submit())
