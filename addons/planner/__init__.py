"""planner: the reminders table (RM-1) and the calendar (PN-1) that the other enabled
addons feed through the ``reminders`` and ``calendar_events`` hooks, with a secret
iCalendar feed per user. It owns no business data: snoozing, marking done and moving an
event are saved by the addon that gave the row (``reminder_action``,
``move_calendar_event``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.areas import area_blueprints
from core.hooktypes import DashboardWidget, MenuItem, PermissionDef, ShellIndicator

# Modules that add routes to the blueprint (views.py holds it).
AREAS = ("reminders", "calendar_view", "ical")


@hookimpl
def blueprints() -> list[Blueprint]:
    return area_blueprints(__name__, AREAS)


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("planner.reminders.read", _l("See one's reminders")),
        PermissionDef("planner.calendar.read", _l("See one's calendar")),
        PermissionDef("planner.calendar.others", _l("See other employees' calendars")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("planner.root", _l("Planner"), order=15),
        MenuItem(
            "planner.reminders",
            _l("Reminders"),
            "planner.reminders",
            parent="planner.root",
            permission="planner.reminders.read",
            order=10,
        ),
        MenuItem(
            "planner.calendar",
            _l("Calendar"),
            "planner.calendar",
            parent="planner.root",
            permission="planner.calendar.read",
            order=20,
        ),
        MenuItem(
            "planner.ical",
            _l("Calendar feed (iCalendar)"),
            "planner.ical",
            parent="planner.root",
            permission="planner.calendar.read",
            order=30,
        ),
    ]


@hookimpl
def dashboard_widgets(user: Any) -> list[DashboardWidget]:
    """Today's reminders: their count and the first rows (addons/planner/reminders.py)."""
    from addons.planner.reminders import reminders_widget

    return reminders_widget(user)


@hookimpl
def shell_indicators(user: Any) -> list[ShellIndicator]:
    """The reminders badge in the shell's top bar (addons/planner/reminders.py)."""
    from addons.planner.reminders import reminders_indicator

    return reminders_indicator(user)
