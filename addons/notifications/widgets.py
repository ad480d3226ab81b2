"""notifications: what the addon puts into the shell — the dashboard widget of unread
notifications and messages, and the bell in the top bar (hook ``shell_indicators``).

The hook implementations live in ``__init__.py`` and call these functions.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from core.hooktypes import DashboardWidget, ShellIndicator

BELL_REFRESH = 10  # seconds between two polls of the bell's count


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


def bell_indicator(user: Any) -> list[ShellIndicator]:
    """The bell: its count (notifications, chat and private messages) polled every
    ``BELL_REFRESH`` seconds, its dropdown the latest unread notifications; it leads to the
    inbox. Every signed-in user has one (the inbox needs no right)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return [
        ShellIndicator(
            "notifications.bell",
            str(_l("Notifications")),
            "bell",
            url_for("notifications.inbox"),
            count_url=url_for("notifications.badge"),
            menu_url=url_for("notifications.badge_menu"),
            every_seconds=BELL_REFRESH,
            order=10,
            dom_id="nt-bell",
        )
    ]
