"""crm_base: organizations and their requisites (OR-1…OR-3).

Bank and tax details of a counterparty — or, with no counterparty, of one of the company's
own organizations, which printed documents name as the supplier. Codes are checked by
:mod:`addons.crm_base.codes` (python-stdnum): an invalid EDRPOU, RNOKPP, IBAN or VAT number
gets its message next to the field and nothing is saved.

One set of requisites per owner (a counterparty, or the company) is the default, the one
documents use: saving one as the default clears the flag on the others in the same
transaction, and the first one, or the one left after deleting the default, becomes it.
(Two saves at the same instant could still leave two defaults: readers then take the
oldest; a partial unique index would close that gap.)

The documents addon reads them through :func:`own_organization`, :func:`own_organizations`,
:func:`requisites_for` and :func:`responsible_persons` (no rights checked there: the caller
has checked its own rights on the record it prints).

Rights: ``crm_base.organization.*``; a counterparty's requisites also need its record
scope (another manager's counterparty answers 404).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import BooleanField, DateField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.codes import normalize_iban, normalize_tax_code, normalize_vat_number
from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT, Counterparty, Requisites, ResponsiblePerson
from addons.crm_base.tabs import (
    counterparty_or_404,
    posted_ok,
    reaches_counterparty,
    render_tab,
)
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.security import has_permission, require
from core.ui import Column, ListView
from core.ui.formview import MAX_ID
from core.web import db_session

READ = "crm_base.organization.read"
CREATE = "crm_base.organization.create"
UPDATE = "crm_base.organization.update"
DELETE = "crm_base.organization.delete"
# The form fields stored on the model under the same names.
FIELDS = (
    "full_name",
    "tax_code",
    "vat_payer",
    "vat_number",
    "iban",
    "bank_name",
    "legal_address",
    "director",
    "is_default",
)


def mfo(iban: str) -> str:
    """The bank's MFO code: characters 5–10 of a Ukrainian IBAN (UA, 2 check digits, MFO)."""
    return iban[4:10] if iban and iban.startswith("UA") and len(iban) >= 10 else ""


def _checked(normalize: Callable[[str], str], value: str) -> str:
    """A code normalised by :mod:`codes`, its message becoming the field's error."""
    try:
        return normalize(value)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


class RequisitesForm(FlaskForm):
    full_name = StringField(
        _l("Full legal name"), filters=[clean_text], validators=[DataRequired(), Length(max=400)]
    )
    tax_code = StringField(
        _l("EDRPOU or RNOKPP"), filters=[clean_text], validators=[DataRequired()]
    )
    vat_payer = BooleanField(_l("VAT payer"))
    vat_number = StringField(_l("VAT payer number (12 digits)"), filters=[clean_text])
    iban = StringField(_l("IBAN"), filters=[clean_text])
    bank_name = StringField(_l("Bank"), filters=[clean_text], validators=[Length(max=200)])
    legal_address = StringField(
        _l("Legal address"), filters=[clean_text], validators=[Length(max=400)]
    )
    director = StringField(_l("Director"), filters=[clean_text], validators=[Length(max=200)])
    is_default = BooleanField(_l("Default requisites"))

    def validate_tax_code(self, field: StringField) -> None:
        field.data = _checked(normalize_tax_code, field.data)

    def validate_vat_number(self, field: StringField) -> None:
        """Required for a VAT payer; a non-payer has none (the number is cleared)."""
        if not self.vat_payer.data:
            field.data = ""
        elif not field.data:
            raise ValidationError(_("A VAT payer needs its 12-digit VAT number."))
        else:
            field.data = _checked(normalize_vat_number, field.data)

    def validate_iban(self, field: StringField) -> None:
        if field.data:
            field.data = _checked(normalize_iban, field.data)


def _not_in_future(form: FlaskForm, field: DateField) -> None:
    if field.data and field.data > date.today():
        raise ValidationError(_("The date cannot be in the future."))


class ResponsibleForm(FlaskForm):
    full_name = StringField(
        _l("Full name"), filters=[clean_text], validators=[DataRequired(), Length(max=310)]
    )
    position = StringField(_l("Position"), filters=[clean_text], validators=[Length(max=200)])
    since = DateField(_l("Responsible since"), validators=[Optional(), _not_in_future])


# -- the single default ---------------------------------------------------------------


def _siblings(counterparty_id: int | None) -> Any:
    """The condition selecting the requisites of the same owner."""
    if counterparty_id is None:
        return Requisites.counterparty_id.is_(None)
    return Requisites.counterparty_id == counterparty_id


def _keep_one_default(db: Session, record: Requisites) -> None:
    """``record`` just saved: it alone is the default if it says so; if no other one is,
    it becomes the default (through the ORM, so the audit log records each change)."""
    others = db.scalars(
        select(Requisites).where(
            _siblings(record.counterparty_id),
            Requisites.id != record.id,
            Requisites.is_default.is_(True),
        )
    ).all()
    if record.is_default:
        for other in others:
            other.is_default = False
    elif not others:
        record.is_default = True


def _promote_default(db: Session, counterparty_id: int | None) -> None:
    """After deleting the default: the oldest remaining one becomes the default."""
    stmt = select(Requisites).where(_siblings(counterparty_id)).order_by(Requisites.id)
    remaining = db.scalars(stmt).all()
    if remaining and not any(r.is_default for r in remaining):
        remaining[0].is_default = True


def _ordered(counterparty_id: int | None) -> Any:
    """The owner's requisites, the default first, then the oldest."""
    return (
        select(Requisites)
        .where(_siblings(counterparty_id))
        .order_by(Requisites.is_default.desc(), Requisites.id)
    )


# -- what the documents addon reads ---------------------------------------------------


def own_organizations(db: Session | None = None) -> list[Requisites]:
    """The company's own organizations, the default first."""
    return list((db or db_session()).scalars(_ordered(None)))


def own_organization(
    organization_id: int | None = None, *, default: bool = True, db: Session | None = None
) -> Requisites | None:
    """The own organization a document names as the supplier: the one asked for, else
    (``default=True``) the default one; ``None`` if there is none."""
    db = db or db_session()
    if organization_id is not None and 0 < organization_id <= MAX_ID:
        found = db.get(Requisites, organization_id)
        if found is not None and found.counterparty_id is None:
            return found
    return db.scalars(_ordered(None).limit(1)).first() if default else None


def requisites_for(counterparty_id: int, db: Session | None = None) -> Requisites | None:
    """A counterparty's default requisites (the oldest if none is marked), or ``None``."""
    if not 0 < counterparty_id <= MAX_ID:
        return None
    return (db or db_session()).scalars(_ordered(counterparty_id).limit(1)).first()


def responsible_persons(requisites_id: int, db: Session | None = None) -> list[ResponsiblePerson]:
    """The materially responsible persons of an organization (OR-3), longest-serving first."""
    stmt = (
        select(ResponsiblePerson)
        .where(ResponsiblePerson.requisites_id == requisites_id)
        .order_by(ResponsiblePerson.since.is_(None), ResponsiblePerson.since, ResponsiblePerson.id)
    )
    return list((db or db_session()).scalars(stmt))


def _responsible_by_requisites(ids: list[int]) -> dict[int, list[ResponsiblePerson]]:
    """Responsible persons of several requisites at once (one query, not one per row)."""
    found: dict[int, list[ResponsiblePerson]] = defaultdict(list)
    if ids:
        stmt = (
            select(ResponsiblePerson)
            .where(ResponsiblePerson.requisites_id.in_(ids))
            .order_by(ResponsiblePerson.id)
        )
        for person in db_session().scalars(stmt):
            found[person.requisites_id].append(person)
    return found


# -- loading --------------------------------------------------------------------------


def _requisites_or_404(requisites_id: int) -> tuple[Requisites, Counterparty | None]:
    """Requisites and their counterparty, if the user reaches it (own ones: no scope)."""
    if not 0 < requisites_id <= MAX_ID:
        abort(404)
    record = db_session().get(Requisites, requisites_id)
    if record is None:
        abort(404)
    owner = counterparty_or_404(record.counterparty_id) if record.counterparty_id else None
    return record, owner


def _back_url(counterparty: Counterparty | None) -> str:
    """Where the owner's requisites are listed."""
    if counterparty is None:
        return url_for("crm_base.own_organizations")
    return url_for("crm_base.requisites_tab", record_id=counterparty.id)


def _breadcrumbs(counterparty: Counterparty | None, title: str) -> list[tuple[str, str | None]]:
    if counterparty is None:
        return [(_("Own organizations"), url_for("crm_base.own_organizations")), (title, None)]
    return [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (counterparty.name, url_for("crm_base.counterparty", record_id=counterparty.id)),
        (_("Requisites"), _back_url(counterparty)),
        (title, None),
    ]


def _render_form(
    form: RequisitesForm,
    record: Requisites | None,
    counterparty: Counterparty | None,
    status: int = 200,
    responsible_form: ResponsibleForm | None = None,
) -> ResponseReturnValue:
    """The requisites page: the form (disabled without the right), the responsible persons."""
    if record is None:
        title = _("New requisites") if counterparty else _("New own organization")
        save_url = (
            url_for("crm_base.requisites_new", record_id=counterparty.id)
            if counterparty
            else url_for("crm_base.own_organization_new")
        )
        can_save = has_permission(CREATE)
    else:
        title = record.full_name
        save_url = url_for("crm_base.requisites_save", requisites_id=record.id)
        can_save = has_permission(UPDATE)
    values = {
        "form": form,
        "record": record,
        "counterparty": counterparty,
        "title": title,
        "save_url": save_url,
        "can_save": can_save,
        "can_update": has_permission(UPDATE),
        "can_delete": record is not None and has_permission(DELETE),
        "invalid": status == 400,
        "back_url": _back_url(counterparty),
        "breadcrumbs": _breadcrumbs(counterparty, title),
        "mfo": mfo,
        "responsible": responsible_persons(record.id) if record else [],
        "responsible_form": responsible_form or ResponsibleForm(formdata=None),
    }
    return render_template("crm_base/requisites_form.html", **values), status


def _create(counterparty: Counterparty | None) -> ResponseReturnValue:
    """GET: the empty form; POST: validate, save (the single default kept), show it."""
    form = RequisitesForm()
    if not form.is_submitted():
        first = db_session().scalars(_ordered(counterparty.id if counterparty else None)).first()
        form = RequisitesForm(formdata=None, is_default=first is None)
        return _render_form(form, None, counterparty)
    if not form.validate():
        return _render_form(form, None, counterparty, 400)
    db = db_session()
    record = Requisites(counterparty_id=counterparty.id if counterparty else None)
    for name in FIELDS:
        setattr(record, name, form[name].data)
    db.add(record)
    db.flush()
    _keep_one_default(db, record)
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.requisites_edit", requisites_id=record.id), 303)


# -- routes: a counterparty's requisites ----------------------------------------------


@bp.get("/counterparties/<int:record_id>/requisites")
@require(READ)
def requisites_tab(record_id: int) -> ResponseReturnValue:
    """The "Requisites" tab of a counterparty: every set, the default first."""
    counterparty = counterparty_or_404(record_id)
    rows = list(db_session().scalars(_ordered(counterparty.id)))
    return render_tab(
        "requisites",
        counterparty,
        _("Requisites"),
        rows=rows,
        responsible=_responsible_by_requisites([r.id for r in rows]),
        mfo=mfo,
        can_create=has_permission(CREATE),
    )


@bp.route("/counterparties/<int:record_id>/requisites/new", methods=["GET", "POST"])
@require(CREATE)
def requisites_new(record_id: int) -> ResponseReturnValue:
    return _create(counterparty_or_404(record_id))


# -- routes: the company's own organizations ------------------------------------------


OWN_ORGANIZATIONS = ListView(
    name="crm_base_own_organizations",
    endpoint="crm_base.own_organizations",
    model=Requisites,
    title=_l("Own organizations"),
    columns=[
        Column(
            "full_name",
            _l("Full legal name"),
            Requisites.full_name,
            sortable=True,
            link=lambda row: url_for("crm_base.requisites_edit", requisites_id=row.id),
        ),
        Column("tax_code", _l("EDRPOU or RNOKPP"), Requisites.tax_code),
        Column("vat_number", _l("VAT payer number"), Requisites.vat_number),
        Column("iban", _l("IBAN"), Requisites.iban),
        Column("bank_name", _l("Bank"), Requisites.bank_name),
        Column("is_default", _l("Default"), Requisites.is_default),
    ],
    search=[Requisites.full_name, Requisites.tax_code],
    where=lambda: Requisites.counterparty_id.is_(None),
    default_sort="full_name",
    empty_message=_l("No own organizations yet."),
    template="crm_base/organizations.html",
)


@bp.get("/own-organizations", endpoint="own_organizations")
@require(READ)
def own_organizations_page() -> ResponseReturnValue:
    """The company's own organizations (endpoint ``crm_base.own_organizations``)."""
    return OWN_ORGANIZATIONS.render(can_create=has_permission(CREATE))


@bp.route("/own-organizations/new", methods=["GET", "POST"])
@require(CREATE)
def own_organization_new() -> ResponseReturnValue:
    return _create(None)


# -- routes: one set of requisites (a counterparty's or an own organization) -----------


@bp.get("/requisites/<int:requisites_id>")
@require(READ)
def requisites_edit(requisites_id: int) -> ResponseReturnValue:
    """The requisites with their form (disabled without the update right)."""
    record, counterparty = _requisites_or_404(requisites_id)
    return _render_form(RequisitesForm(formdata=None, obj=record), record, counterparty)


@bp.post("/requisites/<int:requisites_id>")
@require(UPDATE)
def requisites_save(requisites_id: int) -> ResponseReturnValue:
    record, counterparty = _requisites_or_404(requisites_id)
    form = RequisitesForm()
    if not form.validate_on_submit():
        return _render_form(form, record, counterparty, 400)
    db = db_session()
    for name in FIELDS:
        if getattr(record, name) != form[name].data:
            setattr(record, name, form[name].data)
    _keep_one_default(db, record)
    db.commit()
    flash(_("Saved."), "success")
    return redirect(_back_url(counterparty), 303)


@bp.post("/requisites/<int:requisites_id>/delete")
@require(DELETE)
def requisites_delete(requisites_id: int) -> ResponseReturnValue:
    record, counterparty = _requisites_or_404(requisites_id)
    if not posted_ok():
        abort(400)
    db = db_session()
    title, owner_id = record.full_name, record.counterparty_id
    db.delete(record)  # its responsible persons go with it (ON DELETE CASCADE)
    db.flush()
    _promote_default(db, owner_id)
    db.commit()
    flash(_("Deleted: %(title)s.", title=title), "success")
    return redirect(_back_url(counterparty), 303)


@bp.post("/requisites/<int:requisites_id>/responsible")
@require(UPDATE)
def responsible_add(requisites_id: int) -> ResponseReturnValue:
    """Add a materially responsible person (OR-3)."""
    record, counterparty = _requisites_or_404(requisites_id)
    form = ResponsibleForm()
    if not form.validate_on_submit():
        edit = RequisitesForm(formdata=None, obj=record)
        return _render_form(edit, record, counterparty, 400, responsible_form=form)
    db = db_session()
    db.add(
        ResponsiblePerson(
            requisites_id=record.id,
            full_name=form.full_name.data,
            position=form.position.data,
            since=form.since.data,
        )
    )
    db.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.requisites_edit", requisites_id=record.id), 303)


@bp.post("/responsible/<int:person_id>/delete")
@require(UPDATE)
def responsible_delete(person_id: int) -> ResponseReturnValue:
    if not 0 < person_id <= MAX_ID:
        abort(404)
    db = db_session()
    person = db.get(ResponsiblePerson, person_id)
    if person is None:
        abort(404)
    record, _counterparty = _requisites_or_404(person.requisites_id)
    if not posted_ok():
        abort(400)
    db.delete(person)
    db.commit()
    flash(_("Deleted: %(title)s.", title=person.full_name), "success")
    return redirect(url_for("crm_base.requisites_edit", requisites_id=record.id), 303)


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Requisites tell the chronology nothing of their own (their changes are audited)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The "Requisites" tab, for those who may read organizations and reach the record."""
    if (
        subject != SUBJECT
        or not has_permission(READ, user)
        or not reaches_counterparty(subject_id, user)
    ):
        return []
    count = db_session().scalar(
        select(func.count())
        .select_from(Requisites)
        .where(Requisites.counterparty_id == int(subject_id))
    )
    url = url_for("crm_base.requisites_tab", record_id=int(subject_id))
    return [CardTab("crm_base.requisites", _("Requisites"), url, order=30, count=count or None)]
