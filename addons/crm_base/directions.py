"""crm_base: directions and stages of work with a counterparty (CL-6).

An admin keeps the directions of the business, each with its ordered stages
(``crm_base.direction.update``). On a counterparty's card the "Work" tab shows which
directions work with it, at which stage, and who is responsible; moving a work to another
stage writes a :class:`StageChange` (who, when, from, to, note) in the same transaction,
and those changes are the counterparty's chronology entries of kind ``crm_base.stage``.

Why some things are refused:

- A stage in use (a work is at it, or a recorded change mentions it) cannot be deleted:
  the history would lose its names. A direction with works cannot be deleted either
  (its works and their history would go with it): it is made inactive instead.
- A stage change says which stage the user saw; if someone moved the work meanwhile, the
  change is refused (the UPDATE itself checks it, so two simultaneous moves cannot both
  record the same "from").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT, Counterparty, Direction, Stage, StageChange, Work
from addons.crm_base.tabs import (
    TIMELINE_LIMIT,
    counterparty_or_404,
    posted_ok,
    reaches_counterparty,
    render_tab,
)
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.models import User
from core.security import has_permission, require, user_choices, user_names
from core.ui.formview import MAX_ID
from core.ui.timeline import aware, register_icon
from core.web import db_session

ADMIN = "crm_base.direction.update"
READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"

register_icon("crm_base.stage", "signpost-2")


def _optional_id(value: Any) -> int | None:
    """A select's value as an id; the empty choice is "nobody" / "none"."""
    return None if value in (None, "") else int(value)


class NameForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )


class AddWorkForm(FlaskForm):
    direction_id = SelectField(_l("Direction"), coerce=int)
    responsible_id = SelectField(_l("Responsible"), coerce=_optional_id)


class StageForm(FlaskForm):
    stage_id = SelectField(_l("Stage"), coerce=_optional_id)
    seen = HiddenField()  # the stage the user saw: a move made meanwhile is refused
    note = StringField(_l("Comment"), filters=[clean_text], validators=[Length(max=500)])


class ResponsibleForm(FlaskForm):
    responsible_id = SelectField(_l("Responsible"), coerce=_optional_id)


# -- the admin page -------------------------------------------------------------------


def _admin_page(
    errors: Mapping[str, list[str]] | None = None,
    typed: Mapping[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """Every direction with its stages and how many works use each; ``errors`` and
    ``typed`` hold a refused form's messages and input, by the form's key."""
    db = db_session()
    directions = db.scalars(select(Direction).order_by(Direction.name)).all()
    stages: dict[int, list[Stage]] = defaultdict(list)
    for stage in db.scalars(select(Stage).order_by(Stage.direction_id, Stage.sort, Stage.id)):
        stages[stage.direction_id].append(stage)
    per_direction = select(Work.direction_id, func.count()).group_by(Work.direction_id)
    works = {direction_id: n for direction_id, n in db.execute(per_direction)}
    per_stage = (
        select(Work.stage_id, func.count())
        .where(Work.stage_id.is_not(None))
        .group_by(Work.stage_id)
    )
    at_stage = {stage_id: n for stage_id, n in db.execute(per_stage)}
    body = render_template(
        "crm_base/directions.html",
        directions=directions,
        stages=stages,
        works=works,
        at_stage=at_stage,
        errors=errors or {},
        typed=typed or {},
        breadcrumbs=[(_("Directions and stages"), None)],
    )
    return body, status


def _posted_name(key: str) -> tuple[str | None, ResponseReturnValue | None]:
    """The posted name, or the admin page with the error next to that form."""
    form = NameForm()
    if form.validate_on_submit():
        return form.name.data, None
    errors = [str(e) for errs in form.errors.values() for e in errs]
    return None, _admin_page({key: errors}, {key: form.name.data or ""}, 400)


def _back() -> ResponseReturnValue:
    return redirect(url_for("crm_base.directions"), 303)


def _direction_or_404(direction_id: int) -> Direction:
    record = db_session().get(Direction, direction_id) if 0 < direction_id <= MAX_ID else None
    if record is None:
        abort(404)
    return record


def _stage_or_404(stage_id: int) -> Stage:
    record = db_session().get(Stage, stage_id) if 0 < stage_id <= MAX_ID else None
    if record is None:
        abort(404)
    return record


def _name_taken(name: str, but: int | None = None) -> bool:
    stmt = select(Direction.id).where(func.lower(Direction.name) == name.lower())
    if but is not None:
        stmt = stmt.where(Direction.id != but)
    return db_session().scalar(stmt) is not None


def _save_direction(key: str, direction: Direction | None, name: str) -> ResponseReturnValue:
    """Create or rename; a name another direction has is refused next to the field."""
    taken = _("A direction with this name already exists.")
    if _name_taken(name, direction.id if direction else None):
        return _admin_page({key: [taken]}, {key: name}, 400)
    db = db_session()
    if direction is None:
        db.add(Direction(name=name))
    else:
        direction.name = name
    try:
        db.commit()
    except IntegrityError:  # created by someone else at this very moment
        db.rollback()
        return _admin_page({key: [taken]}, {key: name}, 400)
    flash(_("Saved."), "success")
    return _back()


@bp.get("/directions")
@require(ADMIN)
def directions() -> ResponseReturnValue:
    """The admin page: directions with their ordered stages."""
    return _admin_page()


@bp.post("/directions")
@require(ADMIN)
def direction_create() -> ResponseReturnValue:
    name, refused = _posted_name("direction-new")
    return refused or _save_direction("direction-new", None, name or "")


@bp.post("/directions/<int:direction_id>/rename")
@require(ADMIN)
def direction_rename(direction_id: int) -> ResponseReturnValue:
    direction = _direction_or_404(direction_id)
    key = f"direction-{direction.id}"
    name, refused = _posted_name(key)
    return refused or _save_direction(key, direction, name or "")


@bp.post("/directions/<int:direction_id>/active")
@require(ADMIN)
def direction_toggle(direction_id: int) -> ResponseReturnValue:
    """An inactive direction is no longer offered for new work; existing work stays."""
    direction = _direction_or_404(direction_id)
    if not posted_ok():
        abort(400)
    direction.active = not direction.active
    db_session().commit()
    flash(_("Saved."), "success")
    return _back()


@bp.post("/directions/<int:direction_id>/delete")
@require(ADMIN)
def direction_delete(direction_id: int) -> ResponseReturnValue:
    direction = _direction_or_404(direction_id)
    if not posted_ok():
        abort(400)
    db = db_session()
    if db.scalar(select(Work.id).where(Work.direction_id == direction.id).limit(1)):
        flash(
            _(
                "%(name)s has work with counterparties and cannot be deleted; "
                "make it inactive instead.",
                name=direction.name,
            ),
            "danger",
        )
        return _back()
    name = direction.name
    db.delete(direction)  # its stages go with it (ON DELETE CASCADE)
    db.commit()
    flash(_("Deleted: %(title)s.", title=name), "success")
    return _back()


@bp.post("/directions/<int:direction_id>/stages")
@require(ADMIN)
def stage_create(direction_id: int) -> ResponseReturnValue:
    """A new stage, last in the direction's order."""
    direction = _direction_or_404(direction_id)
    name, refused = _posted_name(f"stage-new-{direction.id}")
    if refused:
        return refused
    db = db_session()
    last = db.scalar(select(func.max(Stage.sort)).where(Stage.direction_id == direction.id))
    db.add(Stage(direction_id=direction.id, name=name, sort=(last or 0) + 1))
    db.commit()
    flash(_("Saved."), "success")
    return _back()


@bp.post("/stages/<int:stage_id>/rename")
@require(ADMIN)
def stage_rename(stage_id: int) -> ResponseReturnValue:
    stage = _stage_or_404(stage_id)
    name, refused = _posted_name(f"stage-{stage.id}")
    if refused:
        return refused
    stage.name = name or stage.name
    db_session().commit()
    flash(_("Saved."), "success")
    return _back()


@bp.post("/stages/<int:stage_id>/move")
@require(ADMIN)
def stage_move(stage_id: int) -> ResponseReturnValue:
    """One place up or down (``way``): the stages are renumbered 1…n in their new order."""
    stage = _stage_or_404(stage_id)
    way = request.form.get("way", "")
    if way not in ("up", "down") or not posted_ok():
        abort(400)
    db = db_session()
    order = list(
        db.scalars(
            select(Stage)
            .where(Stage.direction_id == stage.direction_id)
            .order_by(Stage.sort, Stage.id)
        )
    )
    at = order.index(stage)
    to = at - 1 if way == "up" else at + 1
    if 0 <= to < len(order):
        order[at], order[to] = order[to], order[at]
    for number, item in enumerate(order, 1):
        if item.sort != number:
            item.sort = number
    db.commit()
    return _back()


def _stage_in_use(stage_id: int) -> bool:
    """A work is at the stage, or a recorded change mentions it."""
    db = db_session()
    if db.scalar(select(Work.id).where(Work.stage_id == stage_id).limit(1)):
        return True
    mentioned = or_(StageChange.from_stage_id == stage_id, StageChange.to_stage_id == stage_id)
    return db.scalar(select(StageChange.id).where(mentioned).limit(1)) is not None


@bp.post("/stages/<int:stage_id>/delete")
@require(ADMIN)
def stage_delete(stage_id: int) -> ResponseReturnValue:
    stage = _stage_or_404(stage_id)
    if not posted_ok():
        abort(400)
    if _stage_in_use(stage.id):
        flash(
            _(
                "The stage %(name)s is in use (work is at it or its history mentions it) "
                "and cannot be deleted.",
                name=stage.name,
            ),
            "danger",
        )
        return _back()
    name = stage.name
    db = db_session()
    db.delete(stage)
    db.commit()
    flash(_("Deleted: %(title)s.", title=name), "success")
    return _back()


# -- the "Work" tab of a counterparty -------------------------------------------------


def _user_choices(keep: set[int | None]) -> list[SelectChoice]:
    """Active users to make responsible, and those already responsible even if inactive."""
    return [SelectChoice("", "—"), *(SelectChoice(u, name) for u, name in user_choices(keep))]


def _works(counterparty_id: int) -> list[Any]:
    """The counterparty's works with their direction, stage and responsible: one query."""
    responsible = aliased(User)
    return list(
        db_session().execute(
            select(
                Work.id,
                Work.direction_id,
                Work.stage_id,
                Work.responsible_id,
                Work.started_at,
                Direction.name.label("direction"),
                Stage.name.label("stage"),
                func.coalesce(func.nullif(responsible.name, ""), responsible.login).label(
                    "responsible"
                ),
            )
            .join(Direction, Direction.id == Work.direction_id)
            .outerjoin(Stage, Stage.id == Work.stage_id)
            .outerjoin(responsible, responsible.id == Work.responsible_id)
            .where(Work.counterparty_id == counterparty_id)
            .order_by(Direction.name)
        )
    )


def _stages_of(direction_ids: set[int]) -> dict[int, list[Stage]]:
    found: dict[int, list[Stage]] = defaultdict(list)
    if direction_ids:
        stmt = (
            select(Stage)
            .where(Stage.direction_id.in_(direction_ids))
            .order_by(Stage.sort, Stage.id)
        )
        for stage in db_session().scalars(stmt):
            found[stage.direction_id].append(stage)
    return found


def _work_tab(
    counterparty: Counterparty,
    errors: Mapping[str, list[str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    works = _works(counterparty.id)
    stages = _stages_of({w.direction_id for w in works})
    used = {w.direction_id for w in works}
    free = db_session().execute(
        select(Direction.id, Direction.name)
        .where(Direction.active.is_(True))
        .order_by(Direction.name)
    )
    users = _user_choices({w.responsible_id for w in works})
    return render_tab(
        "work",
        counterparty,
        _("Work"),
        status,
        works=works,
        stages=stages,
        directions=[(d.id, d.name) for d in free if d.id not in used],
        users=users,
        me=current_user.id,
        errors=errors or {},
        can_update=has_permission(UPDATE),
    )


def _work_or_404(work_id: int) -> tuple[Work, Counterparty]:
    """A work and its counterparty, if the user reaches the counterparty (scope)."""
    work = db_session().get(Work, work_id) if 0 < work_id <= MAX_ID else None
    if work is None:
        abort(404)
    return work, counterparty_or_404(work.counterparty_id)


def _form_errors(form: FlaskForm) -> list[str]:
    return [str(e) for errs in form.errors.values() for e in errs]


def _to_tab(counterparty: Counterparty) -> ResponseReturnValue:
    return redirect(url_for("crm_base.work_tab", record_id=counterparty.id), 303)


@bp.get("/counterparties/<int:record_id>/work")
@require(READ)
def work_tab(record_id: int) -> ResponseReturnValue:
    """The "Work" tab: directions working with the counterparty, stage, responsible."""
    return _work_tab(counterparty_or_404(record_id))


@bp.post("/counterparties/<int:record_id>/work")
@require(UPDATE)
def work_add(record_id: int) -> ResponseReturnValue:
    """A direction starts working with the counterparty, at the direction's first stage
    (recorded as the first stage change)."""
    counterparty = counterparty_or_404(record_id)
    db = db_session()
    form = AddWorkForm()
    used = select(Work.direction_id).where(Work.counterparty_id == counterparty.id)
    form.direction_id.choices = [
        SelectChoice(d.id, d.name)
        for d in db.execute(
            select(Direction.id, Direction.name).where(
                Direction.active.is_(True), Direction.id.not_in(used)
            )
        )
    ]
    form.responsible_id.choices = _user_choices(set())
    if not form.validate_on_submit():
        return _work_tab(counterparty, {"work-new": _form_errors(form)}, 400)
    first = db.scalars(
        select(Stage)
        .where(Stage.direction_id == form.direction_id.data)
        .order_by(Stage.sort, Stage.id)
        .limit(1)
    ).first()
    work = Work(
        counterparty_id=counterparty.id,
        direction_id=form.direction_id.data,
        stage_id=first.id if first else None,
        responsible_id=form.responsible_id.data,
    )
    db.add(work)
    try:
        db.flush()
    except IntegrityError:  # the same direction added by someone else just now
        db.rollback()
        taken = _("This direction already works with the counterparty.")
        return _work_tab(counterparty, {"work-new": [taken]}, 400)
    if first is not None:
        db.add(StageChange(work_id=work.id, to_stage_id=first.id, changed_by=current_user.id))
    db.commit()
    flash(_("Saved."), "success")
    return _to_tab(counterparty)


@bp.post("/work/<int:work_id>/stage")
@require(UPDATE)
def work_stage(work_id: int) -> ResponseReturnValue:
    """Move a work to another stage of its direction; the change is recorded with it."""
    work, counterparty = _work_or_404(work_id)
    db = db_session()
    form = StageForm()
    stages = _stages_of({work.direction_id})[work.direction_id]
    form.stage_id.choices = [SelectChoice("", "—"), *(SelectChoice(s.id, s.name) for s in stages)]
    key = f"work-{work.id}"
    if not form.validate_on_submit():
        return _work_tab(counterparty, {key: _form_errors(form)}, 400)
    raw_seen = form.seen.data or ""
    seen = int(raw_seen) if raw_seen.isdigit() and 0 < int(raw_seen) <= MAX_ID else None
    new = form.stage_id.data
    if new == work.stage_id:
        flash(_("The work is already at this stage."), "info")
        return _to_tab(counterparty)
    at_seen = Work.stage_id.is_(None) if seen is None else Work.stage_id == seen
    moved = db.execute(
        update(Work).where(Work.id == work.id, at_seen).values(stage_id=new),
        execution_options={"synchronize_session": False},
    )
    if moved.rowcount != 1:
        db.rollback()
        flash(_("Someone moved this work meanwhile; look at its stage again."), "warning")
        return _to_tab(counterparty)
    db.add(
        StageChange(
            work_id=work.id,
            from_stage_id=seen,
            to_stage_id=new,
            changed_by=current_user.id,
            note=form.note.data or "",
        )
    )
    db.commit()
    flash(_("Stage changed."), "success")
    return _to_tab(counterparty)


@bp.post("/work/<int:work_id>/responsible")
@require(UPDATE)
def work_responsible(work_id: int) -> ResponseReturnValue:
    work, counterparty = _work_or_404(work_id)
    form = ResponsibleForm()
    form.responsible_id.choices = _user_choices({work.responsible_id})
    if not form.validate_on_submit():
        return _work_tab(counterparty, {f"work-{work.id}": _form_errors(form)}, 400)
    if work.responsible_id != form.responsible_id.data:
        work.responsible_id = form.responsible_id.data
        db_session().commit()
    flash(_("Saved."), "success")
    return _to_tab(counterparty)


# -- hooks ----------------------------------------------------------------------------


def _stage_entry(row: Any, names: Mapping[int, str]) -> TimelineEntry:
    who = names.get(row.changed_by or 0, "")
    values = {"who": who, "direction": row.direction, "stage": row.to_name or "—"}
    if row.from_stage_id is None:
        title = (
            _("%(who)s started work in %(direction)s at the stage %(stage)s", **values)
            if who
            else _("Work started in %(direction)s at the stage %(stage)s", **values)
        )
        lines = []
    else:
        title = (
            _("%(who)s moved %(direction)s to the stage %(stage)s", **values)
            if who
            else _("%(direction)s moved to the stage %(stage)s", **values)
        )
        lines = [_("From the stage %(stage)s", stage=row.from_name or "—")]
    if row.note:
        lines.append(row.note)
    return TimelineEntry(aware(row.changed_at), "crm_base.stage", title, "\n".join(lines))


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's stage changes, newest first, for those who may read it."""
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    old, new = aliased(Stage), aliased(Stage)
    rows = (
        db_session()
        .execute(
            select(
                StageChange.changed_at,
                StageChange.changed_by,
                StageChange.from_stage_id,
                StageChange.note,
                Direction.name.label("direction"),
                old.name.label("from_name"),
                new.name.label("to_name"),
            )
            .join(Work, Work.id == StageChange.work_id)
            .join(Direction, Direction.id == Work.direction_id)
            .outerjoin(old, old.id == StageChange.from_stage_id)
            .outerjoin(new, new.id == StageChange.to_stage_id)
            .where(Work.counterparty_id == int(subject_id))
            .order_by(StageChange.changed_at.desc(), StageChange.id.desc())
            .limit(TIMELINE_LIMIT)
        )
        .all()
    )
    names = user_names(r.changed_by for r in rows)
    return [_stage_entry(r, names) for r in rows]


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The "Work" tab, with how many directions work with the counterparty."""
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    count = db_session().scalar(
        select(func.count()).select_from(Work).where(Work.counterparty_id == int(subject_id))
    )
    url = url_for("crm_base.work_tab", record_id=int(subject_id))
    return [CardTab("crm_base.work", _("Work"), url, order=50, count=count or None)]
