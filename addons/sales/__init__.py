"""sales: the contacts plan, the sales funnel, telemarketing, lead sources, direct mail,
commercial proposals and contracts (MS-1 … MS-7). A commercial addon.

Each area is a module of its own that adds routes to the one blueprint (``views.bp``) and
may define any of the per-area functions below; this module only gathers them, so an area
never edits another's code.
"""

from __future__ import annotations

from datetime import date, datetime
from types import ModuleType
from typing import Any

from flask import Blueprint

from core import hookimpl
from core.areas import area_blueprints, import_areas

# The areas, in menu order. Functions an area may define (all optional), named as the hook
# they feed: permissions, menu_items, reminders, calendar_events, reminder_action,
# move_calendar_event, timeline_entries, card_tabs, global_search, dashboard_widgets,
# notification_event_types, printable_documents, settings, scheduled_jobs, merge_records.
AREAS = (
    "contacts",
    "funnel",
    "reports",
    "telemarketing",
    "sources",
    "direct_mail",
    "proposals",
    "contracts",
    "settings_pages",
)


def _areas() -> list[ModuleType]:
    return import_areas(__name__, AREAS)


def _gather(hook: str, *args: Any) -> list[Any]:
    """Concatenate what every area's ``hook`` function returns."""
    items: list[Any] = []
    for area in _areas():
        func = getattr(area, hook, None)
        if func is not None:
            items.extend(func(*args))
    return items


def _first(hook: str, *args: Any) -> Any:
    """The first answer that is not ``None`` (actions routed by key: one area owns it)."""
    for area in _areas():
        func = getattr(area, hook, None)
        if func is not None and (answer := func(*args)) is not None:
            return answer
    return None


@hookimpl
def blueprints() -> list[Blueprint]:
    return area_blueprints(__name__, AREAS)  # the areas' routes live on sales's blueprint


@hookimpl
def permissions():  # type: ignore[no-untyped-def]
    return _gather("permissions")


@hookimpl
def menu_items():  # type: ignore[no-untyped-def]
    from addons.sales.views import root_menu

    return [root_menu(), *_gather("menu_items")]


@hookimpl
def reminders(user: Any, day: date):  # type: ignore[no-untyped-def]
    return _gather("reminders", user, day)


@hookimpl
def calendar_events(user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]):  # type: ignore[no-untyped-def]
    return _gather("calendar_events", user, start, end, owner_ids)


@hookimpl
def reminder_action(user: Any, key: str, action: str, until: date | None):  # type: ignore[no-untyped-def]
    return _first("reminder_action", user, key, action, until)


@hookimpl
def move_calendar_event(
    user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
):  # type: ignore[no-untyped-def]
    return _first("move_calendar_event", user, event_id, start, end, all_day)


@hookimpl
def timeline_entries(subject: str, subject_id: int, user: Any):  # type: ignore[no-untyped-def]
    return _gather("timeline_entries", subject, subject_id, user)


@hookimpl
def card_tabs(subject: str, subject_id: int, user: Any):  # type: ignore[no-untyped-def]
    return _gather("card_tabs", subject, subject_id, user)


@hookimpl
def global_search(user: Any, query: str, limit: int):  # type: ignore[no-untyped-def]
    return _gather("global_search", user, query, limit)


@hookimpl
def dashboard_widgets(user: Any):  # type: ignore[no-untyped-def]
    return _gather("dashboard_widgets", user)


@hookimpl
def notification_event_types():  # type: ignore[no-untyped-def]
    return _gather("notification_event_types")


@hookimpl
def printable_documents():  # type: ignore[no-untyped-def]
    return _gather("printable_documents")


@hookimpl
def settings():  # type: ignore[no-untyped-def]
    return _gather("settings")


@hookimpl
def scheduled_jobs():  # type: ignore[no-untyped-def]
    return _gather("scheduled_jobs")


@hookimpl
def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Point sales's rows at the surviving counterparty or person of a merge."""
    return sum(
        area.merge_records(subject, source_id, target_id, session)
        for area in _areas()
        if hasattr(area, "merge_records")
    )
