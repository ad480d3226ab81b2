"""The calendar (PN-1): day, week and month views (the UI kit's FullCalendar widget) of
the events the enabled addons contribute through ``calendar_events``.

- ``/planner/calendar/events`` is the widget's JSON feed (``?start=&end=`` from
  FullCalendar, optional ``kinds=`` and ``owner=``). ``owner`` picks other employees'
  calendars: only for holders of ``planner.calendar.others``; a forged one answers 403.
- ``/planner/calendar/move`` saves a drag or a resize through ``move_calendar_event``,
  on the addon the event belongs to, which checks its own rights: 200, 403 or 404.
- Filtering by kind happens in the browser (``static/planner/calendar.js``) so a kind
  seen for the first time in another month shows at once; the feed's ``kinds=`` serves
  other clients.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import Any

from flask import jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from addons.planner.views import CALENDAR_OTHERS, CALENDAR_READ, bp
from core.hooktypes import CalendarEvent
from core.security import has_permission, require, user_choices, user_names
from core.ui.widgets import BadRange, calendar_event, calendar_move, calendar_range
from core.web import kernel

MAX_OWNERS = 50  # calendars shown at once: a crafted URL must not ask for every user
# Colours of the kit's calendar (core/static/ui/calendar.css), one per kind, stable.
KIND_COLOURS = ("event-primary", "event-success", "event-warning", "event-danger")


class BadOwners(ValueError):
    """An ``owner`` parameter that is not a list of user ids."""


def _values(name: str) -> list[str]:
    """A query parameter given repeated (``?a=1&a=2``) or comma-separated (``?a=1,2``)."""
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def requested_owners() -> tuple[int, ...]:
    """The users whose events are asked for (the signed-in user's own by default)."""
    values = _values("owner")
    if not values:
        return (current_user.id,)
    if len(values) > MAX_OWNERS or not all(v.isdigit() and len(v) < 10 for v in values):
        raise BadOwners(",".join(values)[:100])
    return tuple(dict.fromkeys(int(v) for v in values))


def kind_css(kind: str) -> str:
    """The same colour for a kind on every page and every day (a CRC, not ``hash()``,
    which changes with each process)."""
    return KIND_COLOURS[zlib.crc32(kind.encode()) % len(KIND_COLOURS)] if kind else ""


def serialize(event: CalendarEvent, names: dict[int, str]) -> dict[str, Any]:
    """One event as FullCalendar reads it, with what the filters need."""
    return calendar_event(
        event.id,
        str(event.title),
        event.start,
        event.end,
        url=event.url or None,
        editable=event.editable,
        css=kind_css(event.kind),
        extra={
            "kind": event.kind,
            "kindLabel": str(event.kind_label or event.kind),
            "ownerId": event.owner_id,
            "owner": names.get(event.owner_id, "") if event.owner_id is not None else "",
            "addon": event.addon,
        },
    )


def _owner_names(events: Iterable[CalendarEvent]) -> dict[int, str]:
    return user_names({e.owner_id for e in events if e.owner_id is not None})


@bp.route("/calendar")
@require(CALENDAR_READ)
def calendar() -> ResponseReturnValue:
    """The calendar page: the widget, the kind filter (filled from the events shown) and,
    for managers with the right, the employee whose calendar to show."""
    others = has_permission(CALENDAR_OTHERS)
    return render_template(
        "planner/calendar.html",
        can_see_others=others,
        users=user_choices() if others else [],
        breadcrumbs=[(_("Planner"), None), (_("Calendar"), None)],
    )


@bp.route("/calendar/events")
@require(CALENDAR_READ)
def calendar_events() -> ResponseReturnValue:
    """The events overlapping ``[start, end)`` of the requested owners, as JSON."""
    try:
        start, end = calendar_range()
        owners = requested_owners()
    except (BadRange, BadOwners):
        return jsonify(error=_("Bad date range or employee.")), 400
    if owners != (current_user.id,) and not has_permission(CALENDAR_OTHERS):
        return jsonify(error=_("You may not see other employees' calendars.")), 403
    events = kernel().hooks.calendar_events(current_user, start, end, owners)
    kinds = set(_values("kinds"))
    if kinds:
        events = [e for e in events if e.kind in kinds]
    names = _owner_names(events)
    return jsonify([serialize(e, names) for e in events])


@bp.route("/calendar/move", methods=["POST"])
@require(CALENDAR_READ)
def calendar_move_event() -> ResponseReturnValue:
    """A dragged or resized event, saved by the addon it belongs to."""
    try:
        move = calendar_move()
    except BadRange:
        return jsonify(ok=False, error=_("Bad date range.")), 400
    saved = (
        kernel().hooks.move_calendar_event(
            current_user, move.id, move.start, move.end, move.all_day
        )
        if move.id
        else None
    )
    if saved is None:
        return jsonify(ok=False, error=_("This event no longer exists.")), 404
    if not saved:
        return jsonify(ok=False, error=_("You may not move this event.")), 403
    return jsonify(ok=True)
