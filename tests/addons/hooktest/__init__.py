"""hooktest: a test-only addon that implements every hook with fixed, namespaced data.

``tests/test_hooks.py`` proves each hook end to end through the facade with it; the values
below are what those tests assert on, so keep them deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import click
from flask import Blueprint, Flask
from markupsafe import Markup

from core import hookimpl
from core.hooktypes import (
    CalendarEvent,
    CardTab,
    DashboardWidget,
    JinjaExtras,
    MenuItem,
    NotificationEventType,
    PermissionDef,
    PrintableDocument,
    Reminder,
    ScheduledJob,
    SearchResult,
    SettingDef,
    ShellIndicator,
    TimelineEntry,
)

COUNTERPARTY = "crm_base.counterparty"
THINGS = ("alpha thing", "beta thing", "gamma")
TIMELINE_WHEN = datetime(2024, 1, 2, 3, 4, 5)


@hookimpl
def blueprints() -> list[Blueprint]:
    from .views import bp

    return [bp]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("hooktest.thing.read", "Read things"),
        PermissionDef("hooktest.thing.update", "Edit things"),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [
        MenuItem("hooktest.root", "Hook test", order=900),
        MenuItem(
            "hooktest.things",
            "Hook test things",
            "hooktest.thing",
            parent="hooktest.root",
            permission="hooktest.thing.read",
        ),
    ]


@click.group("hooktest", help="Hook test tools.")
def cli() -> None:
    """Hook test tools."""


@cli.command("hello")
@click.option("--name", default="world", show_default=True)
def hello(name: str) -> None:
    """Say hello."""
    click.echo(f"hooktest says hello to {name}")


@hookimpl
def cli_commands() -> list[click.Command]:
    return [cli]


def shout(value: object) -> str:
    return f"{value}!".upper()


@hookimpl
def jinja_setup() -> JinjaExtras:
    return JinjaExtras(filters={"hooktest_shout": shout}, globals={"hooktest_answer": 42})


def tick(app: Flask) -> None:
    """The scheduled job: counts its runs in the app it ran for."""
    state = app.extensions.setdefault("hooktest", {"ticks": 0})
    state["ticks"] += 1


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("hooktest.tick", tick, every_seconds=60)]


REMINDER_KEY = "hooktest.thing.1"
EVENT_ID = "hooktest.event.1"
UPDATE = "hooktest.thing.update"
# What reminder_action and move_calendar_event were asked to save: (user id, key, ...).
ACTIONS: list[tuple[Any, ...]] = []
MOVES: list[tuple[Any, ...]] = []


@hookimpl
def reminders(user: Any, day: date) -> list[Reminder]:
    return [
        Reminder(
            "hooktest.thing",
            "Check the thing",
            due=day,
            url="/hooktest/thing",
            key=REMINDER_KEY,
            can_mark_done=True,
            kind_label="Things",
            detail="Second line",
        )
    ]


@hookimpl
def calendar_events(
    user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]
) -> list[CalendarEvent]:
    first = start + timedelta(hours=1)
    if first >= end or not owner_ids:
        return []
    return [
        CalendarEvent(
            EVENT_ID,
            "Hook test meeting",
            start=first,
            end=min(first + timedelta(hours=1), end),
            kind="hooktest.meeting",
            editable=True,
            kind_label="Meetings",
            owner_id=owner_ids[0],
        )
    ]


@hookimpl
def reminder_action(user: Any, key: str, action: str, until: date | None) -> bool | None:
    """Known key: saved with ``hooktest.thing.update``, refused without; ``hooktest.bad``
    answers something the facade must reject."""
    from core.security import has_permission

    if key == "hooktest.bad":
        return "yes"  # type: ignore[return-value]
    if key != REMINDER_KEY:
        return None
    if not has_permission(UPDATE, user):
        return False
    ACTIONS.append((user.id, key, action, until))
    return True


@hookimpl
def move_calendar_event(
    user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
) -> bool | None:
    from core.security import has_permission

    if event_id != EVENT_ID:
        return None
    if not has_permission(UPDATE, user):
        return False
    MOVES.append((user.id, event_id, start, end, all_day))
    return True


@hookimpl
def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    if subject != COUNTERPARTY:
        return []
    return [TimelineEntry(TIMELINE_WHEN, "hooktest.note", f"Hook test note on {subject_id}")]


@hookimpl
def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    if subject != COUNTERPARTY:
        return []
    return [
        CardTab(
            "hooktest.things",
            "Things",
            f"/hooktest/thing?counterparty={subject_id}",
            order=50,
            count=len(THINGS),
        )
    ]


@hookimpl
def global_search(user: Any, query: str, limit: int) -> list[SearchResult]:
    hits = [t for t in THINGS if query.lower() in t]
    return [
        SearchResult("hooktest.thing", t, f"/hooktest/thing?q={t.replace(' ', '+')}")
        for t in hits[:limit]
    ]


def render_widget() -> str:
    return Markup("<p>Hook test widget</p>")


@hookimpl
def dashboard_widgets(user: Any) -> list[DashboardWidget]:
    return [DashboardWidget("hooktest.hello", "Hook test", render=render_widget, order=50)]


@hookimpl
def shell_indicators(user: Any) -> list[ShellIndicator]:
    """Two icons for readers of things: a plain one (count loaded once) and a dropdown
    whose count is polled; nothing for the others."""
    from core.security import has_permission

    if not has_permission("hooktest.thing.read", user):
        return []
    return [
        ShellIndicator(
            "hooktest.things",
            "Things",
            "box",
            "/hooktest/thing",
            count_url="/hooktest/thing?part=count",
            order=900,
        ),
        ShellIndicator(
            "hooktest.alerts",
            "Alerts",
            "exclamation-triangle",
            "/hooktest/thing?part=alerts",
            count_url="/hooktest/thing?part=alerts-count",
            menu_url="/hooktest/thing?part=alerts-menu",
            every_seconds=30,
            order=900,
            dom_id="ht-alerts",
        ),
    ]


@hookimpl
def notification_event_types() -> list[NotificationEventType]:
    return [
        NotificationEventType(
            "hooktest.thing_changed",
            "Thing changed",
            description="A thing was edited.",
            default_channels=("popup", "email"),
        )
    ]


def sheet_context(record_id: int) -> Mapping[str, Any]:
    return {"record_id": record_id, "title": "Thing sheet"}


@hookimpl
def printable_documents() -> list[PrintableDocument]:
    return [
        PrintableDocument(
            "hooktest.thing_sheet",
            "Thing sheet",
            COUNTERPARTY,
            "hooktest/thing_sheet.html",
            context=sheet_context,
            permission="hooktest.thing.read",
        )
    ]


@hookimpl
def settings() -> list[SettingDef]:
    return [
        SettingDef("hooktest.greeting", "Greeting", default="hello"),
        SettingDef("hooktest.limit", "Limit", type="int", default=3, help="At most this many."),
    ]


@hookimpl
def merge_records(subject, source_id, target_id, session):  # type: ignore[no-untyped-def]
    """Records every merge it is told about, so the test can see it was asked."""
    if subject != "hooktest.thing":
        return 0
    MERGED.append((source_id, target_id))
    return 1


MERGED: list[tuple[int, int]] = []


class FakeSms:
    """An SMS "sender" that only remembers what it was given."""

    sent: list[object] = []

    def send(self, message: object) -> None:
        self.sent.append(message)

    def close(self) -> None:
        return None


@hookimpl
def sms_gateways():  # type: ignore[no-untyped-def]
    from core.hooktypes import SmsGateway

    return [
        SmsGateway(
            "hooktest.fake",
            "Fake SMS",
            lambda settings: FakeSms(),
            lambda settings: bool(settings.get("hooktest.sms_on")),
        )
    ]
