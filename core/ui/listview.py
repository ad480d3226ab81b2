"""The list view: an addon declares a list; the core queries, pages, renders and exports it.

An addon's list page is a :class:`ListView` declaration (columns, search, filters, sort,
record scope, bulk actions, export right) plus three small routes that call
:meth:`ListView.render`, :meth:`ListView.export` and :meth:`ListView.bulk` (see
``docs/ui.md``). Why each piece is the way it is:

- **One query per page.** The page selects exactly the declared column expressions (joins
  declared once), so nothing is lazy-loaded per row: the number of queries does not grow
  with the page size.
- **Keyset pagination**, never ``OFFSET``: page 5,000 costs what page 1 costs. A page link
  carries the sort key and id of the row it continues from, signed with the app's secret
  (so a hand-edited cursor is refused, and shows page 1 with a message, never a 500). The
  primary key is always the last sort key, so rows with equal names are neither lost nor
  repeated between pages.
- **Scope first.** The record scope (:func:`core.security.scope_filter`) is applied to
  the base query that the page, the export and the bulk actions all start from, so none of
  them can reach a record the user may not see.
- **Progressive enhancement.** Every control is a plain link or GET form; htmx only swaps
  the table region in place when it is there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import cache, partial
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl, urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_date, format_datetime, format_decimal, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from core.security import has_permission, scope_filter
from core.tz import user_timezone
from core.ui.cursor import decode_key, encode_key
from core.ui.export import CSV_DELIMITERS, csv_stream, xlsx_stream

PAGE_SIZES = (25, 50, 100, 200)
MATCH_MODES = ("contains", "prefix")
MAX_SEARCH_LENGTH = 200
MAX_BULK_IDS = 1000
EXPORT_BATCH = 1000


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (``%`` and ``_`` lose their meaning)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- search ---------------------------------------------------------------------------------


@cache
def _case_bounds() -> dict[str, tuple[str, str]]:
    """For each lowercase character (Basic Multilingual Plane): the smallest and the
    largest character that lowercases to it, itself included."""
    table: dict[str, list[str]] = {}
    for code in range(0x10000):
        char = chr(code)
        lower = char.lower()
        if len(lower) == 1 and lower != char and not 0xD800 <= code < 0xE000:
            table.setdefault(lower, [lower]).append(char)
    return {lower: (min(chars), max(chars)) for lower, chars in table.items()}


def prefix_bounds(prefix: str) -> tuple[str, str]:
    """``(low, high)``: in code point order, every string whose lowercase starts with
    ``prefix`` (lowercase) lies in ``[low, high)``: for ``"тов"``, from ``"ТОВ"`` to
    ``"тов"`` followed by the last code point.
    """
    bounds = _case_bounds()
    low = "".join(bounds.get(c, (c, c))[0] for c in prefix)
    high = "".join(bounds.get(c, (c, c))[1] for c in prefix)
    return low, high + "\U0010ffff"


def search_condition(exprs: Sequence[Any], query: str, match: str, dialect: str) -> Any:
    """Case-insensitive "contains" / "starts with" over ``exprs`` (any one may match).

    Portable form: ``lower(expr) LIKE pattern`` (PostgreSQL answers it from a trigram index
    when there is one). Two SQLite shortcuts, as its ``lower()`` is a Python function
    called per row: an ASCII query uses SQLite's own LIKE, already case-insensitive for
    ASCII; a prefix search on one column adds a range on the column itself (binary order)
    that its index can seek to, keeping the LIKE for exactness.
    """
    text = escape_like(query.lower())
    pattern = f"{text}%" if match == "prefix" else f"%{text}%"
    sqlite = dialect == "sqlite"
    if sqlite and query.isascii():
        conditions = [expr.like(pattern, escape="\\") for expr in exprs]
    else:
        conditions = [func.lower(expr).like(pattern, escape="\\") for expr in exprs]
    condition = or_(*conditions)
    if sqlite and match == "prefix" and len(exprs) == 1:
        expr = exprs[0]
        if getattr(getattr(expr, "type", None), "collation", None) is None:
            low, high = prefix_bounds(query.lower())
            condition = and_(expr >= low, expr < high, condition)
    return condition


# -- cell values ---------------------------------------------------------------------------


def display_value(value: Any) -> str:
    """How a cell shows a value when its column declares no formatter (user's locale)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        return format_datetime(value, "short")
    if isinstance(value, date):
        return format_date(value, "short")
    if isinstance(value, float | Decimal):
        return format_decimal(value)
    return str(value)


def export_value(value: Any, tz: tzinfo | None = None) -> Any:
    """A value for a spreadsheet: typed where a spreadsheet has the type, text otherwise.

    Datetimes are shown in the time zone ``tz`` (default: the user's), as spreadsheets have
    none; a naive datetime from SQLite is UTC, as everything Vitrylo stores.
    """
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(tz or get_timezone()).replace(tzinfo=None)
    if value is None or isinstance(value, int | float | Decimal | date | time | str):
        return value
    return str(value)


# -- declarations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column: a label, the SQL expression it shows, and how the cell looks.

    ``format(value)`` makes the cell's text (default: :func:`display_value`); ``template``
    names a Jinja template rendered for the cell instead (it sees ``cell``, ``row``,
    ``value``). ``link(row)`` makes the cell a link (``row.id`` is the record's key).
    ``nullable`` says whether the expression can be NULL (default: read from the column);
    sorting by a nullable column puts NULLs last.
    """

    key: str
    label: Any
    expr: Any
    sortable: bool = False
    format: Callable[[Any], Any] | None = None
    export_format: Callable[[Any], Any] | None = None
    template: str | None = None
    link: Callable[[Any], str] | None = None
    nullable: bool | None = None
    export: bool = True
    css: str = ""

    def is_nullable(self) -> bool:
        if self.nullable is not None:
            return self.nullable
        column = getattr(self.expr, "expression", self.expr)
        return bool(getattr(column, "nullable", True))


class Filter(Protocol):
    """What a filter provides; the concrete kinds below are what addons use."""

    key: str
    label: Any
    kind: ClassVar[str]

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        """The filter's value from the query string (``None``: inactive) and the
        normalised parameters that reproduce it in a link."""

    def condition(self, value: Any) -> Any:
        """The WHERE clause for ``value`` (``None``: no restriction)."""


Choices = Sequence[tuple[Any, Any]] | Callable[[], Sequence[tuple[Any, Any]]]


def _options(choices: Choices) -> list[tuple[str, Any]]:
    items = choices() if callable(choices) else choices
    return [(str(value), label) for value, label in items]


@dataclass(frozen=True)
class ChoiceFilter:
    """Pick one of a few values: ``expr == value``, or ``where(value)`` for anything else
    (e.g. "mine / all"). ``default`` applies when the parameter is absent or unknown."""

    key: str
    label: Any
    choices: Choices
    expr: Any = None
    where: Callable[[str], Any] | None = None
    default: str = ""
    coerce: Callable[[str], Any] = str
    kind: ClassVar[str] = "choice"

    def options(self) -> list[tuple[str, Any]]:
        return _options(self.choices)

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        raw = args.get(self.key, "")
        if raw not in {value for value, _label in self.options()}:
            return (self.default or None), {}
        return raw, ({} if raw == self.default else {self.key: raw})

    def condition(self, value: Any) -> Any:
        if self.where is not None:
            return self.where(value)
        try:
            return self.expr == self.coerce(value)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class BooleanFilter:
    """Yes / no / either, on a boolean expression."""

    key: str
    label: Any
    expr: Any
    kind: ClassVar[str] = "boolean"

    def options(self) -> list[tuple[str, Any]]:
        return [("1", _l("Yes")), ("0", _l("No"))]

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        raw = args.get(self.key, "")
        return (raw == "1", {self.key: raw}) if raw in ("1", "0") else (None, {})

    def condition(self, value: Any) -> Any:
        return self.expr.is_(true()) if value else self.expr.is_(false())


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class DateRangeFilter:
    """From / to dates, both inclusive, read as days of the user's time zone.

    Parameters ``<key>_from`` and ``<key>_to``; either may be left empty.
    """

    key: str
    label: Any
    expr: Any
    kind: ClassVar[str] = "date_range"

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        start = _parse_date(args.get(f"{self.key}_from", ""))
        end = _parse_date(args.get(f"{self.key}_to", ""))
        if start is None and end is None:
            return None, {}
        params = {
            f"{self.key}_from": start.isoformat() if start else "",
            f"{self.key}_to": end.isoformat() if end else "",
        }
        return (start, end), {k: v for k, v in params.items() if v}

    def _bound(self, day: date) -> Any:
        if isinstance(getattr(self.expr, "type", None), DateTime):
            local = datetime.combine(day, time.min, tzinfo=user_timezone())
            moment = local.astimezone(UTC)
            return moment if self.expr.type.timezone else moment.replace(tzinfo=None)
        return day

    def condition(self, value: Any) -> Any:
        start, end = value
        parts = []
        if start is not None:
            parts.append(self.expr >= self._bound(start))
        if end is not None:
            parts.append(self.expr < self._bound(end + timedelta(days=1)))
        return and_(*parts)


@dataclass(frozen=True)
class RelatedFilter:
    """Records pointing at one related record (``expr`` is the foreign key column).

    ``options()`` lists ``(id, label)`` for a drop-down; without it the user types an id.
    """

    key: str
    label: Any
    expr: Any
    choices: Choices | None = None
    kind: ClassVar[str] = "related"

    def options(self) -> list[tuple[str, Any]]:
        return _options(self.choices) if self.choices is not None else []

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        raw = args.get(self.key, "").strip()
        if not raw.isdigit() or len(raw) > 18:
            return None, {}
        return int(raw), {self.key: str(int(raw))}

    def condition(self, value: Any) -> Any:
        return self.expr == value


@dataclass(frozen=True)
class BulkAction:
    """A POST action on the ticked rows: ``handler(session, ids)`` changes them and returns
    how many it changed. ``ids`` holds only records in the user's scope; the list view
    checks ``permission`` and CSRF, and commits."""

    name: str
    label: Any
    handler: Callable[[Session, list[Any]], int | None]
    permission: str | None = None
    confirm: Any = None
    style: str = "outline-secondary"


# -- request state -------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after (or before) the row with sort value ``value`` and ``id``."""

    before: bool
    value: Any
    id: Any


@dataclass
class ListState:
    """What the query string asked for, validated (bad values fell back to defaults)."""

    query: str = ""
    match: str = "contains"
    sort: str = ""
    descending: bool = False
    per_page: int = 25
    filters: dict[str, Any] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    cursor: Cursor | None = None
    notice: str = ""

    @property
    def sort_token(self) -> str:
        return f"-{self.sort}" if self.descending else self.sort

    @property
    def narrowed(self) -> bool:
        """Whether a search or filter hides some rows (for the empty state's wording)."""
        return bool(set(self.args) - {"sort", "per_page", "match"})


@dataclass
class Cell:
    column: Column
    value: Any
    text: Any
    href: str | None


@dataclass
class Row:
    """A rendered row: the record's key, its values by column key (also as attributes:
    ``row.name``) and its cells."""

    id: Any
    values: dict[str, Any]
    cells: list[Cell] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


# -- the list view -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListView:
    """The declaration of one list page; see the module docstring and ``docs/ui.md``.

    ``name`` is unique per app (it salts the cursors and names the HTML region);
    ``endpoint`` is the list page's endpoint. ``subject`` + ``owner`` turn on the record
    scope. ``default_sort`` is a sortable column key, ``-key`` for descending.
    """

    name: str
    endpoint: str
    model: Any
    columns: Sequence[Column]
    title: Any = ""
    search: Sequence[Any] = ()
    search_mode: str = "contains"
    filters: Sequence[Filter] = ()
    default_sort: str = ""
    joins: Sequence[tuple[Any, Any]] = ()
    where: Callable[[], Any] | None = None
    subject: str | None = None
    owner: Any = None
    page_size: int = 25
    export_permission: str | None = None
    export_endpoint: str | None = None
    export_limit: int = 1_000_000
    bulk_actions: Sequence[BulkAction] = ()
    bulk_endpoint: str | None = None
    empty_message: Any = None
    template: str = "core/ui/list.html"

    def __post_init__(self) -> None:
        keys = [c.key for c in self.columns]
        problems = []
        if len(set(keys)) != len(keys) or "id" in keys:
            problems.append("column keys must be unique and not 'id'")
        if (self.subject is None) != (self.owner is None):
            problems.append("declare both subject and owner for a record scope, or neither")
        if self.default_sort.lstrip("-") not in {"", *self.sortable}:
            problems.append(f"default_sort '{self.default_sort}' is not a sortable column")
        if self.page_size not in PAGE_SIZES or self.search_mode not in MATCH_MODES:
            problems.append(f"page_size must be one of {PAGE_SIZES}, search_mode of {MATCH_MODES}")
        if self.export_permission and not self.export_endpoint:
            problems.append("export_permission needs export_endpoint")
        if self.bulk_actions and not self.bulk_endpoint:
            problems.append("bulk_actions need bulk_endpoint")
        if problems:
            raise ValueError(f"ListView '{self.name}': " + "; ".join(problems))

    # -- declarations read back ----------------------------------------------------------

    @property
    def sortable(self) -> dict[str, Column]:
        return {c.key: c for c in self.columns if c.sortable}

    @property
    def pk(self) -> Any:
        keys = sa_inspect(self.model).primary_key
        if len(keys) != 1:
            raise ValueError(f"ListView '{self.name}': the model needs a one-column key")
        return keys[0]

    @property
    def region_id(self) -> str:
        return f"list-{self.name}"

    # -- state -----------------------------------------------------------------------------

    def parse(self, args: Mapping[str, str]) -> ListState:
        """Validate the query string; anything wrong falls back to the default, quietly
        (sort, page size) or with a notice (a cursor that does not verify)."""
        state = ListState(match=self.search_mode, per_page=self.page_size)
        state.query = " ".join(args.get("q", "").split())[:MAX_SEARCH_LENGTH]
        if args.get("match") in MATCH_MODES:
            state.match = args["match"]
        sort = args.get("sort", "") or self.default_sort
        if sort.lstrip("-") not in self.sortable:
            sort = self.default_sort
        state.sort, state.descending = sort.lstrip("-"), sort.startswith("-")
        raw_size = args.get("per_page", "")
        if raw_size.isdigit() and int(raw_size) in PAGE_SIZES:
            state.per_page = int(raw_size)
        extra: dict[str, str] = {}
        for flt in self.filters:
            state.filters[flt.key], params = flt.parse(args)
            extra.update(params)
        state.args = {
            k: v
            for k, v in {
                "q": state.query,
                "match": state.match if state.query and state.match != self.search_mode else "",
                "sort": state.sort_token if state.sort_token != self.default_sort else "",
                "per_page": str(state.per_page) if state.per_page != self.page_size else "",
                **extra,
            }.items()
            if v
        }
        token = args.get("cursor", "")
        if token:
            state.cursor = self._decode_cursor(token, state.sort_token)
            if state.cursor is None:
                state.notice = _("That page link is no longer valid; here is the first page.")
        return state

    def _serializer(self) -> URLSafeSerializer:
        return URLSafeSerializer(current_app.secret_key or "", salt=f"vitrylo.list.{self.name}")

    def encode_cursor(self, state: ListState, row: Row, before: bool) -> str:
        value = row.values.get(state.sort) if state.sort else None
        payload = [state.sort_token, "b" if before else "a", encode_key(value), row.id]
        return str(self._serializer().dumps(payload))

    def _decode_cursor(self, token: str, sort_token: str) -> Cursor | None:
        try:
            sort, direction, raw, key = self._serializer().loads(token)
            if sort != sort_token or direction not in ("a", "b"):
                return None
            if not isinstance(key, int | str) or isinstance(key, bool):
                return None
            return Cursor(before=direction == "b", value=decode_key(raw), id=key)
        except (BadData, ValueError, TypeError, KeyError):
            return None

    # -- queries ---------------------------------------------------------------------------

    def base_query(self, *columns: Any) -> Select[Any]:
        """The records of the list the user may see (scope + declared ``where``),
        selecting ``columns`` (default: the key and every declared column)."""
        cols = columns or (self.pk.label("id"), *(c.expr.label(c.key) for c in self.columns))
        stmt = select(*cols).select_from(self.model)
        for target, onclause in self.joins:
            stmt = stmt.outerjoin(target, onclause)
        if self.where is not None:
            stmt = stmt.where(self.where())
        if self.subject is not None:
            stmt = scope_filter(stmt, self.subject, self.owner)
        return stmt

    def filtered_query(self, state: ListState, dialect: str = "") -> Select[Any]:
        """The base query narrowed by the search text and the filters (``dialect``: the
        database's, for its search shortcuts)."""
        stmt = self.base_query()
        if state.query and self.search:
            stmt = stmt.where(search_condition(self.search, state.query, state.match, dialect))
        for flt in self.filters:
            value = state.filters.get(flt.key)
            if value is not None:
                condition = flt.condition(value)
                if condition is not None:
                    stmt = stmt.where(condition)
        return stmt

    def ordered(self, stmt: Select[Any], state: ListState, reverse: bool = False) -> Select[Any]:
        """Ordered by the sort column then the key, both the same way (so keyset works)."""
        descending = state.descending != reverse
        keys: list[Any] = []
        if state.sort:
            column = self.sortable[state.sort]
            expr = column.expr.desc() if descending else column.expr.asc()
            if column.is_nullable():
                expr = expr.nulls_first() if descending else expr.nulls_last()
            keys.append(expr)
        keys.append(self.pk.desc() if descending else self.pk.asc())
        return stmt.order_by(*keys)

    def _keyset(self, state: ListState, cursor: Cursor) -> ColumnElement[bool]:
        """Rows strictly after the cursor in the page's reading direction."""
        descending = state.descending != cursor.before
        pk = self.pk
        key = literal(cursor.id, pk.type)
        if not state.sort:
            return pk < key if descending else pk > key
        column = self.sortable[state.sort]
        expr = column.expr
        if not column.is_nullable():
            pair = tuple_(expr, pk)
            bound = tuple_(literal(cursor.value, expr.type), key)
            return pair < bound if descending else pair > bound
        # NULLs come last ascending, first descending: spell the comparison out.
        if cursor.value is None:
            if descending:
                return or_(and_(expr.is_(None), pk < key), expr.is_not(None))
            return and_(expr.is_(None), pk > key)
        value = literal(cursor.value, expr.type)
        if descending:
            return or_(expr < value, and_(expr == value, pk < key))
        return or_(expr > value, and_(expr == value, pk > key), expr.is_(None))

    def fetch(self, db: Session, state: ListState) -> tuple[list[Any], bool, bool]:
        """One page of rows and whether there are pages before and after it."""
        size = state.per_page
        stmt = self.filtered_query(state, db.get_bind().dialect.name)
        cursor = state.cursor
        if cursor is None:
            rows = db.execute(self.ordered(stmt, state).limit(size + 1)).all()
            return rows[:size], False, len(rows) > size
        if not cursor.before:
            after = stmt.where(self._keyset(state, cursor))
            rows = db.execute(self.ordered(after, state).limit(size + 1)).all()
            return rows[:size], True, len(rows) > size
        before = stmt.where(self._keyset(state, cursor))
        rows = db.execute(self.ordered(before, state, reverse=True).limit(size + 1)).all()
        if len(rows) < size:  # back at the start: show a full first page
            rows = db.execute(self.ordered(stmt, state).limit(size + 1)).all()
            return rows[:size], False, len(rows) > size
        return list(reversed(rows[:size])), len(rows) > size, True

    # -- the page --------------------------------------------------------------------------

    def _row(self, record: Any) -> Row:
        values = dict(record._mapping)
        row = Row(values["id"], values)
        for column in self.columns:
            value = values[column.key]
            text = (column.format or display_value)(value) if not column.template else ""
            row.cells.append(Cell(column, value, text, column.link(row) if column.link else None))
        return row

    def page(self, db: Session, args: Mapping[str, str] | None = None) -> ListPage:
        """Everything the templates need for the current request."""
        state = self.parse(request.args if args is None else args)
        records, has_prev, has_next = self.fetch(db, state)
        rows = [self._row(r) for r in records]
        return ListPage(self, state, rows, has_prev, has_next)

    def wants_region(self) -> bool:
        """An htmx request aimed at this list's table region (not a history restore)."""
        headers = request.headers
        return (
            headers.get("HX-Request") == "true"
            and headers.get("HX-Target") == self.region_id
            and headers.get("HX-History-Restore-Request") != "true"
        )

    def render(self, template: str | None = None, **context: Any) -> Response:
        """The list page, or only its table region for htmx; ``context`` goes to the
        template (e.g. a create form the addon shows above the list)."""
        from core.web import db_session

        page = self.page(db_session())
        if self.wants_region():
            body = render_template("core/ui/list_region.html", page=page, oob=True)
        else:
            context.setdefault("breadcrumbs", [(self.title, None)])
            body = render_template(template or self.template, page=page, **context)
        response = current_app.make_response(body)
        response.vary.add("HX-Request")
        response.vary.add("HX-Target")
        return response

    # -- export ----------------------------------------------------------------------------

    def export(self, fmt: str) -> Response:
        """The current search, filters and sort as CSV or XLSX, streamed (no page limit,
        up to ``export_limit`` rows); needs ``export_permission``; audited."""
        from core.audit import record
        from core.web import db_session

        if fmt not in ("csv", "xlsx") or not self.export_permission:
            abort(404)
        if not has_permission(self.export_permission):
            abort(403)
        state = self.parse(request.args)
        columns = [c for c in self.columns if c.export]
        db = db_session()
        query = self.filtered_query(state, db.get_bind().dialect.name)
        stmt = self.ordered(query, state).limit(self.export_limit)
        record(
            db,
            "export",
            self.subject or self.name,
            "",
            format=fmt,
            query=urlencode(state.args)[:500],
        )
        db.commit()

        tz = get_timezone()  # once, not per cell: exports run to a million rows
        cells = [
            (self.columns.index(c) + 1, c.export_format or partial(export_value, tz=tz))
            for c in columns
        ]

        def rows() -> Iterator[list[Any]]:
            result = db.execute(stmt, execution_options={"yield_per": EXPORT_BATCH})
            for item in result:  # item[0] is the key; the columns follow in declared order
                yield [convert(item[position]) for position, convert in cells]

        header = [str(c.label) for c in columns]
        stem = f"{self.name}-{date.today().isoformat()}"
        if fmt == "csv":
            delimiter = CSV_DELIMITERS.get(request.args.get("sep", ""), ";")
            body = csv_stream(header, rows(), delimiter)
            mimetype, filename = "text/csv; charset=utf-8", f"{stem}.csv"
        else:
            body = xlsx_stream(header, rows(), str(self.title or self.name))
            mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            filename = f"{stem}.xlsx"
        response = Response(stream_with_context(body), mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        response.headers["Cache-Control"] = "no-store"
        return response

    # -- bulk actions ----------------------------------------------------------------------

    def bulk(self) -> Response:
        """Apply a declared bulk action to the ticked rows the user may reach.

        CSRF is checked by the app for every POST; here the action's own permission is
        checked, and the ids are narrowed to the user's scope before the handler sees them.
        """
        from core.audit import record_denied
        from core.web import db_session

        back = self.back_url(request.form.get("back", ""))
        action = next((a for a in self.bulk_actions if a.name == request.form.get("action")), None)
        if action is None:
            abort(400)
        if not has_permission(action.permission):
            record_denied(action.permission)
            abort(403)
        ids = self._posted_ids(request.form.getlist("ids"))
        if not ids:
            flash(_("Tick at least one row first."), "warning")
            return redirect(back)
        db = db_session()
        allowed = list(db.scalars(self.base_query(self.pk).where(self.pk.in_(ids))))
        changed = action.handler(db, allowed)
        db.commit()
        count = len(allowed) if changed is None else changed
        flash(_("%(action)s: %(count)s record(s).", action=action.label, count=count), "success")
        return redirect(back)

    def _posted_ids(self, raw: Sequence[str]) -> list[Any]:
        python_type: type = getattr(self.pk.type, "python_type", str)
        ids: list[Any] = []
        for item in raw[:MAX_BULK_IDS]:
            try:
                value = python_type(item)
            except (TypeError, ValueError):
                continue
            if value not in ids:
                ids.append(value)
        return ids

    def back_url(self, query: str) -> str:
        """The list page with the same search, filters, sort and page as before (only this
        list's own parameters are kept: no open redirect)."""
        args = MultiDict(parse_qsl(query.lstrip("?"), keep_blank_values=False))
        state = self.parse(args)
        params = dict(state.args)
        if state.cursor is not None:
            params["cursor"] = args.get("cursor", "")
        return url_for(self.endpoint, **(request.view_args or {}), **params)


@dataclass
class ListPage:
    """One rendered page of a list: rows, pager links and helpers for the templates."""

    view: ListView
    state: ListState
    rows: list[Row]
    has_prev: bool
    has_next: bool

    def url(self, endpoint: str | None = None, **changes: Any) -> str:
        """A link to this list (or its export) with the current parameters and
        ``changes`` (a value of ``None`` removes that parameter)."""
        params = {**self.state.args, **changes}
        clean = {k: v for k, v in params.items() if v is not None and v != ""}
        return url_for(endpoint or self.view.endpoint, **(request.view_args or {}), **clean)

    @property
    def first_url(self) -> str:
        return self.url()

    @property
    def prev_url(self) -> str | None:
        if not (self.has_prev and self.rows):
            return None
        return self.url(cursor=self.view.encode_cursor(self.state, self.rows[0], True))

    @property
    def next_url(self) -> str | None:
        if not (self.has_next and self.rows):
            return None
        return self.url(cursor=self.view.encode_cursor(self.state, self.rows[-1], False))

    def sort_url(self, column: Column) -> str:
        """Sort by ``column``; clicking the column already sorted turns the order round."""
        descending = column.key == self.state.sort and not self.state.descending
        token = f"-{column.key}" if descending else column.key
        return self.url(sort=token if token != self.view.default_sort else None)

    def sort_order(self, column: Column) -> str:
        """``ascending`` / ``descending`` for ``aria-sort``, empty when not sorted by it."""
        if column.key != self.state.sort:
            return ""
        return "descending" if self.state.descending else "ascending"

    @property
    def query_string(self) -> str:
        """The current parameters (cursor included) for a bulk form's way back."""
        params = dict(self.state.args)
        if self.state.cursor is not None:
            params["cursor"] = request.args.get("cursor", "")
        return urlencode(params)

    @property
    def can_export(self) -> bool:
        return bool(self.view.export_permission) and has_permission(self.view.export_permission)

    def export_links(self) -> list[tuple[str, str]]:
        """(label, url) of each export format offered to this user."""
        if not self.can_export:
            return []
        endpoint = self.view.export_endpoint
        return [
            (_("CSV (semicolon; Excel)"), self.url(endpoint, fmt="csv")),
            (_("CSV (comma)"), self.url(endpoint, fmt="csv", sep="comma")),
            (_("Excel (XLSX)"), self.url(endpoint, fmt="xlsx")),
        ]

    @property
    def bulk_actions(self) -> list[BulkAction]:
        return [a for a in self.view.bulk_actions if has_permission(a.permission)]

    @property
    def bulk_url(self) -> str:
        return url_for(str(self.view.bulk_endpoint), **(request.view_args or {}))

    @property
    def page_sizes(self) -> tuple[int, ...]:
        return PAGE_SIZES

    @property
    def match_modes(self) -> list[tuple[str, str]]:
        return [("contains", _("contains")), ("prefix", _("starts with"))]
