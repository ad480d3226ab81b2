"""partner_demo: short notes on counterparties, shipped as a partner's pip package."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.hooktypes import MenuItem, PermissionDef


@hookimpl
def blueprints() -> list[Blueprint]:
    from vitrylo_partner_demo.views import bp

    return [bp]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [PermissionDef("partner_demo.note.read", _l("Read partner notes"))]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem(
            "partner_demo.notes",
            _l("Partner notes"),
            "partner_demo.notes",
            parent="crm_base.root",
            permission="partner_demo.note.read",
            order=50,
        )
    ]
