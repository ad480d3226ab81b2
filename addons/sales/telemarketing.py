"""sales: telemarketing (MS-3) — call campaigns over a crm_base mailing list, the
operator's call queue, call outcomes and the campaign's progress.

Why it is built this way:

- **The queue is rows, built in bulk.** "Build the queue" reads the mailing list's members
  as the user building it may see them (:func:`addons.crm_base.mailing.mailing_list_members`,
  keyset batches) and inserts one ``sales_call`` per member with a phone, a thousand rows
  per statement: a list of 50,000 builds in seconds. The campaign row is locked first
  (``FOR UPDATE`` on PostgreSQL; SQLite writers are serialised anyway), so two builds at
  once cannot queue a member twice; a rebuild adds only members not queued yet.
- **A call is claimed atomically.** ``UPDATE … SET taken_at = now WHERE id = :id AND
  (taken_at IS NULL OR taken_at < now - 15 min)``: of two operators racing for one number
  only one UPDATE matches a row, the other moves on to the next. A claim that is not
  answered within 15 minutes (the operator went home) frees the number for others.
  Taking a call changes data, so it is a POST ("Take the next call"); an outcome takes the
  next call at once, so an operator clicks once per call.
- **An outcome is one transaction**: the call's new state (guarded by its version and by
  the claim, so a call another operator holds is never overwritten), a done contact of
  kind "call" (the counterparty's chronology shows it through the contacts area), and for
  "interested" an opportunity (:func:`addons.sales.funnel.create_opportunity`).
- **Open calls** are ``pending`` (never reached, or "no answer" fewer than three times) and
  ``call_back``; the others are final. ``operator_id`` keeps who handled a call last (the
  progress per operator), ``taken_at`` says whether it is held now.

Rights: ``sales.campaign.read/create/update/delete`` (record scope through the responsible
manager) and ``sales.campaign.call`` (work the queues of the active campaigns one is an
operator of).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.codes import format_phone
from addons.crm_base.contacts import bump_version, clean_text
from addons.crm_base.mailing import READ as LIST_READ
from addons.crm_base.mailing import SOURCES, mailing_list_members
from addons.crm_base.models import (
    PERSON_SUBJECT,
    Channel,
    Counterparty,
    MailingList,
    Person,
    PersonLink,
)
from addons.crm_base.models import SUBJECT as COUNTERPARTY_SUBJECT
from addons.sales.models import (
    CAMPAIGN,
    Call,
    Campaign,
    CampaignOperator,
    Contact,
    Pipeline,
    Source,
)
from addons.sales.views import active_users, bp, menu, record_or_404
from core import audit
from core.db import utcnow
from core.hooktypes import MenuItem, PermissionDef
from core.models import User
from core.security import has_permission, require, user_names
from core.ui import ChoiceFilter, Column, ListView
from core.ui.formview import MAX_ID, FormView
from core.ui.widgets import chart_config
from core.web import db_session

READ = "sales.campaign.read"
CREATE = "sales.campaign.create"
UPDATE = "sales.campaign.update"
DELETE = "sales.campaign.delete"
CALL = "sales.campaign.call"

BATCH = 1000
CLAIM_MINUTES = 15
RETRY_AFTER = timedelta(hours=1)
MAX_ATTEMPTS = 3
CLAIM_ROUNDS = 3
HISTORY_LIMIT = 20
OPEN = ("pending", "call_back")
FINAL = ("reached", "not_interested", "interested", "no_answer")
ACTIONS = ("reached", "no_answer", "call_back", "not_interested", "interested")
FIELDS = (
    "name",
    "mailing_list_id",
    "script",
    "pipeline_id",
    "source_id",
    "starts_on",
    "ends_on",
    "responsible_id",
)

STATUS_LABELS = {"draft": _l("Draft"), "active": _l("Active"), "closed": _l("Closed")}
# Where each status may go: activate, close, and reopen a closed campaign.
TRANSITIONS = {"draft": ("active",), "active": ("closed",), "closed": ("active",)}
OUTCOME_LABELS = {
    "pending": _l("To call"),
    "call_back": _l("Call back"),
    "reached": _l("Reached"),
    "no_answer": _l("No answer"),
    "not_interested": _l("Not interested"),
    "interested": _l("Interested"),
}


# -- hooks ------------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [
        PermissionDef(READ, _l("Read call campaigns")),
        PermissionDef(CREATE, _l("Create call campaigns")),
        PermissionDef(UPDATE, _l("Edit call campaigns")),
        PermissionDef(DELETE, _l("Delete call campaigns")),
        PermissionDef(CALL, _l("Work a call queue")),
    ]


def menu_items() -> list[MenuItem]:
    return [
        menu("campaigns", _l("Call campaigns"), READ, 40),
        menu("queue", _l("My call queue"), CALL, 41),
    ]


def merge_records(subject: str, source_id: int, target_id: int, session: Session) -> int:
    """Calls of a merged duplicate (counterparty or person) follow the record kept."""
    column = {COUNTERPARTY_SUBJECT: Call.counterparty_id, PERSON_SUBJECT: Call.person_id}.get(
        subject
    )
    if column is None:
        return 0
    moved = session.execute(
        update(Call)
        .where(column == source_id)
        .values({column.key: target_id, "version": Call.version + 1})
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount or 0


# -- choices and forms ------------------------------------------------------------------


def _optional_id(value: Any) -> int | None:
    """A select's value as an id; the empty choice is "none"."""
    return None if value in (None, "") else int(value)


def _user_choices(current: int | None = None) -> list[SelectChoice]:
    users = active_users()
    if current is not None and current not in {uid for uid, _name in users}:
        users.append((current, user_names([current]).get(current, str(current))))
    return [SelectChoice("", "—"), *(SelectChoice(uid, name) for uid, name in users)]


def _lookup_choices(model: Any, current: int | None) -> list[SelectChoice]:
    """Active rows of a lookup table (and the stored one, even if made inactive)."""
    rows = db_session().execute(
        select(model.id, model.name)
        .where(or_(model.active.is_(True), model.id == current))
        .order_by(model.sort, model.name)
    )
    return [SelectChoice("", "—"), *(SelectChoice(i, name) for i, name in rows)]


def readable_lists(user: Any = None) -> Select[Any]:
    """Mailing lists whose members ``user`` may read: the list right and the right to read
    what the list is of (counterparties or persons)."""
    if not has_permission(LIST_READ, user):
        return select(MailingList.id, MailingList.name).where(MailingList.id.is_(None))
    subjects = [s.subject for s in SOURCES.values() if has_permission(s.read, user)]
    return (
        select(MailingList.id, MailingList.name)
        .where(MailingList.subject.in_(subjects))
        .order_by(MailingList.name, MailingList.id)
    )


def list_choices(current: int | None = None) -> list[SelectChoice]:
    rows = db_session().execute(readable_lists())
    choices = [SelectChoice("", "—"), *(SelectChoice(i, name) for i, name in rows)]
    if current is not None and current not in {c.value for c in choices}:
        choices.append(SelectChoice(current, _("(a list you may not read)")))
    return choices


def _ends_after_start(form: FlaskForm, field: DateField) -> None:
    if field.data and form.starts_on.data and field.data < form.starts_on.data:
        raise ValidationError(_("The end comes before the start."))


class CampaignForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    mailing_list_id = SelectField(
        _l("Mailing list"),
        coerce=_optional_id,
        description=_l("Who to call: the members of a saved list of counterparties or persons."),
    )
    script = TextAreaField(_l("Call script"), filters=[clean_text], validators=[Length(max=20_000)])
    pipeline_id = SelectField(_l("Pipeline for opportunities"), coerce=_optional_id)
    source_id = SelectField(_l("Lead source"), coerce=_optional_id)
    starts_on = DateField(_l("Starts on"), validators=[Optional()])
    ends_on = DateField(_l("Ends on"), validators=[Optional(), _ends_after_start])
    responsible_id = SelectField(_l("Responsible"), coerce=_optional_id)
    operator_ids = SelectMultipleField(_l("Operators"), coerce=int, render_kw={"size": 6})


def fill_campaign_choices(form: FlaskForm, record: Campaign | None) -> None:
    """The choices of the campaign form (the stored values stay choosable)."""
    form.mailing_list_id.choices = list_choices(record.mailing_list_id if record else None)
    form.pipeline_id.choices = _lookup_choices(Pipeline, record.pipeline_id if record else None)
    form.source_id.choices = _lookup_choices(Source, record.source_id if record else None)
    form.responsible_id.choices = _user_choices(record.responsible_id if record else None)
    form.operator_ids.choices = [(uid, name) for uid, name in active_users()]


def operator_ids(db: Session, campaign_id: int) -> list[int]:
    return list(
        db.scalars(
            select(CampaignOperator.user_id)
            .where(CampaignOperator.campaign_id == campaign_id)
            .order_by(CampaignOperator.user_id)
        )
    )


def sync_operators(db: Session, campaign_id: int, wanted: Iterable[int]) -> bool:
    """The campaign's operators become ``wanted``; ``True`` if they changed."""
    wanted_set = set(wanted or ())
    rows = {
        row.user_id: row
        for row in db.scalars(
            select(CampaignOperator).where(CampaignOperator.campaign_id == campaign_id)
        )
    }
    for user_id in rows.keys() - wanted_set:
        db.delete(rows[user_id])
    db.add_all(
        CampaignOperator(campaign_id=campaign_id, user_id=u) for u in wanted_set - rows.keys()
    )
    return wanted_set != rows.keys()


class OutcomeForm(FlaskForm):
    outcome = HiddenField()  # the pressed button's value
    note = TextAreaField(_l("Note"), filters=[clean_text], validators=[Length(max=2000)])
    callback_at = DateTimeLocalField(
        _l("Call back at"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    opportunity_name = StringField(
        _l("Opportunity"), filters=[clean_text], validators=[Length(max=300)]
    )
    queue = HiddenField()  # "campaign": back to the campaign's queue, else to all

    def validate_outcome(self, field: HiddenField) -> None:
        if field.data not in ACTIONS:
            raise ValidationError(_("Unknown outcome: press one of the outcome buttons."))

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields, then "call back at" when that button was pressed (a future time)."""
        valid = super().validate(extra_validators)
        if self.outcome.data == "call_back" and not self.callback_at.errors:
            problem = _callback_problem(self.callback_at.data)
            if problem:
                self.callback_at.errors = [*self.callback_at.errors, problem]
                valid = False
        return valid


def _callback_problem(local: datetime | None) -> str:
    if local is None:
        return _("Say when to call back.")
    when = callback_utc(local)
    if when <= utcnow():
        return _("The time to call back has already passed.")
    if when > utcnow() + timedelta(days=366):
        return _("Call back within a year.")
    return ""


def callback_utc(local: datetime) -> datetime:
    """A "call back at" typed in the user's time zone, as aware UTC."""
    return to_utc(local).replace(tzinfo=UTC)


# -- the list -------------------------------------------------------------------------------

Responsible = aliased(User, name="responsible")


def _status_label(value: Any) -> str:
    return str(STATUS_LABELS.get(value, value))


CAMPAIGNS = ListView(
    name="sales_campaigns",
    endpoint="sales.campaigns",
    model=Campaign,
    title=_l("Call campaigns"),
    columns=[
        Column(
            "name",
            _l("Name"),
            Campaign.name,
            sortable=True,
            link=lambda row: url_for("sales.campaign", record_id=row.id),
        ),
        Column("status", _l("Status"), Campaign.status, format=_status_label),
        Column("mailing_list", _l("Mailing list"), MailingList.name, nullable=True),
        Column(
            "responsible",
            _l("Responsible"),
            func.coalesce(func.nullif(Responsible.name, ""), Responsible.login),
            nullable=True,
        ),
        Column("starts_on", _l("Starts on"), Campaign.starts_on, sortable=True, nullable=True),
        Column("ends_on", _l("Ends on"), Campaign.ends_on, nullable=True),
    ],
    joins=[
        (MailingList, MailingList.id == Campaign.mailing_list_id),
        (Responsible, Responsible.id == Campaign.responsible_id),
    ],
    search=[Campaign.name],
    filters=[
        ChoiceFilter(
            "status",
            _l("Status"),
            lambda: [(k, str(v)) for k, v in STATUS_LABELS.items()],
            expr=Campaign.status,
        )
    ],
    default_sort="name",
    subject=CAMPAIGN,
    owner=Campaign.responsible_id,
    empty_message=_l("No call campaigns yet."),
    template="sales/campaigns.html",
)


@bp.get("/campaigns")
@require(READ)
def campaigns() -> ResponseReturnValue:
    return CAMPAIGNS.render(can_create=has_permission(CREATE))


def _new_page(form: CampaignForm, status: int = 200) -> ResponseReturnValue:
    crumbs = [(_("Call campaigns"), url_for("sales.campaigns")), (_("New campaign"), None)]
    body = render_template(
        "sales/campaign_new.html", form=form, invalid=status == 400, breadcrumbs=crumbs
    )
    return body, status


@bp.route("/campaigns/new", methods=["GET", "POST"])
@require(CREATE)
def campaign_new() -> ResponseReturnValue:
    """GET: the empty form (the creator responsible); POST: save the draft, open its card."""
    form = CampaignForm()
    fill_campaign_choices(form, None)
    if not form.is_submitted():
        form.responsible_id.data = current_user.id
        return _new_page(form)
    if not form.validate():
        return _new_page(form, 400)
    db = db_session()
    record = Campaign(status="draft")
    for name in FIELDS:
        setattr(record, name, form[name].data)
    db.add(record)
    db.flush()
    sync_operators(db, record.id, form.operator_ids.data)
    db.commit()
    flash(_("Saved."), "success")
    if not CAMPAIGN_FORM.reachable(record.id):
        flash(_("The record is no longer among those you can see."), "info")
        return redirect(url_for("sales.campaigns"), 303)
    return redirect(url_for("sales.campaign", record_id=record.id), 303)


# -- the card -------------------------------------------------------------------------------


@dataclass
class CampaignFormView(FormView):
    """The form view with the campaign's operators (rows of their own) saved alongside."""

    def edit_form(self, record: Any) -> FlaskForm:
        form = super().edit_form(record)
        form.operator_ids.data = operator_ids(db_session(), record.id)
        return form

    def apply(self, form: FlaskForm, record: Any) -> None:
        super().apply(form, record)
        db = db_session()
        own_change = db.is_modified(record, include_collections=False)
        if sync_operators(db, record.id, form.operator_ids.data) and not own_change:
            bump_version(db, record)


def outcome_counts(campaign_id: int) -> dict[str, int]:
    rows = db_session().execute(
        select(Call.outcome, func.count())
        .where(Call.campaign_id == campaign_id)
        .group_by(Call.outcome)
    )
    return dict(rows.all())


def _card_extras(record: Campaign) -> dict[str, Any]:
    counts = outcome_counts(record.id)
    return {
        "breadcrumbs": [(_("Call campaigns"), url_for("sales.campaigns")), (record.name, None)],
        "status_label": _status_label(record.status),
        "next_statuses": [(s, _status_label(s)) for s in TRANSITIONS.get(record.status, ())],
        "total_calls": sum(counts.values()),
        "open_calls": sum(counts.get(o, 0) for o in OPEN),
        "is_operator": has_permission(CALL)
        and current_user.id in operator_ids(db_session(), record.id),
        "action_form": FlaskForm(),
    }


CAMPAIGN_FORM = CampaignFormView(
    model=Campaign,
    form=CampaignForm,
    fields=FIELDS,
    subject=CAMPAIGN,
    owner=Campaign.responsible_id,
    template="sales/campaign.html",
    endpoint="sales.campaign",
    save_endpoint="sales.campaign_edit",
    delete_endpoint="sales.campaign_delete",
    index_endpoint="sales.campaigns",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: record.name,
    prepare=fill_campaign_choices,
    context=_card_extras,
)


@bp.get("/campaigns/<int:record_id>")
@require(READ)
def campaign(record_id: int) -> ResponseReturnValue:
    return CAMPAIGN_FORM.show(record_id)


CAMPAIGN_FORM.add_routes(bp, "/campaigns", update=UPDATE, delete=DELETE)


# -- building the queue ---------------------------------------------------------------------


@dataclass
class BuildResult:
    """What a build did: calls queued, members skipped, members queued before."""

    added: int = 0
    no_phone: int = 0
    no_counterparty: int = 0
    already: int = 0


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _first_values(db: Session, owner: Any, ids: list[int], kind: str) -> dict[int, str]:
    """The main (else first) channel of ``kind`` of each owner in ``ids`` (one query)."""
    rows = db.execute(
        select(owner, Channel.value)
        .where(owner.in_(ids), Channel.kind == kind)
        .order_by(owner, Channel.is_primary.desc(), Channel.id)
    )
    found: dict[int, str] = {}
    for owner_id, value in rows:
        found.setdefault(owner_id, value)
    return found


def _person_counterparties(db: Session, ids: list[int]) -> dict[int, int]:
    """The counterparty of each person (the main link, else the first)."""
    rows = db.execute(
        select(PersonLink.person_id, PersonLink.counterparty_id)
        .where(PersonLink.person_id.in_(ids))
        .order_by(PersonLink.person_id, PersonLink.is_primary.desc(), PersonLink.counterparty_id)
    )
    found: dict[int, int] = {}
    for person_id, counterparty_id in rows:
        found.setdefault(person_id, counterparty_id)
    return found


def _member_rows(
    db: Session, of_persons: bool, ids: list[int], result: BuildResult
) -> list[tuple[int, int | None, str]]:
    """``(counterparty id, person id, phone)`` of a batch of members; those without a
    phone (or, for persons, without a counterparty) are counted in ``result``."""
    owner = Channel.person_id if of_persons else Channel.counterparty_id
    phones = _first_values(db, owner, ids, "phone")
    companies = _person_counterparties(db, ids) if of_persons else {}
    rows = []
    for member_id in ids:
        phone = phones.get(member_id)
        counterparty_id = companies.get(member_id) if of_persons else member_id
        if not phone:
            result.no_phone += 1
        elif counterparty_id is None:
            result.no_counterparty += 1
        else:
            rows.append((counterparty_id, member_id if of_persons else None, phone))
    return rows


def build_queue(db: Session, campaign: Campaign, user: Any) -> BuildResult:
    """Queue a call for every member of the campaign's mailing list (as ``user`` sees the
    list) not queued yet; bulk inserts, in the caller's transaction."""
    result = BuildResult()
    mailing = db.get(MailingList, campaign.mailing_list_id) if campaign.mailing_list_id else None
    if mailing is None:
        return result
    # Serialise builds of one campaign: the second sees the first one's rows.
    db.execute(select(Campaign.id).where(Campaign.id == campaign.id).with_for_update())
    of_persons = mailing.subject == "person"
    existing = {
        (c, p)
        for c, p in db.execute(
            select(Call.counterparty_id, Call.person_id).where(Call.campaign_id == campaign.id)
        )
    }
    now = utcnow()
    members = (
        member_id for member_id, _name, _emails in mailing_list_members(db, mailing.id, user)
    )
    for ids in _chunks(members, BATCH):
        new = []
        for counterparty_id, person_id, phone in _member_rows(db, of_persons, ids, result):
            if (counterparty_id, person_id) in existing:
                result.already += 1
                continue
            existing.add((counterparty_id, person_id))
            new.append(
                {
                    "campaign_id": campaign.id,
                    "counterparty_id": counterparty_id,
                    "person_id": person_id,
                    "phone": phone[:40],
                    "due_at": now,
                }
            )
        if new:
            db.execute(insert(Call), new)
            result.added += len(new)
    audit.record(
        db,
        "build_queue",
        "sales_campaign",
        str(campaign.id),
        added=result.added,
        no_phone=result.no_phone,
        no_counterparty=result.no_counterparty,
        already=result.already,
    )
    return result


def _report_build(result: BuildResult) -> None:
    flash(
        _(
            "Calls queued: %(added)s; already in the queue: %(already)s.",
            added=result.added,
            already=result.already,
        ),
        "success",
    )
    if result.no_phone:
        flash(_("Members without a phone (not queued): %(n)s.", n=result.no_phone), "warning")
    if result.no_counterparty:
        flash(
            _("Persons of no counterparty (not queued): %(n)s.", n=result.no_counterparty),
            "warning",
        )


def _posted_or_400() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400)


def _can_build(record: Campaign) -> bool:
    """Flash why the queue cannot be built, if it cannot."""
    if record.status == "closed":
        flash(_("The campaign is closed: reopen it first."), "danger")
        return False
    if record.mailing_list_id is None:
        flash(_("Choose the mailing list of the campaign first."), "danger")
        return False
    readable = readable_lists().where(MailingList.id == record.mailing_list_id)
    if db_session().execute(readable).first() is None:
        flash(_("You may not read the campaign's mailing list."), "danger")
        return False
    return True


@bp.post("/campaigns/<int:record_id>/build")
@require(UPDATE)
def campaign_build(record_id: int) -> ResponseReturnValue:
    """Fill (or top up) the queue from the mailing list."""
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    _posted_or_400()
    if _can_build(record):
        db = db_session()
        result = build_queue(db, record, current_user)
        db.commit()
        _report_build(result)
    return redirect(url_for("sales.campaign", record_id=record.id), 303)


@bp.post("/campaigns/<int:record_id>/status")
@require(UPDATE)
def campaign_status(record_id: int) -> ResponseReturnValue:
    """Activate (building the queue), close, or reopen the campaign."""
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    _posted_or_400()
    wanted = request.form.get("status", "")
    back = redirect(url_for("sales.campaign", record_id=record.id), 303)
    if wanted not in TRANSITIONS.get(record.status, ()):
        flash(_("The campaign cannot go from this status to that one."), "danger")
        return back
    db = db_session()
    result = None
    if wanted == "active":
        if not _can_build(record):
            return back
        result = build_queue(db, record, current_user)
    record.status = wanted
    db.commit()
    flash(_("Status: %(status)s.", status=_status_label(wanted)), "success")
    if result is not None:
        _report_build(result)
    return back


# -- the operator's queue -------------------------------------------------------------------


def workable(user_id: int, campaign_id: int | None = None) -> Select[Any]:
    """Ids of the active campaigns ``user_id`` is an operator of (``campaign_id`` only)."""
    stmt = (
        select(Campaign.id)
        .join(
            CampaignOperator,
            and_(CampaignOperator.campaign_id == Campaign.id, CampaignOperator.user_id == user_id),
        )
        .where(Campaign.status == "active")
    )
    return stmt if campaign_id is None else stmt.where(Campaign.id == campaign_id)


def _stale(now: datetime) -> datetime:
    return now - timedelta(minutes=CLAIM_MINUTES)


def _free(now: datetime) -> Any:
    """Nobody holds the call (never taken, released, or the claim expired)."""
    return or_(Call.taken_at.is_(None), Call.taken_at < _stale(now))


def claim(db: Session, call_id: int, user_id: int, now: datetime | None = None) -> bool:
    """Take call ``call_id`` for ``user_id`` if nobody holds it: one UPDATE whose WHERE is
    the check, so of two operators at once only one gets it."""
    now = now or utcnow()
    taken = db.execute(
        update(Call)
        .where(Call.id == call_id, Call.outcome.in_(OPEN), _free(now))
        .values(operator_id=user_id, taken_at=now, version=Call.version + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


def held_call(db: Session, user_id: int, campaign_id: int | None = None) -> int | None:
    """The call ``user_id`` holds now (in the campaigns they may work), if any."""
    now = utcnow()
    return db.scalar(
        select(Call.id)
        .where(
            Call.operator_id == user_id,
            Call.taken_at >= _stale(now),
            Call.outcome.in_(OPEN),
            Call.campaign_id.in_(workable(user_id, campaign_id)),
        )
        .order_by(Call.taken_at.desc(), Call.id)
        .limit(1)
    )


def take_next(db: Session, user_id: int, campaign_id: int | None = None) -> int | None:
    """The call ``user_id`` holds, else the next due one claimed for them (or ``None``)."""
    current = held_call(db, user_id, campaign_id)
    if current is not None:
        return current
    for _round in range(CLAIM_ROUNDS):
        now = utcnow()
        candidates = db.scalars(
            select(Call.id)
            .where(
                Call.campaign_id.in_(workable(user_id, campaign_id)),
                Call.outcome.in_(OPEN),
                Call.due_at <= now,
                _free(now),
            )
            .order_by(Call.due_at, Call.id)
            .limit(10)
        ).all()
        if not candidates:
            return None
        for call_id in candidates:
            if claim(db, call_id, user_id, now):
                return call_id
    return None


def release(db: Session, call_id: int, user_id: int) -> bool:
    """Give back a held call unanswered (the operator pauses)."""
    freed = db.execute(
        update(Call)
        .where(Call.id == call_id, Call.operator_id == user_id, Call.taken_at.is_not(None))
        .values(taken_at=None, version=Call.version + 1)
        .execution_options(synchronize_session=False)
    )
    return freed.rowcount == 1


@dataclass(frozen=True)
class CallView:
    """What the operator sees of a call."""

    id: int
    campaign_id: int
    campaign: str
    script: str
    counterparty_id: int | None
    counterparty: str
    person_id: int | None
    person: str
    phone: str
    phone_shown: str
    attempts: int
    outcome: str
    version: int
    due_at: datetime | None


def load_call(db: Session, call_id: int) -> CallView | None:
    """The call with its campaign's script and its member's names (one query)."""
    row = db.execute(
        select(
            Call.id,
            Call.campaign_id,
            Campaign.name.label("campaign"),
            Campaign.script,
            Call.counterparty_id,
            func.coalesce(Counterparty.name, "").label("counterparty"),
            Call.person_id,
            func.coalesce(Person.full_name, "").label("person"),
            Call.phone,
            Call.attempts,
            Call.outcome,
            Call.version,
            Call.due_at,
        )
        .join(Campaign, Campaign.id == Call.campaign_id)
        .outerjoin(Counterparty, Counterparty.id == Call.counterparty_id)
        .outerjoin(Person, Person.id == Call.person_id)
        .where(Call.id == call_id)
    ).one_or_none()
    if row is None:
        return None
    shown = format_phone(row.phone) if row.phone else ""
    return CallView(**row._mapping, phone_shown=shown)


def call_history(db: Session, call: CallView) -> list[dict[str, Any]]:
    """Earlier calls of this campaign to this member (the contacts recorded)."""
    stmt = (
        select(Contact.done_at, Contact.result, Contact.responsible_id)
        .where(
            Contact.campaign_id == call.campaign_id,
            Contact.counterparty_id == call.counterparty_id,
            Contact.person_id.is_(None)
            if call.person_id is None
            else Contact.person_id == call.person_id,
        )
        .order_by(Contact.id.desc())
        .limit(HISTORY_LIMIT)
    )
    rows = db.execute(stmt).all()
    names = user_names(r.responsible_id for r in rows if r.responsible_id)
    return [
        {"at": r.done_at, "result": r.result, "by": names.get(r.responsible_id, "")} for r in rows
    ]


def _queue_summary(db: Session, user_id: int) -> list[dict[str, Any]]:
    """The user's active campaigns with their due and open calls (one GROUP BY)."""
    now = utcnow()
    due = func.count(Call.id).filter(Call.due_at <= now, _free(now))
    rows = db.execute(
        select(Campaign.id, Campaign.name, func.count(Call.id), due)
        .outerjoin(Call, and_(Call.campaign_id == Campaign.id, Call.outcome.in_(OPEN)))
        .where(Campaign.id.in_(workable(user_id)))
        .group_by(Campaign.id, Campaign.name)
        .order_by(Campaign.name)
    )
    return [{"id": i, "name": n, "open": o, "due": d} for i, n, o, d in rows]


def _next_due(db: Session, user_id: int, campaign_id: int | None) -> datetime | None:
    return db.scalar(
        select(func.min(Call.due_at)).where(
            Call.campaign_id.in_(workable(user_id, campaign_id)), Call.outcome.in_(OPEN)
        )
    )


def _workable_campaign_or_404(campaign_id: int) -> Campaign:
    """A campaign the signed-in operator may call for (else 404, also for absurd ids)."""
    if not 0 < campaign_id <= MAX_ID:
        abort(404)
    db = db_session()
    found = db.scalar(workable(current_user.id, campaign_id))
    if found is None:
        abort(404)
    return db.get(Campaign, found)  # type: ignore[return-value]


def _queue_url(campaign_id: int | None) -> str:
    if campaign_id is None:
        return url_for("sales.queue")
    return url_for("sales.campaign_queue", record_id=campaign_id)


def queue_page(
    campaign: Campaign | None,
    form: OutcomeForm | None = None,
    call_id: int | None = None,
    status: int = 200,
    error: str = "",
) -> ResponseReturnValue:
    """The operator's page: the held call with its script, history and outcome buttons,
    or the button to take the next one."""
    db = db_session()
    me = current_user.id
    campaign_id = campaign.id if campaign else None
    if call_id is None:
        call_id = held_call(db, me, campaign_id)
    call = load_call(db, call_id) if call_id is not None else None
    if form is None:
        form = OutcomeForm(formdata=None)
    form.queue.data = "campaign" if campaign else ""
    if call is not None and not form.opportunity_name.data:
        form.opportunity_name.data = f"{call.campaign} — {call.person or call.counterparty}"[:300]
    crumbs = [(_("My call queue"), url_for("sales.queue") if campaign else None)]
    if campaign:
        crumbs.append((campaign.name, None))
    body = render_template(
        "sales/campaign_queue.html",
        campaign=campaign,
        call=call,
        history=call_history(db, call) if call else [],
        form=form,
        error=error,
        summary=_queue_summary(db, me) if campaign is None else [],
        next_due=_next_due(db, me, campaign_id) if call is None else None,
        take_url=(
            url_for("sales.campaign_queue_take", record_id=campaign_id)
            if campaign
            else url_for("sales.queue_take")
        ),
        action_form=FlaskForm(),
        outcomes=[(o, OUTCOME_LABELS[o]) for o in ACTIONS],
        can_read_counterparty=has_permission("crm_base.counterparty.read"),
        can_read_person=has_permission("crm_base.person.read"),
        breadcrumbs=crumbs,
    )
    return body, status


def _take(campaign: Campaign | None) -> ResponseReturnValue:
    _posted_or_400()
    db = db_session()
    call_id = take_next(db, current_user.id, campaign.id if campaign else None)
    db.commit()
    if call_id is None:
        flash(_("No calls are due now."), "info")
    return redirect(_queue_url(campaign.id if campaign else None), 303)


@bp.get("/queue")
@require(CALL)
def queue() -> ResponseReturnValue:
    return queue_page(None)


@bp.post("/queue/take")
@require(CALL)
def queue_take() -> ResponseReturnValue:
    return _take(None)


@bp.get("/campaigns/<int:record_id>/queue")
@require(CALL)
def campaign_queue(record_id: int) -> ResponseReturnValue:
    return queue_page(_workable_campaign_or_404(record_id))


@bp.post("/campaigns/<int:record_id>/queue/take")
@require(CALL)
def campaign_queue_take(record_id: int) -> ResponseReturnValue:
    return _take(_workable_campaign_or_404(record_id))


@bp.post("/campaigns/<int:record_id>/calls/<int:call_id>/release")
@require(CALL)
def call_release(record_id: int, call_id: int) -> ResponseReturnValue:
    """Pause: hand the held call back to the queue."""
    campaign = _workable_campaign_or_404(record_id)
    _posted_or_400()
    db = db_session()
    if release(db, call_id, current_user.id):
        db.commit()
        flash(_("The call went back to the queue."), "info")
    back = campaign.id if request.form.get("queue") == "campaign" else None
    return redirect(_queue_url(back), 303)


# -- outcomes -------------------------------------------------------------------------------


def _outcome_values(call: CallView, form: OutcomeForm, now: datetime) -> dict[str, Any]:
    """The call's new columns for the pressed outcome."""
    outcome = form.outcome.data
    values: dict[str, Any] = {
        "outcome": outcome,
        "attempts": call.attempts + 1,
        "called_at": now,
        "taken_at": None,
        "note": form.note.data or "",
        "version": call.version + 1,
    }
    if outcome == "no_answer":
        values["outcome"] = "no_answer" if call.attempts + 1 >= MAX_ATTEMPTS else "pending"
        values["due_at"] = now + RETRY_AFTER
    elif outcome == "call_back":
        values["due_at"] = callback_utc(form.callback_at.data)
    return values


def _result_text(outcome: str, form: OutcomeForm) -> str:
    text = str(OUTCOME_LABELS[outcome])
    if outcome == "call_back" and form.callback_at.data is not None:
        text += " " + form.callback_at.data.strftime("%Y-%m-%d %H:%M")
    return f"{text}: {form.note.data}" if form.note.data else text


def _opportunity(db: Session, campaign: Campaign, call: CallView, name: str, user_id: int) -> int:
    from addons.sales.funnel import create_opportunity  # written by the funnel area

    made = create_opportunity(
        db,
        counterparty_id=call.counterparty_id,
        name=name,
        responsible_id=user_id,
        pipeline_id=campaign.pipeline_id,
        source_id=campaign.source_id,
        campaign_id=campaign.id,
        person_id=call.person_id,
        user_id=user_id,
    )
    return int(getattr(made, "id", made))


def record_outcome(
    db: Session, campaign: Campaign, call: CallView, form: OutcomeForm, user_id: int
) -> str | None:
    """Save the outcome (call, contact, opportunity) in the caller's transaction; the
    message why not (nothing written) if another operator holds the call or it changed."""
    now = utcnow()
    values = _outcome_values(call, form, now)
    saved = db.execute(
        update(Call)
        .where(
            Call.id == call.id,
            Call.campaign_id == campaign.id,
            Call.version == call.version,
            Call.outcome.in_(OPEN),
            or_(Call.operator_id == user_id, _free(now)),
        )
        .values(operator_id=user_id, **values)
        .execution_options(synchronize_session=False)
    )
    if saved.rowcount != 1:
        return _("This call was handled meanwhile or another operator has it: nothing saved.")
    opportunity_id = None
    if form.outcome.data == "interested":
        name = form.opportunity_name.data or f"{campaign.name} — {call.counterparty}"
        opportunity_id = _opportunity(db, campaign, call, name[:300], user_id)
        db.execute(
            update(Call)
            .where(Call.id == call.id)
            .values(opportunity_id=opportunity_id, version=Call.version + 1)
            .execution_options(synchronize_session=False)
        )
    db.add(
        Contact(
            kind="call",
            subject=_("Call: %(campaign)s", campaign=campaign.name)[:300],
            planned_at=now,
            status="done",
            done_at=now,
            responsible_id=user_id,
            counterparty_id=call.counterparty_id,
            person_id=call.person_id,
            campaign_id=campaign.id,
            source_id=campaign.source_id,
            opportunity_id=opportunity_id,
            result=_result_text(values["outcome"], form),
            created_by=user_id,
        )
    )
    return None


@bp.post("/campaigns/<int:record_id>/calls/<int:call_id>/outcome")
@require(CALL)
def call_outcome(record_id: int, call_id: int) -> ResponseReturnValue:
    """Record the pressed outcome and take the next call; bad input saves nothing."""
    campaign = _workable_campaign_or_404(record_id)
    form = OutcomeForm()
    in_campaign = form.queue.data == "campaign"
    shown = campaign if in_campaign else None
    db = db_session()
    call = load_call(db, call_id) if 0 < call_id <= MAX_ID else None
    if call is None or call.campaign_id != campaign.id:
        return queue_page(shown, status=400, error=_("This call is not in this campaign's queue."))
    if not form.validate_on_submit():
        return queue_page(shown, form, call.id, status=400)
    try:
        problem = record_outcome(db, campaign, call, form, current_user.id)
    except ValueError as exc:  # the funnel refused the opportunity
        problem = _("The opportunity could not be created: %(why)s", why=str(exc))
    if problem:
        db.rollback()
        return queue_page(shown, OutcomeForm(formdata=None), status=409, error=problem)
    db.commit()
    flash(_("Saved: %(outcome)s.", outcome=OUTCOME_LABELS[form.outcome.data]), "success")
    take_next(db, current_user.id, campaign.id if in_campaign else None)
    db.commit()
    return redirect(_queue_url(campaign.id if in_campaign else None), 303)


# -- progress ---------------------------------------------------------------------------------


def progress(db: Session, campaign_id: int) -> dict[str, Any]:
    """Counts per outcome and per operator from one GROUP BY, and the share done."""
    rows = db.execute(
        select(Call.operator_id, Call.outcome, func.count())
        .where(Call.campaign_id == campaign_id)
        .group_by(Call.operator_id, Call.outcome)
    ).all()
    per_outcome = dict.fromkeys(OUTCOME_LABELS, 0)
    per_operator: dict[int | None, dict[str, int]] = {}
    for operator_id, outcome, n in rows:
        per_outcome[outcome] = per_outcome.get(outcome, 0) + n
        line = per_operator.setdefault(operator_id, dict.fromkeys(OUTCOME_LABELS, 0))
        line[outcome] = line.get(outcome, 0) + n
    total = sum(per_outcome.values())
    done = sum(per_outcome[o] for o in FINAL)
    names = user_names(i for i in per_operator if i is not None)
    operators = sorted(
        (
            {
                "name": names.get(i, str(i)) if i is not None else _("Not called yet"),
                "counts": counts,
                "total": sum(counts.values()),
            }
            for i, counts in per_operator.items()
        ),
        key=lambda line: (line["name"] == _("Not called yet"), line["name"]),
    )
    return {
        "per_outcome": per_outcome,
        "operators": operators,
        "total": total,
        "done": done,
        "percent": round(100 * done / total) if total else 0,
    }


@bp.get("/campaigns/<int:record_id>/progress")
@require(READ)
def campaign_progress(record_id: int) -> ResponseReturnValue:
    record = record_or_404(Campaign, record_id, CAMPAIGN)
    data = progress(db_session(), record.id)
    labels = [OUTCOME_LABELS[o] for o in OUTCOME_LABELS]
    config = chart_config(
        "doughnut",
        labels,
        [{"label": _("Calls"), "data": [data["per_outcome"][o] for o in OUTCOME_LABELS]}],
    )
    return render_template(
        "sales/campaign_progress.html",
        record=record,
        data=data,
        outcomes=list(OUTCOME_LABELS.items()),
        outcome_chart=config,
        breadcrumbs=[
            (_("Call campaigns"), url_for("sales.campaigns")),
            (record.name, url_for("sales.campaign", record_id=record.id)),
            (_("Progress"), None),
        ],
    )
