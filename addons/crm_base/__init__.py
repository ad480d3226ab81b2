"""crm_base: clients and prospects, contact persons, organizations, employees."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.hooktypes import DashboardWidget, MenuItem, PermissionDef, SearchResult


@hookimpl
def blueprints() -> list[Blueprint]:
    from addons.crm_base import card  # noqa: F401 - the card's edit and delete routes
    from addons.crm_base.views import bp

    return [bp]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("crm_base.counterparty.read", _l("Read counterparties")),
        PermissionDef("crm_base.counterparty.create", _l("Create counterparties")),
        PermissionDef("crm_base.counterparty.update", _l("Edit counterparties")),
        PermissionDef("crm_base.counterparty.delete", _l("Delete counterparties")),
        PermissionDef("crm_base.counterparty.export", _l("Export counterparties")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("crm_base.root", _l("Clients"), order=10),
        MenuItem(
            "crm_base.counterparties",
            _l("Counterparties"),
            "crm_base.counterparties",
            parent="crm_base.root",
            permission="crm_base.counterparty.read",
        ),
    ]


@hookimpl
def global_search(user, query: str, limit: int) -> list[SearchResult]:  # type: ignore[no-untyped-def]
    from addons.crm_base.search import search_counterparties

    return search_counterparties(user, query, limit)


@hookimpl
def dashboard_widgets(user) -> list[DashboardWidget]:  # type: ignore[no-untyped-def]
    from addons.crm_base.search import my_counterparties_widget

    return my_counterparties_widget(user)


@hookimpl
def printable_documents():  # type: ignore[no-untyped-def]
    """The counterparty card ("Картка контрагента"), printed at /print/crm_base.card/<id>."""
    from addons.crm_base.printing import documents

    return documents()


@hookimpl
def timeline_entries(subject: str, subject_id: int, user):  # type: ignore[no-untyped-def]
    """A counterparty's creation, changes (from the audit log) and attached files."""
    from addons.crm_base.card import counterparty_timeline

    return counterparty_timeline(subject, subject_id, user)
