"""crm_base: the company's own employees (EM-1).

The list is a :class:`core.ui.ListView` (search, department and active filters, export);
the card is a :class:`core.ui.formview.FormView` (optimistic locking on ``version``) with
the employee's contact channels beside it. Names are kept in ``full_name`` (search, sort)
and the birthday in ``birth_key`` (``MMDD``: "birthdays in the next N days" is a range
scan), both derived on every save.

An employee may be linked to one user account; the select offers only accounts no other
employee is linked to, and the unique column settles a race (the loser sees a message
next to the field, nothing saved).

Phones, e-mails and messengers are channel rows of the same form
(:mod:`addons.crm_base.contacts`), saved with the employee in one transaction.

Rights: ``crm_base.employee.*``; employees have no record scope (company staff).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.codes import format_phone
from addons.crm_base.contacts import (
    MAX_ROWS,
    ContactsFormView,
    channel_rows,
    clean_text,
    fill_channels,
    first_channel,
    more_requested,
    sync_channels,
)
from addons.crm_base.models import EMPLOYEE_SUBJECT, Employee, birth_key
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.models import User
from core.security import has_permission, require
from core.ui import BooleanFilter, ChoiceFilter, Column, ListView
from core.web import db_session

READ = "crm_base.employee.read"
CREATE = "crm_base.employee.create"
UPDATE = "crm_base.employee.update"
DELETE = "crm_base.employee.delete"
EXPORT = "crm_base.employee.export"
# The employee's own columns in the form (the contact rows are saved apart).
FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "birthday",
    "position",
    "department",
    "home_address",
    "documents",
    "active",
    "user_id",
)
LINKED_ELSEWHERE = _l("This user account is already linked to another employee.")


def _optional_id(value: Any) -> int | None:
    """A select's value as a user id; the empty choice is "no account"."""
    return None if value in (None, "") else int(value)


def _plausible_birthday(form: FlaskForm, field: DateField) -> None:
    if field.data and not date(1900, 1, 1) <= field.data <= date.today():
        raise ValidationError(_("A birthday lies between 1900 and today."))


class EmployeeForm(FlaskForm):
    last_name = StringField(
        _l("Last name"), filters=[clean_text], validators=[DataRequired(), Length(max=100)]
    )
    first_name = StringField(_l("First name"), filters=[clean_text], validators=[Length(max=100)])
    middle_name = StringField(_l("Middle name"), filters=[clean_text], validators=[Length(max=100)])
    birthday = DateField(_l("Birthday"), validators=[Optional(), _plausible_birthday])
    position = StringField(_l("Position"), filters=[clean_text], validators=[Length(max=200)])
    department = StringField(_l("Department"), filters=[clean_text], validators=[Length(max=200)])
    home_address = StringField(
        _l("Home address"), filters=[clean_text], validators=[Length(max=400)]
    )
    documents = TextAreaField(
        _l("Documents"),
        filters=[clean_text],
        validators=[Length(max=5000)],
        description=_l("Passport, tax number, employment record…"),
    )
    active = BooleanField(_l("Works here now"), default=True)
    user_id = SelectField(_l("User account"), coerce=_optional_id)
    channels = channel_rows()


def derive(record: Employee) -> None:
    """Keep ``full_name`` and ``birth_key`` in step with the fields they come from."""
    parts = (record.last_name, record.first_name, record.middle_name)
    full_name = " ".join(p for p in parts if p)[:310]
    if record.full_name != full_name:
        record.full_name = full_name
    key = birth_key(record.birthday)
    if record.birth_key != key:
        record.birth_key = key


def fill_user_choices(form: FlaskForm, record: Employee | None) -> None:
    """Accounts to link: active ones no other employee is linked to, and the current one."""
    current = record.user_id if record is not None else None
    linked = select(Employee.user_id).where(Employee.user_id.is_not(None))
    if record is not None and record.id is not None:
        linked = linked.where(Employee.id != record.id)
    allowed = User.active.is_(True) if current is None else or_(User.active, User.id == current)
    rows = db_session().execute(
        select(User.id, User.name, User.login)
        .where(allowed, User.id.not_in(linked))
        .order_by(User.name, User.login)
    )
    form.user_id.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(u.id, f"{u.name or u.login} ({u.login})") for u in rows),
    ]


# -- the list -------------------------------------------------------------------------

LinkedUser = aliased(User, name="linked_user")
# The main (else first) phone of each employee: a column of the page's one query.
FIRST_PHONE = first_channel(Employee.id, "employee_id")


def _departments() -> list[tuple[str, str]]:
    rows = db_session().scalars(
        select(Employee.department)
        .where(Employee.department != "")
        .distinct()
        .order_by(Employee.department)
    )
    return [(d, d) for d in rows]


EMPLOYEES = ListView(
    name="crm_base_employees",
    endpoint="crm_base.employees",
    model=Employee,
    title=_l("Employees"),
    columns=[
        Column(
            "full_name",
            _l("Full name"),
            Employee.full_name,
            sortable=True,
            link=lambda row: url_for("crm_base.employee", record_id=row.id),
        ),
        Column("position", _l("Position"), Employee.position),
        Column("department", _l("Department"), Employee.department, sortable=True),
        Column(
            "phone",
            _l("Phone"),
            FIRST_PHONE,
            nullable=True,
            format=lambda v: format_phone(v) if v else "",
        ),
        Column("birthday", _l("Birthday"), Employee.birthday, nullable=True),
        Column(
            "user",
            _l("User account"),
            func.coalesce(func.nullif(LinkedUser.name, ""), LinkedUser.login),
            nullable=True,
        ),
    ],
    joins=[(LinkedUser, LinkedUser.id == Employee.user_id)],
    search=[Employee.full_name],
    filters=[
        ChoiceFilter("department", _l("Department"), _departments, expr=Employee.department),
        BooleanFilter("active", _l("Works here now"), Employee.active),
    ],
    default_sort="full_name",
    export_permission=EXPORT,
    export_endpoint="crm_base.employees_export",
    empty_message=_l("No employees yet."),
    template="crm_base/employees.html",
)


@bp.get("/employees")
@require(READ)
def employees() -> ResponseReturnValue:
    return EMPLOYEES.render(can_create=has_permission(CREATE))


@bp.get("/employees/export.<fmt>")
@require(EXPORT)
def employees_export(fmt: str) -> ResponseReturnValue:
    return EMPLOYEES.export(fmt)


def _new_page(form: EmployeeForm, status: int = 200) -> ResponseReturnValue:
    crumbs = [(_("Employees"), url_for("crm_base.employees")), (_("New employee"), None)]
    body = render_template(
        "crm_base/employee_new.html", form=form, invalid=status == 400, breadcrumbs=crumbs
    )
    return body, status


@bp.route("/employees/new", methods=["GET", "POST"])
@require(CREATE)
def employee_new() -> ResponseReturnValue:
    """GET: the empty form; POST: "one more contact", or save the employee with the
    contacts in one transaction (an invalid phone saves nothing) and open the card."""
    form = EmployeeForm()
    fill_user_choices(form, None)
    if not form.is_submitted():
        fill_channels(form.channels, [])
        return _new_page(form)
    if more_requested("channels"):
        if len(form.channels.entries) < MAX_ROWS:
            form.channels.append_entry()
        return _new_page(form)
    if not form.validate():
        return _new_page(form, 400)
    db = db_session()
    record = Employee()
    for name in FIELDS:
        setattr(record, name, form[name].data)
    derive(record)
    db.add(record)
    try:
        db.flush()
        sync_channels(db, "employee_id", record.id, form.channels)
        db.commit()
    except IntegrityError:  # the account was linked by someone else just now
        db.rollback()
        fill_user_choices(form, None)
        form.user_id.errors = [str(LINKED_ELSEWHERE)]
        return _new_page(form, 400)
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.employee", record_id=record.id), 303)


# -- the card -------------------------------------------------------------------------


def _card_extras(record: Employee) -> dict[str, Any]:
    return {
        "breadcrumbs": [
            (_("Employees"), url_for("crm_base.employees")),
            (record.full_name, None),
        ]
    }


class EmployeeFormView(ContactsFormView):
    """The form view with contact rows, deriving the full name and birthday key, and
    turning a lost race for a user account into a message next to the field (not a 500)."""

    def apply(self, form: FlaskForm, record: Any) -> None:
        super().apply(form, record)
        derive(record)

    def save(self, record_id: int) -> ResponseReturnValue:
        try:
            return super().save(record_id)
        except IntegrityError:
            db_session().rollback()
            record = self.load(record_id)
            form = self.make_form(record)
            form.validate()
            form.user_id.errors = [*form.user_id.errors, str(LINKED_ELSEWHERE)]
            return self.render(record, form, status=400)


EMPLOYEE_FORM = EmployeeFormView(
    model=Employee,
    form=EmployeeForm,
    fields=FIELDS,
    channel_owner="employee_id",
    subject=EMPLOYEE_SUBJECT,
    template="crm_base/employee.html",
    endpoint="crm_base.employee",
    save_endpoint="crm_base.employee_edit",
    delete_endpoint="crm_base.employee_delete",
    index_endpoint="crm_base.employees",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: record.full_name,
    prepare=fill_user_choices,
    context=_card_extras,
)


@bp.get("/employees/<int:record_id>")
@require(READ)
def employee(record_id: int) -> ResponseReturnValue:
    """The card: the form with the contacts (disabled without the update right), history."""
    return EMPLOYEE_FORM.show(record_id)


EMPLOYEE_FORM.add_routes(bp, "/employees", update=UPDATE, delete=DELETE)


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Employees are not part of a counterparty's chronology."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """Employees add no tab to a counterparty's card."""
    return []
