"""``/ui-kit``: a gallery of the core's widgets working on demo data (superusers only).

It proves each widget works end to end (browser tests drive it) and shows addon authors
what to copy. The demo data lives in memory, per process and per sign-in session (a small LRU),
so two people trying the gallery don't move each other's cards and nothing reaches the
database except the demo job's row in ``core_job``. The real uses come with the addons
(sales pipeline, planner, projects, reports).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import pgettext
from flask_login import current_user
from sqlalchemy.orm import Session

from core.security import require
from core.ui.progress import advance, render_progress, run_in_thread, start_job
from core.ui.widgets import (
    BadRange,
    Kanban,
    KanbanCard,
    KanbanColumn,
    KanbanRefused,
    KanbanTotal,
    calendar_event,
    calendar_move,
    calendar_range,
    chart_config,
    gantt_task,
)
from core.views.base import bp
from core.web import db_session, kernel

DEMO_BIG_COLUMN = 10_000  # cards in "New": shows that lazy loading keeps a column fast
DEMO_JOB_STEPS = 20
DEMO_STEP_SECONDS = 0.25
MAX_DEMO_SESSIONS = 20
DEMO_JOB_KIND = "core.demo"


# -- demo data -------------------------------------------------------------------------------


@dataclass
class DemoEvent:
    id: int
    title: str
    start: date | datetime
    end: date | datetime | None
    fixed: bool = False  # shown as movable; the server refuses, so the calendar reverts
    css: str = ""


class DemoBoard:
    """A kanban source over cards in memory: columns are ordered id lists (position =
    index). Implements :class:`core.ui.widgets.KanbanSource`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.order: dict[str, list[int]] = {"new": [], "work": [], "won": [], "lost": []}
        self.by_id: dict[int, KanbanCard] = {}
        texts = (_("Kyiv"), _("Lviv"), _("Odesa"), _("Kharkiv"), _("Dnipro"))
        lead, closed, vip = _("Lead No."), _("Closed deal No."), _("VIP")
        for n in range(1, DEMO_BIG_COLUMN + 14):
            column = (
                "new"
                if n <= DEMO_BIG_COLUMN
                else "work"
                if n <= DEMO_BIG_COLUMN + 6
                else "won"
                if n <= DEMO_BIG_COLUMN + 10
                else "lost"
            )
            locked = n == DEMO_BIG_COLUMN + 10
            self.by_id[n] = KanbanCard(
                id=n,
                column=column,
                title=f"{closed if locked else lead} {n}",
                text=texts[n % len(texts)],
                amount=Decimal(1000 + (n * 37) % 500 * 100),
                movable=not locked,
                badge=vip if n % 7 == 0 else "",
            )
            self.order[column].append(n)

    def columns(self) -> Sequence[KanbanColumn]:
        return (
            KanbanColumn("new", _l("New"), "kanban-accent-info"),
            KanbanColumn("work", _l("In progress"), "kanban-accent-warning"),
            KanbanColumn("won", _l("Won"), "kanban-accent-success"),
            KanbanColumn("lost", _l("Lost"), "kanban-accent-danger"),
        )

    def _keyed(self, card_id: int, index: int) -> KanbanCard:
        return replace(self.by_id[card_id], key=(index, card_id))

    def totals(self) -> dict[str, KanbanTotal]:
        with self.lock:
            return {
                key: KanbanTotal(
                    len(ids), sum((self.by_id[i].amount or 0 for i in ids), Decimal(0))
                )
                for key, ids in self.order.items()
            }

    def cards(self, column: str, after: tuple[Any, ...] | None, limit: int) -> list[KanbanCard]:
        with self.lock:
            ids = self.order[column]
            start = 0
            if after is not None:
                index, card_id = int(after[0]), int(after[1])
                # Continue after that card where it is now (it may have moved up since).
                if index < len(ids) and ids[index] == card_id:
                    start = index + 1
                else:
                    start = ids.index(card_id) + 1 if card_id in ids else min(index + 1, len(ids))
            return [self._keyed(i, start + k) for k, i in enumerate(ids[start : start + limit])]

    def get(self, card_id: str) -> KanbanCard | None:
        try:
            key = int(card_id)
        except ValueError:
            return None
        with self.lock:
            card = self.by_id.get(key)
            return None if card is None else replace(card, column=self._column_of(key))

    def _column_of(self, card_id: int) -> str:
        return next(k for k, ids in self.order.items() if card_id in ids)

    def move(self, card: KanbanCard, column: str, position: int) -> None:
        with self.lock:
            source = self._column_of(card.id)
            if source == "new" and column == "won":
                raise KanbanRefused(_("A new lead goes through “In progress” before it is won."))
            self.order[source].remove(card.id)
            target = self.order[column]
            target.insert(min(position, len(target)), card.id)
            self.by_id[card.id] = replace(self.by_id[card.id], column=column)


def _demo_events() -> list[DemoEvent]:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())

    def at(day: date, hour: int, minutes: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minutes, tzinfo=UTC)

    return [
        DemoEvent(1, _("Call ТОВ «Ромашка»"), at(today, 7), at(today, 8), css="event-primary"),
        DemoEvent(
            2, _("Team meeting"), at(monday, 6, 30), at(monday, 7, 30), css="event-secondary"
        ),
        DemoEvent(
            3,
            _("Exhibition “Agro 2025”"),
            today + timedelta(days=3),
            today + timedelta(days=6),
            css="event-success",
        ),
        DemoEvent(
            4, _("Send the price list"), at(today + timedelta(days=1), 9), None, css="event-warning"
        ),
        DemoEvent(
            5,
            _("Public holiday (fixed)"),
            # In this month whatever the day, so the month view always shows it.
            today + timedelta(days=1 if today.day == 1 else -1),
            None,
            fixed=True,
            css="event-danger",
        ),
        DemoEvent(
            6,
            _("Visit the client in Lviv"),
            at(today - timedelta(days=5), 10),
            at(today - timedelta(days=5), 13),
        ),
        DemoEvent(7, _("Quarterly report"), today + timedelta(days=20), today + timedelta(days=22)),
    ]


@dataclass
class DemoData:
    board: DemoBoard
    events: dict[int, DemoEvent]


_demo: OrderedDict[str, DemoData] = OrderedDict()
_demo_lock = threading.Lock()


def demo_data() -> DemoData:
    """The demo data of this sign-in session (made on first use; the least recently used
    are dropped), so each visitor starts from the same board."""
    key = current_user.session_id or str(current_user.id)
    with _demo_lock:
        data = _demo.get(key)
        if data is None:
            data = DemoData(DemoBoard(), {e.id: e for e in _demo_events()})
            _demo[key] = data
            while len(_demo) > MAX_DEMO_SESSIONS:
                _demo.popitem(last=False)
        _demo.move_to_end(key)
        return data


def demo_kanban() -> Kanban:
    return Kanban(
        name="demo",
        source=demo_data().board,
        page_endpoint="core.ui_kit_cards",
        move_endpoint="core.ui_kit_move",
        page_size=20,
        show_amounts=True,
    )


def demo_charts() -> list[tuple[str, dict[str, Any]]]:
    months = [_("Jan"), _("Feb"), _("Mar"), _("Apr"), _("May"), _("Jun")]
    return [
        (
            _("Sales by month, UAH"),
            chart_config(
                "bar",
                months,
                [
                    {"label": pgettext("chart", "Plan"), "data": [120, 130, 150, 160, 170, 180]},
                    {"label": _("Fact"), "data": [110, 142, 138, 171, 165, 190]},
                ],
            ),
        ),
        (
            _("New clients"),
            chart_config(
                "line",
                months,
                [
                    {
                        "label": _("Clients"),
                        "data": [4, 7, 5, 9, 12, 10],
                        "tension": 0.3,
                        "fill": True,
                    }
                ],
            ),
        ),
        (
            _("Deals by stage"),
            chart_config(
                "pie",
                [_("New"), _("In progress"), _("Won"), _("Lost")],
                [{"label": _("Deals"), "data": [Decimal(12), 7, 5, 3]}],
            ),
        ),
    ]


def demo_tasks() -> list[dict[str, Any]]:
    start = datetime.now(UTC).date() - timedelta(days=7)
    day = timedelta(days=1)
    return [
        gantt_task("t1", _("Requirements"), start, start + 4 * day, 100),
        gantt_task("t2", _("Design"), start + 5 * day, start + 11 * day, 60, ["t1"]),
        gantt_task("t3", _("Development"), start + 10 * day, start + 30 * day, 20, ["t2"]),
        gantt_task("t4", _("Testing <and> fixes"), start + 25 * day, start + 36 * day, 0, ["t3"]),
        gantt_task("t5", _("Launch"), start + 37 * day, start + 37 * day, 0, ["t4"]),
    ]


def demo_work(steps: int, delay: float, label: str) -> Callable[[Session, int], Any]:
    """The demo job: ``steps`` pauses, reporting progress after each."""

    def work(session: Session, job_id: int) -> dict[str, int]:
        for step in range(1, steps + 1):
            time.sleep(delay)
            advance(session, job_id, step, f"{label} {step}/{steps}")
        return {"steps": steps}

    return work


# -- routes ----------------------------------------------------------------------------------


@bp.route("/ui-kit")
@require("core.ui_kit.read")
def ui_kit():  # type: ignore[no-untyped-def]
    """The gallery: one working example of each widget."""
    return render_template(
        "core/demo/ui_kit.html",
        kanban=demo_kanban(),
        charts=demo_charts(),
        breadcrumbs=[(_("UI kit"), None)],
    )


@bp.route("/ui-kit/kanban/cards")
@require("core.ui_kit.read")
def ui_kit_cards():  # type: ignore[no-untyped-def]
    """The next page of a demo kanban column ("Show more")."""
    return demo_kanban().page()


@bp.route("/ui-kit/kanban/move", methods=["POST"])
@require("core.ui_kit.read")
def ui_kit_move():  # type: ignore[no-untyped-def]
    """A drop on the demo kanban."""
    return demo_kanban().move()


@bp.route("/ui-kit/calendar/events")
@require("core.ui_kit.read")
def ui_kit_events():  # type: ignore[no-untyped-def]
    """The demo events overlapping the visible range (FullCalendar's ?start=&end=)."""
    try:
        start, end = calendar_range()
    except BadRange:
        return jsonify(error=_("Bad date range.")), 400
    found = []
    for event in demo_data().events.values():
        first = _as_utc(event.start)
        last = _as_utc(event.end) if event.end is not None else first + timedelta(hours=1)
        if first < end and last > start:
            found.append(
                calendar_event(
                    event.id,
                    event.title,
                    event.start,
                    event.end,
                    css=event.css,
                )
            )
    return jsonify(found)


def _as_utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@bp.route("/ui-kit/calendar/move", methods=["POST"])
@require("core.ui_kit.read")
def ui_kit_event_move():  # type: ignore[no-untyped-def]
    """A demo event dragged or resized: 404 unknown, 403 fixed, 400 bad dates."""
    try:
        move = calendar_move()
    except BadRange:
        return jsonify(ok=False, error=_("Bad date range.")), 400
    events = demo_data().events
    event = events.get(int(move.id)) if move.id.isdigit() else None
    if event is None:
        return jsonify(ok=False, error=_("This event no longer exists.")), 404
    if event.fixed:
        return jsonify(ok=False, error=_("This event cannot be moved.")), 403
    if move.all_day:
        event.start = move.start.date()
        event.end = move.end.date() if move.end else None
    else:
        event.start, event.end = move.start, move.end
    return jsonify(ok=True)


@bp.route("/ui-kit/gantt/tasks")
@require("core.ui_kit.read")
def ui_kit_tasks():  # type: ignore[no-untyped-def]
    """The demo project's tasks for the Gantt chart."""
    return jsonify(demo_tasks())


@bp.route("/ui-kit/job", methods=["POST"])
@require("core.ui_kit.read")
def ui_kit_job():  # type: ignore[no-untyped-def]
    """Start the demo job in a background thread and answer with its progress component.

    ``VITRYLO_JOBS_INLINE`` (app config, for tests) runs it inside the request instead.
    """
    db = db_session()
    job = start_job(
        db, DEMO_JOB_KIND, current_user.id, total=DEMO_JOB_STEPS, message=_("Starting…")
    )
    inline = bool(current_app.config.get("VITRYLO_JOBS_INLINE"))
    work = demo_work(DEMO_JOB_STEPS, 0 if inline else DEMO_STEP_SECONDS, _("Step"))
    run_in_thread(
        kernel().db.session_factory,
        job.id,
        work,
        inline=inline,
        failed_message=_("The job failed; the error has been logged."),
    )
    if request.headers.get("HX-Request") != "true":
        return redirect(url_for("core.job", job_id=job.id))
    db.refresh(job)
    return render_progress(job)
