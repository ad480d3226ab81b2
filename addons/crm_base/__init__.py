"""crm_base: clients and prospects, contact persons, organizations, employees."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from addons.crm_base.models import SUBJECT
from core import hookimpl
from core.areas import area_blueprints, import_areas
from core.hooktypes import (
    DashboardWidget,
    MenuItem,
    NotificationEventType,
    PermissionDef,
    SearchResult,
)

# Modules that add routes to the blueprint, and contribute chronology entries and card
# tabs through ``timeline_entries()`` and ``card_tabs()`` functions of their own.
AREAS = (
    "card",
    "persons",
    "classification",
    "attributes",
    "requisites",
    "employees",
    "directions",
    "notes",
    "duplicates",
    "imports",
    "mailing",
)


def _areas() -> list[Any]:
    return import_areas(__name__, AREAS)


@hookimpl
def blueprints() -> list[Blueprint]:
    return area_blueprints(__name__, AREAS)


@hookimpl
def permissions() -> list[PermissionDef]:
    def p(name: str, label: Any) -> PermissionDef:
        return PermissionDef(f"crm_base.{name}", label)

    return [
        p("counterparty.read", _l("Read counterparties")),
        p("counterparty.create", _l("Create counterparties")),
        p("counterparty.update", _l("Edit counterparties")),
        p("counterparty.delete", _l("Delete counterparties")),
        p("counterparty.export", _l("Export counterparties")),
        p("counterparty.merge", _l("Merge duplicate counterparties")),
        p("person.read", _l("Read contact persons")),
        p("person.create", _l("Create contact persons")),
        p("person.update", _l("Edit contact persons")),
        p("person.delete", _l("Delete contact persons")),
        p("person.export", _l("Export contact persons")),
        p("organization.read", _l("Read organizations and requisites")),
        p("organization.create", _l("Create organizations and requisites")),
        p("organization.update", _l("Edit organizations and requisites")),
        p("organization.delete", _l("Delete organizations and requisites")),
        p("employee.read", _l("Read employees")),
        p("employee.create", _l("Create employees")),
        p("employee.update", _l("Edit employees")),
        p("employee.delete", _l("Delete employees")),
        p("employee.export", _l("Export employees")),
        p("attribute.update", _l("Define additional attributes")),
        p("classification.update", _l("Edit groups and tags")),
        p("direction.update", _l("Edit directions and stages of work")),
        p("import.create", _l("Import counterparties and contact persons")),
        p("mailing_list.read", _l("Read mailing lists")),
        p("mailing_list.create", _l("Create mailing lists")),
        p("mailing_list.update", _l("Edit mailing lists")),
        p("mailing_list.delete", _l("Delete mailing lists")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    def item(key: str, label: Any, permission: str, order: int) -> MenuItem:
        return MenuItem(
            f"crm_base.{key}",
            label,
            f"crm_base.{key}",
            parent="crm_base.root",
            permission=permission,
            order=order,
        )

    return [
        MenuItem("crm_base.root", _l("Clients"), order=10),
        item("counterparties", _l("Counterparties"), "crm_base.counterparty.read", 10),
        item("persons", _l("Contact persons"), "crm_base.person.read", 20),
        item("mailing_lists", _l("Mailing lists"), "crm_base.mailing_list.read", 30),
        item("import_start", _l("Import"), "crm_base.import.create", 40),
        item("employees", _l("Employees"), "crm_base.employee.read", 50),
        item("own_organizations", _l("Own organizations"), "crm_base.organization.read", 60),
        item("classification", _l("Groups and tags"), "crm_base.classification.update", 900),
        item("attributes", _l("Additional attributes"), "crm_base.attribute.update", 910),
        item("directions", _l("Directions and stages"), "crm_base.direction.update", 920),
    ]


@hookimpl
def global_search(user, query: str, limit: int) -> list[SearchResult]:  # type: ignore[no-untyped-def]
    from addons.crm_base.search import global_search as search

    return search(user, query, limit)


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
    """A counterparty's chronology: what every crm_base area has to say about it."""
    if subject != SUBJECT:
        return []
    areas = _areas()
    return [e for area in areas for e in area.timeline_entries(subject, subject_id, user)]


@hookimpl
def card_tabs(subject: str, subject_id: int, user):  # type: ignore[no-untyped-def]
    """crm_base's own tabs on the counterparty card (persons, requisites, work, notes…)."""
    if subject != SUBJECT:
        return []
    return [tab for area in _areas() for tab in area.card_tabs(subject, subject_id, user)]


@hookimpl
def notification_event_types() -> list[NotificationEventType]:
    """Events the notifications addon (when installed) can tell users about (NT-3)."""
    return [
        NotificationEventType(
            "crm_base.birthday",
            _l("Birthday of a contact person or an employee"),
            _l(
                "On the day: contact persons for their manager, employees for those who may "
                "read employees."
            ),
            default_channels=("popup",),
        ),
        NotificationEventType(
            "crm_base.notable_date",
            _l("Notable date"),
            _l("A notable date of a counterparty or a contact person."),
            default_channels=("popup",),
        ),
    ]


@hookimpl
def reminders(user, day):  # type: ignore[no-untyped-def]
    """Birthdays of contact persons and employees on the day (addons/crm_base/birthdays.py)."""
    from addons.crm_base.birthdays import reminders as birthdays

    return birthdays(user, day)


@hookimpl
def calendar_events(user, start, end, owner_ids):  # type: ignore[no-untyped-def]
    """Birthdays as all-day events on the planner calendar (addons/crm_base/birthdays.py)."""
    from addons.crm_base.birthdays import calendar_events as birthdays

    return birthdays(user, start, end, owner_ids)
