"""notifications: what the addon puts into the shell — the dashboard widget of unread
notifications and messages, and the ``notifications_badge`` template global the layout
uses to place the bell (only while the addon is enabled and someone is signed in).

The hook implementations live in ``__init__.py`` and call these functions.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from core.hooktypes import DashboardWidget, JinjaExtras
from core.web import kernel

ADDON = "notifications"


def unread_widget(user: Any) -> list[DashboardWidget]:
    """The latest unread notifications and the unread chat / private message counts."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []

    def render() -> Markup:
        from addons.notifications.inbox import MENU_SIZE, inbox_rows, shown_count, unread_counts

        latest, _more = inbox_rows(user.id, True, size=MENU_SIZE)
        html = render_template(
            "notifications/inbox_widget.html",
            latest=latest,
            counts=unread_counts(user),
            shown_count=shown_count,
        )
        return Markup(html)  # noqa: S704 - Jinja output, already escaped

    return [DashboardWidget("notifications.unread", str(_l("Notifications")), render, order=20)]


def badge_links() -> dict[str, str] | None:
    """The URLs the shell's bell needs, or ``None`` when it must not be shown (signed out,
    or the addon not enabled: its routes would answer 404)."""
    if not current_user or not current_user.is_authenticated or not kernel().is_enabled(ADDON):
        return None
    return {
        "badge": url_for("notifications.badge"),
        "menu": url_for("notifications.badge_menu"),
        "inbox": url_for("notifications.inbox"),
    }


def jinja_extras() -> JinjaExtras:
    """``notifications_badge()`` for core/templates/core/layout.html."""
    return JinjaExtras(globals={"notifications_badge": badge_links})
