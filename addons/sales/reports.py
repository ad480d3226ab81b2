"""sales: the funnel report (MS-2) and the lead-source effectiveness report (MS-5).

Both are a filter form over GET (period of creation, by default the current quarter in the
user's time zone; a manager), a table, a Chart.js chart and an export of the table to CSV
or XLSX. Both count only opportunities the reader reaches (record scope of
``sales.opportunity``), and each is a handful of grouped queries whatever the data size:

- funnel: one ``GROUP BY reached_sort, status`` over the pipeline's opportunities created in
  the period, accumulated in Python over the ordered stages (``reached_sort`` is the
  furthest stage's ``sort``, kept by the funnel for exactly this);
- sources: one ``GROUP BY source_id`` over opportunities (won counted by conditional
  sums; asked as the sources UNION ALL "no source", see ``_opportunities_by_source``),
  one over the counterparties attributed in the period, one count of new counterparties
  without a source, one sum of costs per source.

Two covering indexes of ``sales_opportunity`` (``ix_sales_opportunity_funnel_report``,
``ix_sales_opportunity_source_report``) hold every column these queries read;
``bench/bench_sales_reports.py`` times both reports over a million opportunities.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_currency, format_decimal, get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import CompoundSelect, Select, case, exists, func, select, union_all
from sqlalchemy.orm import Session
from wtforms import DateField, SelectField
from wtforms.validators import Optional, ValidationError

from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.models import Counterparty
from addons.sales.models import (
    OPPORTUNITY,
    CounterpartySource,
    Opportunity,
    Pipeline,
    PipelineStage,
    Source,
    SourceCost,
)
from addons.sales.shared import optional_id
from addons.sales.sources import plausible_day
from addons.sales.views import bp, menu, scoped
from core import audit
from core.db import utcnow
from core.hooktypes import MenuItem, PermissionDef
from core.money import format_uah
from core.security import require, scope_filter, user_choices
from core.ui.export import CSV_DELIMITERS, csv_stream, xlsx_stream
from core.ui.listview import DateRangeFilter
from core.ui.widgets import chart_config
from core.web import db_session

READ = "sales.report.read"
HUNDRED = Decimal(100)
ZERO = Decimal(0)


# -- hooks ----------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [PermissionDef(READ, _l("Read sales reports"))]


def menu_items() -> list[MenuItem]:
    return [
        menu("report_funnel", _l("Funnel report"), READ, 500),
        menu("report_sources", _l("Lead sources report"), READ, 510),
    ]


# -- the period and the filter form ---------------------------------------------------


def quarter_of(day: date) -> tuple[date, date]:
    """The first and the last day of the quarter ``day`` falls in."""
    first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Inclusive days of the user's time zone (what the form shows)."""

    start: date
    end: date

    def on(self, created_at: Any) -> Any:
        """SQL: ``created_at`` (UTC timestamps) falls in the period's local days — the
        list view's date filter does exactly this conversion, so it is reused."""
        return DateRangeFilter("period", "", created_at).condition((self.start, self.end))

    def days(self, day_column: Any) -> Any:
        """SQL: a ``Date`` column falls in the period."""
        return day_column.between(self.start, self.end)


class ReportFilter(FlaskForm):
    """The GET filter both reports share (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    date_from = DateField(_l("Created from"), validators=[Optional(), plausible_day])
    date_to = DateField(_l("Created to"), validators=[Optional(), plausible_day])
    manager = SelectField(_l("Manager"), coerce=optional_id, validate_choice=True)

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and self.date_from.data > field.data:
            raise ValidationError(_("The end of the period is before its start."))

    def period(self) -> Period:
        """The chosen period; a bound left empty is taken from the other bound's quarter
        (both empty: the current quarter)."""
        start, end = self.date_from.data, self.date_to.data
        if start is None and end is None:
            start, end = quarter_of(to_user_timezone(utcnow()).date())
        elif start is None:
            start = min(quarter_of(end)[0], end)
        elif end is None:
            end = max(quarter_of(start)[1], start)
        return Period(start, end)


class FunnelFilter(ReportFilter):
    pipeline = SelectField(_l("Pipeline"), coerce=optional_id, validate_choice=True)


def _filter_form(form_class: type[ReportFilter]) -> tuple[ReportFilter, bool]:
    """The filter form read from the query string, its choices filled, and whether it is
    valid (an invalid one shows its messages next to the fields and no figures)."""
    form = form_class(formdata=request.args)
    form.manager.choices = [("", _("All managers")), *user_choices()]
    if isinstance(form, FunnelFilter):
        rows = db_session().execute(
            select(Pipeline.id, Pipeline.name).order_by(
                Pipeline.active.desc(), Pipeline.sort, Pipeline.name
            )
        )
        form.pipeline.choices = [(pid, name) for pid, name in rows]
        if not form.pipeline.choices:
            form.pipeline.validate_choice = False  # no pipeline yet: the page says so
        elif form.pipeline.data is None:
            form.pipeline.data = form.pipeline.choices[0][0]
    valid = form.validate()
    if valid:
        period = form.period()
        form.date_from.data, form.date_to.data = period.start, period.end
    return form, valid


# -- formatting -----------------------------------------------------------------------


def money(value: Decimal | int | None, currency: str = "UAH") -> str:
    """An amount in the reader's language; hryvnias as documents write them."""
    if value is None:
        return "—"
    if currency == "UAH":
        return format_uah(value, str(get_locale() or "uk"))
    return format_currency(value, currency)


def number(value: int) -> str:
    """A count with the reader's thousands separator."""
    return str(format_decimal(value, "#,##0"))


def percent(value: Decimal | None) -> str:
    return "—" if value is None else f"{format_decimal(value, '#,##0.0')} %"


def share(part: int, whole: int) -> Decimal | None:
    """``part`` as a percentage of ``whole`` (one decimal), ``None`` when ``whole`` is 0."""
    return (HUNDRED * part / whole).quantize(Decimal("0.1")) if whole else None


# -- the funnel -----------------------------------------------------------------------


@dataclass
class FunnelRow:
    """A row of the funnel: how many reached it, their amount, and the share of the
    previous row that got here."""

    label: str
    count: int
    amount: Decimal
    conversion: Decimal | None


@dataclass
class Funnel:
    rows: list[FunnelRow] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)  # open / won / lost
    won_amount: Decimal = ZERO
    total: int = 0
    total_amount: Decimal = ZERO


def funnel_query(
    pipeline_id: int, period: Period, manager_id: int | None, user: Any = None
) -> Select[Any]:
    """Opportunities of a pipeline created in the period, counted and summed per
    (furthest stage reached, status): the only query over the opportunities."""
    stmt = (
        select(
            Opportunity.reached_sort,
            Opportunity.status,
            func.count(),
            func.coalesce(func.sum(Opportunity.amount), 0),
        )
        .where(Opportunity.pipeline_id == pipeline_id, period.on(Opportunity.created_at))
        .group_by(Opportunity.reached_sort, Opportunity.status)
    )
    if manager_id is not None:
        stmt = stmt.where(Opportunity.responsible_id == manager_id)
    return scoped(stmt, Opportunity, OPPORTUNITY, user)


def build_funnel(
    stages: Sequence[tuple[str, int]], grouped: Iterable[tuple[int, str, int, Any]]
) -> Funnel:
    """The funnel from ``(stage name, sort)`` in order and the grouped counts.

    Every opportunity reached the first stage; a later stage counts those whose furthest
    stage is at or after it; a won deal went through the whole funnel, so it counts at
    every stage. The last row is "Won"."""
    funnel = Funnel(statuses={"open": 0, "won": 0, "lost": 0})
    by_reach: dict[int, list[Any]] = defaultdict(lambda: [0, ZERO])
    top = max((sort for _name, sort in stages), default=0)
    for reached, status, count, amount in grouped:
        amount = Decimal(amount or 0)
        funnel.statuses[status] = funnel.statuses.get(status, 0) + count
        funnel.total += count
        funnel.total_amount += amount
        if status == "won":
            funnel.won_amount += amount
        reach = by_reach[max(reached or 0, top) if status == "won" else reached or 0]
        reach[0] += count
        reach[1] += amount
    previous: int | None = None
    for index, (name, sort) in enumerate(stages):
        hits = [v for r, v in by_reach.items() if index == 0 or r >= sort]
        count = sum(v[0] for v in hits)
        amount = sum((v[1] for v in hits), ZERO)
        conversion = share(count, previous) if previous is not None else None
        funnel.rows.append(FunnelRow(name, count, amount, conversion))
        previous = count
    won = funnel.statuses["won"]
    conversion = share(won, previous) if previous is not None else None
    funnel.rows.append(FunnelRow(_("Won"), won, funnel.won_amount, conversion))
    return funnel


def _funnel_chart(funnel: Funnel) -> dict[str, Any]:
    return chart_config(
        "bar",
        [row.label for row in funnel.rows],
        [{"label": _("Opportunities"), "data": [row.count for row in funnel.rows]}],
        horizontal=True,
    )


def _funnel_data(form: ReportFilter) -> tuple[Pipeline | None, Funnel | None]:
    db = db_session()
    pipeline_id = form.pipeline.data
    pipeline = db.get(Pipeline, pipeline_id) if pipeline_id else None
    if pipeline is None:
        return None, None
    stages = db.execute(
        select(PipelineStage.name, PipelineStage.sort)
        .where(PipelineStage.pipeline_id == pipeline.id)
        .order_by(PipelineStage.sort, PipelineStage.id)
    ).all()
    grouped = db.execute(funnel_query(pipeline.id, form.period(), form.manager.data)).all()
    return pipeline, build_funnel([(n, s) for n, s in stages], grouped)


@bp.get("/reports/funnel")
@require(READ)
def report_funnel() -> ResponseReturnValue:
    """Per stage of a pipeline: how many opportunities created in the period reached it,
    their amount and the conversion from the stage before; with the open, won and lost
    counts and the won amount."""
    form, valid = _filter_form(FunnelFilter)
    pipeline, funnel = _funnel_data(form) if valid else (None, None)
    body = render_template(
        "sales/report_funnel.html",
        form=form,
        pipeline=pipeline,
        funnel=funnel,
        chart=_funnel_chart(funnel) if funnel else None,
        exports=export_links("sales.report_funnel_export") if funnel else [],
        money=money,
        number=number,
        percent=percent,
        breadcrumbs=[(_("Funnel report"), None)],
    )
    return body, 200 if valid else 400


@bp.get("/reports/funnel/export.<fmt>")
@require(READ)
def report_funnel_export(fmt: str) -> ResponseReturnValue:
    """The funnel table as CSV or XLSX, for the same filter."""
    form, valid = _filter_form(FunnelFilter)
    pipeline, funnel = _funnel_data(form) if valid else (None, None)
    if pipeline is None or funnel is None:
        abort(400)
    header = [_("Stage"), _("Opportunities"), _("Amount"), _("Conversion, %")]
    rows = [[r.label, r.count, r.amount, r.conversion] for r in funnel.rows]
    return export_table(fmt, "sales-funnel", _("Funnel report"), header, rows)


# -- the lead sources -----------------------------------------------------------------


@dataclass
class SourceRow:
    """One source's figures in the period (``source_id`` None: the "no source" row)."""

    source_id: int | None
    label: str
    active: bool = True
    counterparties: int = 0
    opportunities: int = 0
    won: int = 0
    revenue: Decimal = ZERO
    cost: Decimal | None = None  # None: no cost entered for the period

    @property
    def leads(self) -> int:
        return self.counterparties + self.opportunities

    @property
    def conversion(self) -> Decimal | None:
        return share(self.won, self.opportunities)

    @property
    def cost_per_won(self) -> Decimal | None:
        if self.cost is None or not self.won:
            return None
        return (self.cost / self.won).quantize(Decimal("0.01"))

    @property
    def empty(self) -> bool:
        return not (self.leads or self.cost)


def _opportunities_by_source(
    period: Period, manager_id: int | None, user: Any, source_ids: Sequence[int]
) -> CompoundSelect:
    """Per source: opportunities created in the period, how many of them are won and their
    amount (conditional sums: one row per source).

    Asked as "these sources" UNION ALL "no source" rather than over the period alone: each
    part then reads one stretch of ``ix_sales_opportunity_source_report`` per source, already
    grouped, with no sort and no visit to the table — on PostgreSQL too, which has no skip
    scan and would otherwise read the whole table whatever the period."""
    won = Opportunity.status == "won"

    def part(condition: Any) -> Select[Any]:
        stmt = (
            select(
                Opportunity.source_id,
                func.count(),
                func.coalesce(func.sum(case((won, 1), else_=0)), 0),
                func.coalesce(func.sum(case((won, Opportunity.amount), else_=0)), 0),
            )
            .where(condition, period.on(Opportunity.created_at))
            .group_by(Opportunity.source_id)
        )
        if manager_id is not None:
            stmt = stmt.where(Opportunity.responsible_id == manager_id)
        return scoped(stmt, Opportunity, OPPORTUNITY, user)

    return union_all(
        part(Opportunity.source_id.in_(source_ids)), part(Opportunity.source_id.is_(None))
    )


def _counterparty_scope(stmt: Select[Any], manager_id: int | None, user: Any) -> Select[Any]:
    if manager_id is not None:
        stmt = stmt.where(Counterparty.manager_id == manager_id)
    return scope_filter(stmt, COUNTERPARTY, Counterparty.manager_id, user)


def _counterparties_by_source(period: Period, manager_id: int | None, user: Any) -> Select[Any]:
    """Counterparties attributed to each source in the period (within crm_base's scope)."""
    stmt = (
        select(CounterpartySource.source_id, func.count())
        .join(Counterparty, Counterparty.id == CounterpartySource.counterparty_id)
        .where(period.on(CounterpartySource.created_at))
        .group_by(CounterpartySource.source_id)
    )
    return _counterparty_scope(stmt, manager_id, user)


def _counterparties_without_source(
    period: Period, manager_id: int | None, user: Any
) -> Select[Any]:
    """New counterparties of the period that no source is recorded for."""
    attributed = exists().where(CounterpartySource.counterparty_id == Counterparty.id)
    stmt = select(func.count()).select_from(Counterparty)
    stmt = stmt.where(period.on(Counterparty.created_at), ~attributed)
    return _counterparty_scope(stmt, manager_id, user)


def source_report(
    session: Session, period: Period, manager_id: int | None = None, user: Any = None
) -> list[SourceRow]:
    """One row per source (active ones always, inactive ones with figures), then the
    "no source" row; sources in their configured order."""
    rows: dict[int | None, SourceRow] = {
        sid: SourceRow(sid, name, active)
        for sid, name, active in session.execute(
            select(Source.id, Source.name, Source.active).order_by(Source.sort, Source.name)
        )
    }
    rows[None] = SourceRow(None, _("No source"))
    for sid, count, won, revenue in session.execute(
        _opportunities_by_source(period, manager_id, user, [k for k in rows if k is not None])
    ):
        row = rows.get(sid) or rows[None]
        row.opportunities += count
        row.won += int(won)
        row.revenue += Decimal(revenue)
    for sid, count in session.execute(_counterparties_by_source(period, manager_id, user)):
        (rows.get(sid) or rows[None]).counterparties += count
    rows[None].counterparties += (
        session.scalar(_counterparties_without_source(period, manager_id, user)) or 0
    )
    costs = select(SourceCost.source_id, func.sum(SourceCost.amount)).where(
        period.days(SourceCost.spent_on)
    )
    for sid, cost in session.execute(costs.group_by(SourceCost.source_id)):
        if sid in rows:
            rows[sid].cost = Decimal(cost or 0)
    return [r for r in rows.values() if r.active or not r.empty or r.source_id is None]


def source_total(rows: Sequence[SourceRow]) -> SourceRow:
    """The sum of the rows (costs only if any row has one)."""
    total = SourceRow(None, _("Total"))
    for row in rows:
        total.counterparties += row.counterparties
        total.opportunities += row.opportunities
        total.won += row.won
        total.revenue += row.revenue
        if row.cost is not None:
            total.cost = (total.cost or ZERO) + row.cost
    return total


def _source_charts(rows: Sequence[SourceRow]) -> list[tuple[str, dict[str, Any]]]:
    labels = [row.label for row in rows]
    counts = chart_config(
        "bar",
        labels,
        [
            {"label": _("Leads"), "data": [r.leads for r in rows]},
            {"label": _("Opportunities"), "data": [r.opportunities for r in rows]},
            {"label": _("Won"), "data": [r.won for r in rows]},
        ],
    )
    amounts = chart_config(
        "bar",
        labels,
        [
            {"label": _("Revenue"), "data": [r.revenue for r in rows]},
            {"label": _("Cost"), "data": [r.cost or ZERO for r in rows]},
        ],
    )
    return [(_("Leads and deals by source"), counts), (_("Revenue and cost by source"), amounts)]


@bp.get("/reports/sources")
@require(READ)
def report_sources() -> ResponseReturnValue:
    """Per lead source in the period: leads, opportunities, won deals, revenue,
    conversion, cost and cost per won deal."""
    form, valid = _filter_form(ReportFilter)
    rows = source_report(db_session(), form.period(), form.manager.data) if valid else []
    body = render_template(
        "sales/report_sources.html",
        form=form,
        rows=rows,
        total=source_total(rows) if rows else None,
        charts=_source_charts(rows) if rows else [],
        exports=export_links("sales.report_sources_export") if rows else [],
        money=money,
        number=number,
        percent=percent,
        breadcrumbs=[(_("Lead sources report"), None)],
    )
    return body, 200 if valid else 400


@bp.get("/reports/sources/export.<fmt>")
@require(READ)
def report_sources_export(fmt: str) -> ResponseReturnValue:
    """The lead sources table as CSV or XLSX, for the same filter."""
    form, valid = _filter_form(ReportFilter)
    if not valid:
        abort(400)
    rows = source_report(db_session(), form.period(), form.manager.data)
    header = [
        _("Source"),
        _("Leads"),
        _("New counterparties"),
        _("Opportunities"),
        _("Won"),
        _("Revenue"),
        _("Conversion, %"),
        _("Cost"),
        _("Cost per won deal"),
    ]
    table = [
        [
            r.label,
            r.leads,
            r.counterparties,
            r.opportunities,
            r.won,
            r.revenue,
            r.conversion,
            r.cost,
            r.cost_per_won,
        ]
        for r in [*rows, source_total(rows)]
    ]
    return export_table(fmt, "sales-lead-sources", _("Lead sources report"), header, table)


# -- export ---------------------------------------------------------------------------


def export_table(
    fmt: str, stem: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Response:
    """A report's table as CSV (``?sep=comma`` for commas) or XLSX through the list
    view's writers (formula-safe text, BOM for Excel); written to the audit log."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    db = db_session()
    audit.record(db, "export", stem, "", format=fmt, query=request.query_string.decode()[:500])
    db.commit()
    filename = f"{stem}-{date.today().isoformat()}.{fmt}"
    body: Iterator[bytes]
    if fmt == "csv":
        delimiter = CSV_DELIMITERS.get(request.args.get("sep", ""), ";")
        body, mimetype = csv_stream(header, rows, delimiter), "text/csv; charset=utf-8"
    else:
        body = xlsx_stream(header, rows, title)
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def export_links(endpoint: str) -> list[tuple[str, str]]:
    """The export links of a report page, carrying its current filter."""
    args = request.args.to_dict()
    return [
        (_("CSV (semicolon; Excel)"), url_for(endpoint, fmt="csv", **args)),
        (_("CSV (comma)"), url_for(endpoint, fmt="csv", **{**args, "sep": "comma"})),
        (_("Excel (XLSX)"), url_for(endpoint, fmt="xlsx", **args)),
    ]
