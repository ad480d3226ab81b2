"""The sales blueprint and the few helpers every sales area shares: the menu root, record
scope through the responsible manager, choices of users and of the lookup tables.

Areas (``contacts``, ``funnel``…) add their routes to ``bp``; see ``addons/sales/__init__``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select

from core.hooktypes import MenuItem
from core.security import get_scoped_or_404, scope_filter
from core.ui.formview import MAX_ID

bp = Blueprint(
    "sales", __name__, url_prefix="/sales", template_folder="templates", static_folder="static"
)

MENU_ROOT = "sales.root"


def root_menu() -> MenuItem:
    """The "Sales" entry the areas hang their pages under (``parent=MENU_ROOT``)."""
    return MenuItem(MENU_ROOT, _l("Sales"), order=20, icon="graph-up-arrow")


def menu(
    key: str, label: Any, permission: str, order: int, endpoint: str | None = None
) -> MenuItem:
    """A page of an area under the "Sales" menu; ``key`` is the endpoint without ``sales.``."""
    return MenuItem(
        f"sales.{key}",
        label,
        endpoint or f"sales.{key}",
        parent=MENU_ROOT,
        permission=permission,
        order=order,
    )


def scoped(stmt: Select[Any], model: type[Any], subject: str, user: Any = None) -> Select[Any]:
    """``stmt`` limited to the ``model`` rows ``user`` reaches (own / team / all)."""
    return scope_filter(stmt, subject, model.responsible_id, user)


def record_or_404(model: type[Any], record_id: int, subject: str) -> Any:
    """The record if the signed-in user reaches it, else 404 (also for absurd ids)."""
    if not 0 < record_id <= MAX_ID:
        abort(404)
    return get_scoped_or_404(model, record_id, subject, model.responsible_id)
