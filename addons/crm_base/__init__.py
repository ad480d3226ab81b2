"""crm_base: clients and prospects, contact persons, organizations, employees."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.hooktypes import MenuItem, PermissionDef


@hookimpl
def blueprints() -> list[Blueprint]:
    from addons.crm_base.views import bp

    return [bp]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("crm_base.counterparty.read", _l("Read counterparties")),
        PermissionDef("crm_base.counterparty.create", _l("Create counterparties")),
        PermissionDef("crm_base.counterparty.update", _l("Edit counterparties")),
        PermissionDef("crm_base.counterparty.delete", _l("Delete counterparties")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("crm_base.root", _l("Clients"), order=10),
        MenuItem("crm_base.counterparties", _l("Counterparties"), "crm_base.counterparties",
                 parent="crm_base.root", permission="crm_base.counterparty.read"),
    ]
