"""notifications: chat, private messages and event notifications (NT-1…NT-5)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.areas import area_blueprints
from core.hooktypes import MenuItem, PermissionDef

# Modules adding routes to the blueprint (see views.py for the blueprint itself).
AREAS = ("chat", "inbox", "preferences", "settings_page")


@hookimpl
def blueprints() -> list[Blueprint]:
    return area_blueprints(__name__, AREAS)


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("notifications.chat.read", _l("Read and write in the chat")),
        PermissionDef("notifications.message.read", _l("Write private messages")),
        PermissionDef("notifications.settings.update", _l("Set up e-mail, SMS and defaults")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("notifications.root", _l("Messages"), order=80),
        MenuItem(
            "notifications.chat",
            _l("Chat"),
            "notifications.chat",
            parent="notifications.root",
            permission="notifications.chat.read",
            order=10,
        ),
        MenuItem(
            "notifications.conversations",
            _l("Private messages"),
            "notifications.conversations",
            parent="notifications.root",
            permission="notifications.message.read",
            order=20,
        ),
        MenuItem(
            "notifications.inbox",
            _l("Notifications"),
            "notifications.inbox",
            parent="notifications.root",
            order=30,
        ),
        MenuItem(
            "notifications.preferences",
            _l("Notification settings"),
            "notifications.preferences",
            parent="notifications.root",
            order=40,
        ),
        MenuItem(
            "notifications.settings",
            _l("E-mail and SMS"),
            "notifications.settings",
            parent="core.admin",
            permission="notifications.settings.update",
            order=70,
        ),
    ]


# Event types, scheduled jobs (the outbox, the birthday scan) and settings: hooks_impl.py.
from addons.notifications.hooks_impl import (  # noqa: E402, F401 - hooks pluggy finds here
    notification_event_types,
    scheduled_jobs,
    settings,
)


@hookimpl
def dashboard_widgets(user):  # type: ignore[no-untyped-def]
    """The latest unread notifications and unread messages (addons/notifications/widgets.py)."""
    from addons.notifications.widgets import unread_widget

    return unread_widget(user)


@hookimpl
def shell_indicators(user):  # type: ignore[no-untyped-def]
    """The bell in the shell's top bar (addons/notifications/widgets.py)."""
    from addons.notifications.widgets import bell_indicator

    return bell_indicator(user)
