"""Kanban, calendar, Gantt and chart: the server halves of the widgets in ``core/static/ui``.

Each widget is server-rendered HTML plus one static script that reads ``data-``
attributes (the CSP forbids inline scripts and inline styles, so no page ever writes
JavaScript or ``style=``). What the helpers here do, and why:

- **Kanban** (:class:`Kanban`): columns and cards are rendered on the server, the first
  ``page_size`` cards of each column only; "more" fetches the next *keyset* page (a
  signed cursor holding the last card's sort key), so a column of 10,000 cards costs what
  a column of 20 costs and a card is never shown twice. A drop posts
  ``card``/``column``/``position`` to :meth:`Kanban.move`, which checks everything the
  browser could lie about (card exists for this user, right to move, known column, sane
  position) before the addon's :meth:`KanbanSource.move` saves; the answer carries fresh
  column totals. :class:`SqlKanbanSource` is a ready source for a model with a column
  (stage) and a position.
- **Calendar**: FullCalendar asks the events URL for the visible range;
  :func:`calendar_range` parses its ``start``/``end`` and :func:`calendar_event` makes
  the JSON an event needs (ISO dates). FullCalendar 6 injects its CSS through an empty
  ``<style>`` element filled with ``insertRule``; the CSP (``core/csp.py``) admits an
  empty ``<style>`` and nothing else.
- **Gantt**: :func:`gantt_task` makes the task dicts frappe-gantt reads.
- **Charts**: :func:`chart_config` builds a Chart.js config (plain JSON: no callbacks can
  travel in a data- attribute), with the palette chosen on the server so every chart of
  the product looks alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, Protocol, TypeVar

from flask import Response, current_app, jsonify, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.security import has_permission
from core.ui.cursor import decode_key, encode_key

F = TypeVar("F", bound=Callable[..., Any])
Number = Decimal | int | float

# -- Kanban ----------------------------------------------------------------------------------


class KanbanRefused(Exception):
    """Raised by a source's ``move`` when a business rule forbids the move; its message
    (already translated) is shown to the user and the card goes back."""


@dataclass(frozen=True)
class KanbanColumn:
    """One column: ``key`` is what a move posts (a stage code), ``css`` extra classes."""

    key: str
    label: Any
    css: str = ""


@dataclass(frozen=True)
class KanbanCard:
    """One card as the board shows it.

    ``key`` is the card's sort key inside its column, unique (end it with the id): the
    "more" cursor is the last card's key. ``movable=False`` locks one card (e.g. a closed
    deal) whatever the user's rights.
    """

    id: Any
    column: str
    title: str
    key: tuple[Any, ...] = ()
    text: str = ""
    amount: Number | None = None
    url: str | None = None
    badge: str = ""
    movable: bool = True


@dataclass(frozen=True)
class KanbanTotal:
    """A column's header figures: how many cards, and the sum of their amounts."""

    count: int
    amount: Number | None = None


class KanbanSource(Protocol):
    """Where a board's cards come from and where a move is saved (the addon's part).

    Every method answers for the current user only: a card outside their record scope is
    neither listed, counted nor returned by :meth:`get`.
    """

    def columns(self) -> Sequence[KanbanColumn]:
        """The columns, left to right."""

    def totals(self) -> Mapping[str, KanbanTotal]:
        """Per column key: the count (and amount) of all its cards, not just those loaded."""

    def cards(self, column: str, after: tuple[Any, ...] | None, limit: int) -> Sequence[KanbanCard]:
        """Up to ``limit`` cards of ``column`` in board order, after the card whose key is
        ``after`` (``None``: from the top). Keyset, never OFFSET."""

    def get(self, card_id: str) -> KanbanCard | None:
        """The card with this id (as posted, a string), or ``None`` if the user can't see it."""

    def move(self, card: KanbanCard, column: str, position: int) -> None:
        """Save ``card`` in ``column`` with ``position`` cards above it (0 = top), and
        commit; raise :class:`KanbanRefused` to refuse with a message."""


def format_amount(value: Number | None) -> str:
    """An amount in the user's locale with two decimals ("1 234,50" in Ukrainian)."""
    return "" if value is None else format_decimal(value, format="#,##0.00")


@dataclass
class KanbanColumnView:
    """What the board template needs for one column."""

    column: KanbanColumn
    total: KanbanTotal
    cards: Sequence[KanbanCard]
    more_url: str | None


@dataclass
class Kanban:
    """A board: see the module docstring and ``docs/ui.md``.

    ``name`` is unique per app (it salts cursors, names DOM ids). ``page_endpoint`` serves
    :meth:`page` (GET), ``move_endpoint`` serves :meth:`move` (POST; ``None``: read-only
    board). ``move_permission`` is checked on every move in addition to the card's own
    ``movable``. ``url_args`` go to both endpoints (e.g. a pipeline id).
    """

    name: str
    source: KanbanSource
    page_endpoint: str
    move_endpoint: str | None = None
    move_permission: str | None = None
    page_size: int = 25
    show_amounts: bool = False
    url_args: Mapping[str, Any] = field(default_factory=dict)
    card_template: str = "core/ui/kanban_card.html"

    # - cursors -
    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.secret_key or "", salt=f"vitrylo.kanban.{self.name}")

    def encode_cursor(self, column: str, key: tuple[Any, ...]) -> str:
        return str(self._serializer().dumps([column, [encode_key(v) for v in key]]))

    def decode_cursor(self, column: str, token: str) -> tuple[Any, ...] | None:
        """The key a cursor continues from; ``None`` for a forged one or another column's."""
        try:
            signed_column, raw = self._serializer().loads(token)
            if signed_column != column:
                return None
            return tuple(decode_key(v) for v in raw)
        except (BadData, ValueError, TypeError, KeyError):
            return None

    # - rendering -
    def _page(
        self, column: str, after: tuple[Any, ...] | None
    ) -> tuple[list[KanbanCard], str | None]:
        """One page of a column and the URL of the next (one extra card says if there is one)."""
        cards = list(self.source.cards(column, after, self.page_size + 1))
        more = None
        if len(cards) > self.page_size:
            cards = cards[: self.page_size]
            more = url_for(
                self.page_endpoint,
                column=column,
                cursor=self.encode_cursor(column, cards[-1].key),
                **self.url_args,
            )
        return cards, more

    def board(self) -> list[KanbanColumnView]:
        totals = self.source.totals()
        views = []
        for column in self.source.columns():
            cards, more = self._page(column.key, None)
            views.append(
                KanbanColumnView(column, totals.get(column.key, KanbanTotal(0)), cards, more)
            )
        return views

    def render(self) -> Markup:
        """The whole board, for ``{{ board.render() }}`` in the addon's page (add
        ``core/ui/kanban_head.html`` and ``kanban_scripts.html`` to the page's blocks)."""
        move_url = url_for(self.move_endpoint, **self.url_args) if self.move_endpoint else ""
        html = render_template(
            "core/ui/kanban.html",
            kanban=self,
            columns=self.board(),
            move_url=move_url,
            format_amount=format_amount,
            format_count=format_decimal,
        )
        return Markup(html)  # noqa: S704 - a rendered template, autoescaped

    def page(self) -> Response:
        """GET handler: the next cards of ``?column=`` after ``?cursor=`` (an HTML fragment
        that replaces the "more" button: the cards, then the next button if any)."""
        column = request.args.get("column", "")
        if column not in {c.key for c in self.source.columns()}:
            return Response(_("Unknown column."), 400)
        after = self.decode_cursor(column, request.args.get("cursor", ""))
        if after is None:
            return Response(_("This link is no longer valid; reload the page."), 400)
        cards, more = self._page(column, after)
        html = render_template(
            "core/ui/kanban_cards.html",
            kanban=self,
            cards=cards,
            more_url=more,
            column=column,
            format_amount=format_amount,
        )
        return Response(html, mimetype="text/html")

    def totals_json(self) -> dict[str, dict[str, Any]]:
        """Column totals as the board's script shows them (already formatted)."""
        return {
            key: {
                "count": t.count,
                "count_text": format_decimal(t.count),
                "amount": format_amount(t.amount) if self.show_amounts else "",
            }
            for key, t in self.source.totals().items()
        }

    def move(self) -> Response:
        """POST handler for a drop: validates, lets the source save, answers JSON.

        400 for a bad column or position, 404 for a card the user can't see, 403 without
        the right (or for a locked card), 409 when the source refuses; ``{"ok": true,
        "totals": ...}`` otherwise. CSRF is checked before this runs (a missing token
        answers 400), like every POST.
        """

        def refuse(status: int, message: str) -> Response:
            response = jsonify(ok=False, error=message)
            response.status_code = status
            return response

        if not has_permission(self.move_permission):
            from core.audit import record_denied

            record_denied(self.move_permission)
            return refuse(403, _("You do not have the right to move cards here."))
        column = request.form.get("column", "")
        if column not in {c.key for c in self.source.columns()}:
            return refuse(400, _("Unknown column."))
        try:
            position = int(request.form.get("position", ""))
        except ValueError:
            return refuse(400, _("Bad position."))
        if position < 0:
            return refuse(400, _("Bad position."))
        card = self.source.get(request.form.get("card", "")[:100])
        if card is None:
            return refuse(404, _("This card no longer exists."))
        if not card.movable:
            return refuse(403, _("This card cannot be moved."))
        try:
            self.source.move(card, column, position)
        except KanbanRefused as exc:
            return refuse(409, str(exc))
        return jsonify(ok=True, totals=self.totals_json())


POSITION_STEP = 64  # room between kanban cards: most drops renumber nothing


def drop_position(
    session: Session, others: Select[Any], index: int, step: int = POSITION_STEP
) -> int | None:
    """The position of a card dropped with ``index`` cards above it, among ``others`` (a
    select of one column: the positions of the target column's other cards, ordered by
    position then id): half-way between its two neighbours, ``step`` above the first card,
    or ``None`` for the bottom (``max + step``). When the neighbours are adjacent there is
    no room: the answer is the position of the card below, which the caller shifts down by
    one with the cards below it. Two rows read (an index seek), whatever the column's
    size."""
    near = list(session.scalars(others.offset(max(index - 1, 0)).limit(2)))
    above = near.pop(0) if index > 0 and near else None
    below = near[0] if near else None
    if below is None:
        return None
    if above is None:
        return int(below) - step
    return (above + below) // 2 if below - above > 1 else int(below)


def make_room(
    session: Session,
    model: type[Any],
    position: InstrumentedAttribute[Any],
    in_column: Sequence[Any],
    at: int,
    scan: int = 256,
) -> None:
    """If a card of the column (``in_column``: its conditions) holds position ``at``, move
    it one down, with the cards right below it that follow without a gap — only those:
    positions are spaced, so that is usually one row, not the rest of the column. Reads at
    most ``scan`` positions; with no gap among them, everything below moves (one UPDATE)."""
    run = list(
        session.scalars(
            select(position).where(*in_column, position >= at).order_by(position).limit(scan)
        )
    )
    if not run or run[0] != at:
        return
    bounds = [*in_column, position >= at]
    gap = next((prev for prev, nxt in pairwise(run) if nxt > prev + 1), None)
    if gap is not None:
        bounds.append(position <= gap)
    session.execute(
        update(model)
        .where(*bounds)
        .values({position.key: position + 1})
        .execution_options(synchronize_session=False)
    )


@dataclass
class SqlKanbanSource:
    """A :class:`KanbanSource` over a model with a column attribute (a stage) and an
    integer ``position`` (lower = higher on the board; keep positions distinct per column,
    :meth:`next_position` gives a new card's).

    ``card(record)`` makes the card's text (its ``id``, ``column`` and ``key`` are filled
    in here); ``where()`` returns extra conditions (the record scope: pass
    ``lambda stmt: scope_filter(stmt, "sales.deal", Deal.manager_id)`` as ``scope``);
    ``amount`` is summed per column when given. Positions are spaced
    :data:`POSITION_STEP` apart, so a drop usually lands between its two neighbours
    (:func:`drop_position`) and writes one row; only a drop between two adjacent positions
    shifts the cards below it, with one UPDATE.
    """

    session: Callable[[], Session]
    model: Any
    column_attr: Any
    position_attr: Any
    kanban_columns: Sequence[KanbanColumn]
    card: Callable[[Any], KanbanCard]
    amount: Any = None
    scope: Callable[[Select[Any]], Select[Any]] | None = None
    id_type: Callable[[str], Any] = int

    def _scoped(self, stmt: Select[Any]) -> Select[Any]:
        return self.scope(stmt) if self.scope is not None else stmt

    def _card(self, record: Any) -> KanbanCard:
        position = getattr(record, self.position_attr.key)
        return replace(
            self.card(record),
            id=record.id,
            column=str(getattr(record, self.column_attr.key)),
            key=(position, record.id),
        )

    def columns(self) -> Sequence[KanbanColumn]:
        return self.kanban_columns

    def totals(self) -> dict[str, KanbanTotal]:
        figures: list[Any] = [self.column_attr, func.count(self.model.id)]
        if self.amount is not None:
            figures.append(func.sum(self.amount))
        stmt = self._scoped(select(*figures).group_by(self.column_attr))
        return {
            str(row[0]): KanbanTotal(row[1], row[2] if self.amount is not None else None)
            for row in self.session().execute(stmt)
        }

    def cards(self, column: str, after: tuple[Any, ...] | None, limit: int) -> list[KanbanCard]:
        pos, pk = self.position_attr, self.model.id
        stmt = self._scoped(select(self.model).where(self.column_attr == column))
        if after is not None:
            stmt = stmt.where(or_(pos > after[0], and_(pos == after[0], pk > after[1])))
        stmt = stmt.order_by(pos, pk).limit(limit)
        return [self._card(r) for r in self.session().scalars(stmt)]

    def get(self, card_id: str) -> KanbanCard | None:
        try:
            key = self.id_type(card_id)
        except (TypeError, ValueError):
            return None
        record = (
            self.session()
            .scalars(self._scoped(select(self.model).where(self.model.id == key)))
            .first()
        )
        return None if record is None else self._card(record)

    def next_position(self, column: str) -> int:
        """The position of a card added at the bottom of ``column``."""
        top = self.session().scalar(
            select(func.max(self.position_attr)).where(self.column_attr == column)
        )
        return 0 if top is None else int(top) + POSITION_STEP

    def move(self, card: KanbanCard, column: str, position: int) -> None:
        """Put the card just above the one now at index ``position`` among the cards of
        the target column that the user sees (what they dropped it before): into the gap
        between its neighbours, or, when there is none, shifting the cards from the one
        below down by one."""
        db = self.session()
        pos, pk = self.position_attr, self.model.id
        in_column = (self.column_attr == column, pk != card.id)
        others = self._scoped(select(pos).where(*in_column)).order_by(pos, pk)
        new_position = drop_position(db, others, position)
        if new_position is None:
            new_position = self.next_position(column)
        else:
            make_room(db, self.model, pos, in_column, new_position)
        db.execute(
            update(self.model)
            .where(pk == card.id)
            .values({self.column_attr.key: column, pos.key: new_position})
            .execution_options(synchronize_session=False)
        )
        db.commit()
        db.expire_all()


# -- Calendar --------------------------------------------------------------------------------

MAX_CALENDAR_DAYS = 400
# The CSP source admitting an empty <style> element and nothing else: base64 of the
# SHA-256 of the empty string. FullCalendar 6 creates exactly that and fills it with
# CSSOM insertRule() calls, which CSP does not govern.


class BadRange(ValueError):
    """A calendar range that is missing, unreadable, reversed or too long."""


def parse_moment(raw: str) -> datetime:
    """An ISO date or date-time from FullCalendar as an aware UTC datetime (a bare date is
    midnight UTC; FullCalendar sends offsets, e.g. ``2025-05-01T00:00:00+03:00``)."""
    text = raw.strip().replace(" ", "+")  # a "+" in a query string arrives as a space
    if not text:
        raise BadRange("empty")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRange(text) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def calendar_range(args: Mapping[str, str] | None = None) -> tuple[datetime, datetime]:
    """The visible range FullCalendar asks for (``?start=&end=``), in UTC.

    Raises :class:`BadRange` (answer 400) for a bad or reversed range, or one longer than
    ``MAX_CALENDAR_DAYS`` (a crafted URL must not load a decade of events).
    """
    args = request.args if args is None else args
    start = parse_moment(args.get("start", ""))
    end = parse_moment(args.get("end", ""))
    if end <= start or end - start > timedelta(days=MAX_CALENDAR_DAYS):
        raise BadRange(f"{start}..{end}")
    return start, end


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value.isoformat()


def calendar_event(
    id: Any,
    title: str,
    start: date | datetime,
    end: date | datetime | None = None,
    *,
    all_day: bool | None = None,
    url: str | None = None,
    editable: bool | None = None,
    css: str = "",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One event as FullCalendar reads it: ISO dates (a naive datetime is UTC, as Vitrylo
    stores them), ``allDay`` when ``start`` is a plain date, ``classNames`` for colour
    (style attributes are forbidden by the CSP, classes are not)."""
    event: dict[str, Any] = {
        "id": str(id),
        "title": title,
        "start": _iso(start),
        "allDay": (not isinstance(start, datetime)) if all_day is None else all_day,
    }
    if end is not None:
        event["end"] = _iso(end)
    if url:
        event["url"] = url
    if editable is not None:
        event["editable"] = editable
    if css:
        event["classNames"] = css.split()
    if extra:
        event["extendedProps"] = dict(extra)
    return event


@dataclass(frozen=True)
class CalendarMove:
    """A drag or resize posted by the calendar: the event's id and its new times."""

    id: str
    start: datetime
    end: datetime | None
    all_day: bool


def calendar_move(form: Mapping[str, str] | None = None) -> CalendarMove:
    """The posted move (``id``, ``start``, ``end``, ``all_day``); :class:`BadRange` if the
    dates are unreadable or reversed."""
    form = request.form if form is None else form
    start = parse_moment(form.get("start", ""))
    end = parse_moment(form["end"]) if form.get("end") else None
    if end is not None and end < start:
        raise BadRange("end before start")
    return CalendarMove(
        form.get("id", "")[:100], start, end, form.get("all_day", "") in ("1", "true")
    )


# -- Gantt -----------------------------------------------------------------------------------


def gantt_task(
    id: Any,
    name: str,
    start: date,
    end: date,
    progress: Number = 0,
    dependencies: Iterable[Any] = (),
    css: str = "",
) -> dict[str, Any]:
    """One frappe-gantt task: dates as ``YYYY-MM-DD`` (``end`` inclusive), progress
    0..100, dependencies as ids. The name is escaped by ``gantt.js`` (frappe-gantt puts
    it in ``innerHTML``)."""
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(end, datetime):
        end = end.date()
    if end < start:
        end = start
    task: dict[str, Any] = {
        "id": str(id),
        "name": name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "progress": max(0, min(100, float(progress))),
        "dependencies": ", ".join(str(d) for d in dependencies),
    }
    if css:
        task["custom_class"] = css
    return task


# -- Charts ----------------------------------------------------------------------------------

CHART_KINDS = ("bar", "line", "pie", "doughnut")
# Bootstrap 5's palette, so charts match the rest of the interface.
PALETTE = (
    "#0d6efd",
    "#198754",
    "#ffc107",
    "#dc3545",
    "#6f42c1",
    "#20c997",
    "#fd7e14",
    "#0dcaf0",
    "#d63384",
    "#6c757d",
)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"a chart value must be a number, not {value!r}")
    return float(value)


def chart_config(
    kind: str,
    labels: Sequence[Any],
    datasets: Sequence[Mapping[str, Any]],
    *,
    title: Any = None,
    stacked: bool = False,
    horizontal: bool = False,
) -> dict[str, Any]:
    """A Chart.js config for ``kind`` (bar, line, pie, doughnut) as plain JSON data.

    ``datasets`` are ``{"label": ..., "data": [numbers]}`` (Decimals become floats; other
    Chart.js dataset keys pass through). Bars and lines take one colour per dataset, pies
    one per slice. Raises ``ValueError`` for an unknown kind or a dataset whose length
    differs from the labels' (a chart silently missing a month is worse than an error).
    """
    if kind not in CHART_KINDS:
        raise ValueError(f"unknown chart kind {kind!r}; use one of {', '.join(CHART_KINDS)}")
    sets = []
    for index, dataset in enumerate(datasets):
        data = [_number(v) for v in dataset.get("data", ())]
        if len(data) != len(labels):
            raise ValueError(f"dataset {index} has {len(data)} values for {len(labels)} labels")
        item = {k: v for k, v in dataset.items() if k != "data"}
        item["label"] = str(item.get("label", ""))
        item["data"] = data
        if kind in ("pie", "doughnut"):
            item.setdefault(
                "backgroundColor", [PALETTE[i % len(PALETTE)] for i in range(len(data))]
            )
        else:
            colour = PALETTE[index % len(PALETTE)]
            item.setdefault("backgroundColor", colour + ("33" if kind == "line" else "cc"))
            item.setdefault("borderColor", colour)
        sets.append(item)
    options: dict[str, Any] = {
        "responsive": True,
        "maintainAspectRatio": False,
        "plugins": {"legend": {"position": "bottom"}},
    }
    if title:
        options["plugins"]["title"] = {"display": True, "text": str(title)}
    if kind in ("bar", "line"):
        options["scales"] = {
            "x": {"stacked": stacked},
            "y": {"stacked": stacked, "beginAtZero": True},
        }
        if horizontal and kind == "bar":
            options["indexAxis"] = "y"
    return {
        "type": kind,
        "data": {"labels": [str(label) for label in labels], "datasets": sets},
        "options": options,
    }


def to_json(value: Any) -> str:
    """Compact JSON for a data- attribute (Jinja escapes the quotes when it is inserted)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def day_start(day: date) -> datetime:
    """Midnight UTC of ``day`` (demo data and tests build ranges with it)."""
    return datetime.combine(day, time(0), tzinfo=UTC)
