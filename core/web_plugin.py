"""The core's own plugin: its pages, rights and menu come through the same hooks as any
addon's (the core uses its own hooks)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.hooktypes import JinjaExtras, MenuItem, PermissionDef


@hookimpl
def blueprints() -> list[Blueprint]:
    from core.views import (  # noqa: F401 - their routes live on core's blueprint
        attachments,
        auth,
        demo_widgets,
        printing,
        progress,
        shell,
    )
    from core.views.admin_system import bp as admin_system
    from core.views.admin_users import bp as admin_users
    from core.views.base import bp as core_bp

    return [core_bp, admin_users, admin_system]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("core.addon.read", _l("See addons and the licence")),
        PermissionDef("core.addon.update", _l("Install, upgrade and uninstall addons")),
        PermissionDef("core.license.update", _l("Install a licence")),
        PermissionDef("core.user.read", _l("See users")),
        PermissionDef("core.user.create", _l("Create users")),
        PermissionDef("core.user.update", _l("Edit users, end their sessions")),
        PermissionDef("core.group.read", _l("See groups and rights")),
        PermissionDef("core.group.update", _l("Edit groups and rights")),
        PermissionDef("core.audit.read", _l("Read the audit log")),
        PermissionDef("core.maintenance.update", _l("Back up, restore and check the database")),
        PermissionDef("core.ui_kit.read", _l("See the UI kit gallery")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("core.home", _l("Home"), "core.index", order=0),
        MenuItem("core.admin", _l("Administration"), order=900),
        MenuItem(
            "core.users",
            _l("Users"),
            "core_users.users",
            parent="core.admin",
            permission="core.user.read",
            order=10,
        ),
        MenuItem(
            "core.groups",
            _l("Groups and rights"),
            "core_users.groups",
            parent="core.admin",
            permission="core.group.read",
            order=20,
        ),
        MenuItem(
            "core.teams",
            _l("Teams"),
            "core_users.teams",
            parent="core.admin",
            permission="core.user.read",
            order=25,
        ),
        MenuItem(
            "core.addons",
            _l("Addons and licence"),
            "core_system.addons",
            parent="core.admin",
            permission="core.addon.read",
            order=30,
        ),
        MenuItem(
            "core.audit",
            _l("Audit log"),
            "core_system.audit",
            parent="core.admin",
            permission="core.audit.read",
            order=40,
        ),
        MenuItem(
            "core.maintenance",
            _l("Maintenance"),
            "core_system.maintenance",
            parent="core.admin",
            permission="core.maintenance.update",
            order=50,
        ),
        MenuItem(
            "core.ui_kit",
            _l("UI kit"),
            "core.ui_kit",
            parent="core.admin",
            permission="core.ui_kit.read",
            order=60,
        ),
    ]


@hookimpl
def jinja_setup() -> JinjaExtras:
    """Money filters for every template: ``uah`` and ``amount_in_words`` (Ukrainian)."""
    from core.money import jinja_filters

    return JinjaExtras(filters=jinja_filters())
