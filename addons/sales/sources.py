"""sales: lead sources (MS-5) — where leads come from and what each source costs.

- An admin (``sales.source.update``) keeps the list of sources (name, order, active) and,
  per source, what was spent on it on which day (``SourceCost``). A source that anything
  points at (a counterparty, an opportunity, a contact, a campaign, a cost) is made
  inactive instead of deleted: deleting it would silently take the attribution out of
  the reports. An inactive source is no longer offered for new records.
- The source of a counterparty is a row of ours (``CounterpartySource``; crm_base has no
  such column), shown and set on a tab of the counterparty's card. Its ``created_at`` is
  when the counterparty was attributed: the effectiveness report counts it as a lead then.
- Contacts and opportunities carry ``source_id`` themselves; their forms (other areas)
  take the choices from :func:`source_choices`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_wtf import FlaskForm
from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT as COUNTERPARTY
from addons.crm_base.notes import counterparty_or_404, posted_ok
from addons.sales.models import (
    Campaign,
    Contact,
    CounterpartySource,
    Opportunity,
    Source,
    SourceCost,
)
from addons.sales.shared import (
    COUNTERPARTY_READ,
    MAX_AMOUNT,
    AmountField,
    counterparty_tab,
    id_or_none,
    on_reached_card,
    optional_id,
    row_or_404,
)
from addons.sales.views import bp, menu
from core.db import utcnow
from core.hooktypes import CardTab, MenuItem, PermissionDef
from core.money import to_kopecks
from core.security import has_permission, require
from core.web import db_session

ADMIN = "sales.source.update"
CARD_UPDATE = "crm_base.counterparty.update"
MAX_SORT = 1_000_000
COSTS_PAGE = 50
FIRST_YEAR, LAST_YEAR = 2000, 2999


# -- hooks ----------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [PermissionDef(ADMIN, _l("Configure lead sources and their costs"))]


def menu_items() -> list[MenuItem]:
    return [menu("sources", _l("Lead sources"), ADMIN, 900)]


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The "Lead source" tab of a counterparty, for whoever may read the counterparty."""
    if not on_reached_card(subject, subject_id, user):
        return []
    url = url_for("sales.source_tab", record_id=int(subject_id))
    return [CardTab("sales.source", _("Lead source"), url, order=70)]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """A merge keeps the surviving counterparty's source; the duplicate's source moves over
    only when the survivor has none (its row would otherwise go with the duplicate)."""
    if subject != COUNTERPARTY:
        return 0
    if session.get(CounterpartySource, target_id) is not None:
        return 0
    row = session.get(CounterpartySource, source_id)
    if row is None:
        return 0
    row.counterparty_id = target_id  # through the ORM: the audit log sees the move
    session.flush()
    return 1


# -- for the other areas' forms -------------------------------------------------------


def all_source_choices() -> list[tuple[int, str]]:
    """``(id, name)`` of every source, inactive ones too: a list filter must still find
    the records of a source that was retired."""
    stmt = select(Source.id, Source.name).order_by(Source.sort, Source.name)
    return [(sid, name) for sid, name in db_session().execute(stmt)]


def source_choices(session: Session, keep: int | None = None) -> list[tuple[int, str]]:
    """``(id, name)`` of the active sources in their order, for a contact's or an
    opportunity's form; ``keep`` (the record's current source) stays in the list even if
    it was made inactive since, so saving the form does not drop it."""
    condition = Source.active.is_(True)
    if keep is not None:
        condition = or_(condition, Source.id == keep)
    rows = session.execute(
        select(Source.id, Source.name).where(condition).order_by(Source.sort, Source.name)
    )
    return [(sid, name) for sid, name in rows]


# -- forms ----------------------------------------------------------------------------


class SourceForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    sort = IntegerField(
        _l("Order"), validators=[Optional(), NumberRange(min=-MAX_SORT, max=MAX_SORT)]
    )
    active = BooleanField(_l("Active"))


def plausible_day(form: FlaskForm, day: DateField) -> None:
    """A date field's validator: a year outside 2000–2999 is a typo (and year 1 would
    overflow when shifted to UTC)."""
    if day.data and not FIRST_YEAR <= day.data.year <= LAST_YEAR:
        raise ValidationError(
            _("Enter a date between the years %(a)s and %(b)s.", a=FIRST_YEAR, b=LAST_YEAR)
        )


class CostForm(FlaskForm):
    spent_on = DateField(_l("Date"), validators=[InputRequired(), plausible_day])
    amount = AmountField(
        _l("Amount"), validators=[InputRequired(), NumberRange(min=0, max=MAX_AMOUNT)]
    )
    note = StringField(_l("Note"), filters=[clean_text], validators=[Length(max=300)])


class CounterpartySourceForm(FlaskForm):
    source_id = SelectField(_l("Lead source"), coerce=optional_id)


# -- the sources page -----------------------------------------------------------------


def _in_use(source_id: Any) -> Any:
    """SQL: whether anything points at the source (one indexed probe per table)."""
    return or_(
        *(
            exists().where(column == source_id)
            for column in (
                CounterpartySource.source_id,
                Opportunity.source_id,
                Contact.source_id,
                Campaign.source_id,
                SourceCost.source_id,
            )
        )
    )


def _sources_page(
    errors: Mapping[str, list[str]] | None = None,
    typed: Mapping[str, Mapping[str, Any]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """Every source with whether it is in use and its total cost; ``errors`` and ``typed``
    hold a refused form's messages and input, by the form's key."""
    db = db_session()
    rows = db.execute(
        select(Source, _in_use(Source.id).label("in_use")).order_by(Source.sort, Source.name)
    ).all()
    costs = dict(
        db.execute(
            select(SourceCost.source_id, func.sum(SourceCost.amount)).group_by(SourceCost.source_id)
        ).all()
    )
    body = render_template(
        "sales/sources.html",
        rows=rows,
        costs=costs,
        errors=errors or {},
        typed=typed or {},
        breadcrumbs=[(_("Lead sources"), None)],
    )
    return body, status


def _name_taken(name: str, but: int | None) -> bool:
    stmt = select(Source.id).where(func.lower(Source.name) == name.lower())
    if but is not None:
        stmt = stmt.where(Source.id != but)
    return db_session().scalar(stmt) is not None


def _save_source(key: str, source: Source | None) -> ResponseReturnValue:
    """Create (``source`` is None) or change a source from the posted form; a refused form
    is shown again next to its row, and nothing is saved."""
    form = SourceForm()
    typed = {key: {"name": form.name.data or "", "sort": request.form.get("sort", "")}}
    if not form.validate_on_submit():
        messages = [str(e) for errs in form.errors.values() for e in errs]
        return _sources_page({key: messages}, typed, 400)
    taken = [_("A source with this name already exists.")]
    if _name_taken(form.name.data, source.id if source else None):
        return _sources_page({key: taken}, typed, 400)
    db = db_session()
    if source is None:
        last = db.scalar(select(func.max(Source.sort))) or 0
        sort = form.sort.data if form.sort.data is not None else min(last + 10, MAX_SORT)
        db.add(Source(name=form.name.data, sort=sort, active=True))
    else:
        source.name = form.name.data
        source.sort = form.sort.data if form.sort.data is not None else source.sort
        source.active = bool(form.active.data)
    try:
        db.commit()
    except IntegrityError:  # the same name saved by someone else at this very moment
        db.rollback()
        return _sources_page({key: taken}, typed, 400)
    flash(_("Saved."), "success")
    return redirect(url_for("sales.sources"), 303)


@bp.get("/sources")
@require(ADMIN)
def sources() -> ResponseReturnValue:
    """The lead sources, in their order, with their costs."""
    return _sources_page()


@bp.post("/sources")
@require(ADMIN)
def source_create() -> ResponseReturnValue:
    return _save_source("source-new", None)


@bp.post("/sources/<int:source_id>")
@require(ADMIN)
def source_save(source_id: int) -> ResponseReturnValue:
    source = row_or_404(Source, source_id)
    return _save_source(f"source-{source.id}", source)


@bp.post("/sources/<int:source_id>/delete")
@require(ADMIN)
def source_delete(source_id: int) -> ResponseReturnValue:
    """Delete an unused source; one in use is made inactive instead, and the user is told."""
    source = row_or_404(Source, source_id)
    if not posted_ok():
        abort(400)
    db = db_session()
    if db.scalar(select(_in_use(source.id))):
        source.active = False
        db.commit()
        flash(
            _(
                "“%(name)s” is in use (counterparties, opportunities, contacts, campaigns or "
                "costs refer to it), so it was made inactive instead of deleted: it is no "
                "longer offered for new records, and the reports keep it.",
                name=source.name,
            ),
            "warning",
        )
    else:
        name = source.name
        db.delete(source)
        db.commit()
        flash(_("Deleted: %(title)s.", title=name), "success")
    return redirect(url_for("sales.sources"), 303)


# -- costs of a source ----------------------------------------------------------------


def _costs_after() -> tuple[date, int] | None:
    """The keyset position ``?after=<date>.<id>`` of the costs page (newest first)."""
    day, _sep, raw_id = request.args.get("after", "").partition(".")
    cost_id = id_or_none(raw_id)
    try:
        return (date.fromisoformat(day), cost_id) if cost_id is not None else None
    except ValueError:
        return None


def _costs_page(source: Source, form: CostForm | None = None, status: int = 200) -> Any:
    db = db_session()
    stmt = (
        select(SourceCost)
        .where(SourceCost.source_id == source.id)
        .order_by(SourceCost.spent_on.desc(), SourceCost.id.desc())
        .limit(COSTS_PAGE + 1)
    )
    after = _costs_after()
    if after is not None:
        day, cost_id = after
        stmt = stmt.where(
            or_(
                SourceCost.spent_on < day,
                (SourceCost.spent_on == day) & (SourceCost.id < cost_id),
            )
        )
    costs = list(db.scalars(stmt))
    more = ""
    if len(costs) > COSTS_PAGE:
        last = costs[COSTS_PAGE - 1]
        position = f"{last.spent_on.isoformat()}.{last.id}"
        more = url_for("sales.source_costs", source_id=source.id, after=position)
    total = db.scalar(select(func.sum(SourceCost.amount)).where(SourceCost.source_id == source.id))
    body = render_template(
        "sales/source_costs.html",
        source=source,
        costs=costs[:COSTS_PAGE],
        more_url=more,
        total=total or Decimal(0),
        form=form or CostForm(formdata=None, spent_on=to_user_timezone(utcnow()).date()),
        breadcrumbs=[(_("Lead sources"), url_for("sales.sources")), (source.name, None)],
    )
    return body, status


@bp.get("/sources/<int:source_id>/costs")
@require(ADMIN)
def source_costs(source_id: int) -> ResponseReturnValue:
    """What was spent on a source, newest first, with the form to add a cost."""
    return _costs_page(row_or_404(Source, source_id))


@bp.post("/sources/<int:source_id>/costs")
@require(ADMIN)
def source_cost_add(source_id: int) -> ResponseReturnValue:
    source = row_or_404(Source, source_id)
    form = CostForm()
    if not form.validate_on_submit():
        return _costs_page(source, form, 400)
    db = db_session()
    db.add(
        SourceCost(
            source_id=source.id,
            spent_on=form.spent_on.data,
            amount=to_kopecks(form.amount.data),
            note=form.note.data or "",
        )
    )
    db.commit()
    flash(_("Cost added."), "success")
    return redirect(url_for("sales.source_costs", source_id=source.id), 303)


@bp.post("/sources/costs/<int:cost_id>/delete")
@require(ADMIN)
def source_cost_delete(cost_id: int) -> ResponseReturnValue:
    db = db_session()
    cost = row_or_404(SourceCost, cost_id)
    if not posted_ok():
        abort(400)
    source_id = cost.source_id
    db.delete(cost)
    db.commit()
    flash(_("Cost deleted."), "success")
    return redirect(url_for("sales.source_costs", source_id=source_id), 303)


# -- the counterparty's source (a card tab) -------------------------------------------


def _tab(counterparty: Any, form: CounterpartySourceForm | None = None, status: int = 200) -> Any:
    """The tab (:func:`addons.sales.shared.counterparty_tab`): the source and since when,
    and the form to change it."""
    db = db_session()
    current = db.get(CounterpartySource, counterparty.id)
    kept = current.source_id if current else None
    if form is None:
        form = CounterpartySourceForm(formdata=None, source_id=kept)
    _fill_choices(form, kept)
    return counterparty_tab(
        "sales/source_tab.html",
        _("Lead source"),
        counterparty,
        status,
        current=current,
        source=db.get(Source, kept) if kept else None,
        form=form,
        can_update=has_permission(CARD_UPDATE),
    )


def _fill_choices(form: CounterpartySourceForm, keep: int | None) -> None:
    none: list[tuple[Any, str]] = [("", _("— not known —"))]
    form.source_id.choices = none + source_choices(db_session(), keep)


@bp.get("/counterparties/<int:record_id>/source")
@require(COUNTERPARTY_READ)
def source_tab(record_id: int) -> ResponseReturnValue:
    """Where the counterparty came from, and (for its editors) the form to change it."""
    return _tab(counterparty_or_404(record_id))


@bp.post("/counterparties/<int:record_id>/source")
@require(CARD_UPDATE)
def source_tab_save(record_id: int) -> ResponseReturnValue:
    """Set, change or clear the counterparty's source. A change keeps the row's
    ``created_at`` (the day it became a lead); clearing removes the row."""
    counterparty = counterparty_or_404(record_id)
    db = db_session()
    current = db.get(CounterpartySource, counterparty.id)
    form = CounterpartySourceForm()
    _fill_choices(form, current.source_id if current else None)
    if not form.validate_on_submit():
        return _tab(counterparty, form, 400)
    chosen = form.source_id.data
    if chosen is None:
        if current is not None:
            db.delete(current)
    elif current is None:
        db.add(CounterpartySource(counterparty_id=counterparty.id, source_id=chosen))
    else:
        current.source_id = chosen
    try:
        db.commit()
    except IntegrityError:  # set by someone else at this very moment
        db.rollback()
        flash(_("Someone has just set the source; check it and try again."), "warning")
    else:
        flash(_("Saved."), "success")
    return redirect(url_for("sales.source_tab", record_id=counterparty.id), 303)
