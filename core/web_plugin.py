"""The core's own plugin: its pages, rights and menu come through the same hooks as any
addon's (the core uses its own hooks)."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core.hookspecs import hookimpl
from core.hooktypes import MenuItem, PermissionDef


@hookimpl
def blueprints() -> list[Blueprint]:
    from core.views.auth import bp as auth

    return [auth]


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
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [MenuItem("core.home", _l("Home"), "core.index", order=0)]
