"""plannertest: a test-only addon that feeds the planner with fixed rows, behind its own
right (``plannertest.task.read``; ``plannertest.task.update`` to snooze, mark done or move).

State lives in the module (``STATE``), so a test can see what the planner asked for;
``reset()`` clears it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from core import hookimpl
from core.hooktypes import CalendarEvent, PermissionDef, Reminder
from core.security import has_permission

READ = "plannertest.task.read"
UPDATE = "plannertest.task.update"
REPORT, CALLBACK = "plannertest.task.1", "plannertest.task.2"
STATE: dict[str, Any] = {}


def reset() -> None:
    STATE.clear()
    STATE.update(done=set(), snoozed={}, actions=[], moves=[])


reset()


@hookimpl
def permissions() -> list[PermissionDef]:
    return [PermissionDef(READ, "Read test tasks"), PermissionDef(UPDATE, "Edit test tasks")]


def _shown(key: str, day: date) -> bool:
    until = STATE["snoozed"].get(key)
    return key not in STATE["done"] and (until is None or day >= until)


@hookimpl
def reminders(user: Any, day: date) -> list[Reminder]:
    if not has_permission(READ, user):
        return []
    rows = [
        Reminder(
            "plannertest.task",
            "Write the report",
            due=day,
            url="/plannertest/tasks/1",
            key=REPORT,
            can_snooze=True,
            can_mark_done=True,
            kind_label="Tasks",
            detail="For <b>Olena</b>",
        ),
        Reminder(
            "plannertest.task",
            "Call back",
            due=day - timedelta(days=1),
            key=CALLBACK,
            can_mark_done=True,
            kind_label="Tasks",
        ),
        Reminder("plannertest.call", "Alpha call", due=day, kind_label="Calls"),
    ]
    return [r for r in rows if not r.key or _shown(r.key, day)]


@hookimpl
def calendar_events(
    user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]
) -> list[CalendarEvent]:
    """Per owner: a movable meeting an hour after ``start`` and a fixed all-day holiday."""
    if not has_permission(READ, user):
        return []
    first = start + timedelta(hours=1)
    events = []
    for owner in owner_ids:
        events += [
            CalendarEvent(
                f"plannertest.meeting.{owner}",
                f"Meeting of {owner}",
                start=first,
                end=first + timedelta(hours=1),
                kind="plannertest.meeting",
                url=f"/plannertest/meetings/{owner}",
                editable=True,
                kind_label="Meetings",
                owner_id=owner,
            ),
            CalendarEvent(
                f"plannertest.holiday.{owner}",
                "Holiday",
                start=first.date(),
                kind="plannertest.holiday",
                kind_label="Holidays",
                owner_id=owner,
            ),
        ]
    return events


@hookimpl
def reminder_action(user: Any, key: str, action: str, until: date | None) -> bool | None:
    if key not in (REPORT, CALLBACK):
        return None
    allowed = action == "done" or (action == "snooze" and key == REPORT)
    if not allowed or not has_permission(UPDATE, user):
        return False
    STATE["actions"].append((user.id, key, action, until))
    if action == "done":
        STATE["done"].add(key)
    else:
        STATE["snoozed"][key] = until
    return True


@hookimpl
def move_calendar_event(
    user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
) -> bool | None:
    kind, _, owner = event_id.removeprefix("plannertest.").partition(".")
    if kind not in ("meeting", "holiday") or not owner.isdigit():
        return None
    if kind == "holiday" or not has_permission(UPDATE, user):
        return False
    STATE["moves"].append((user.id, event_id, start, end, all_day))
    return True
