"""The form view: edit one record with optimistic locking, delete it, show its history.

An addon declares a :class:`FormView` (model, WTForm, record-scope subject, rights,
template) and writes two or three short routes that call :meth:`FormView.show`,
:meth:`FormView.save` and :meth:`FormView.delete` (see ``docs/ui.md``). The model needs an
integer ``version`` column declared as SQLAlchemy's ``version_id_col``.

Why it works the way it does:

- **Optimistic locking, not locks.** People keep a card open for minutes; a lock would
  block colleagues and go stale. The form carries the version it was loaded at. A save
  whose version is not the stored one saves *nothing* and answers 409 with the conflict:
  field by field, what is stored now against what the user typed, and who saved last.
  What the user typed is kept in the form together with the new version, so a second
  save stores it knowingly.
- **The check is also in the UPDATE.** ``version_id_col`` makes SQLAlchemy write
  ``UPDATE … WHERE id = :id AND version = :loaded``: of two saves that pass the check at
  the same moment only one matches a row; the other's flush raises ``StaleDataError``,
  which shows the same conflict page (the transaction is rolled back, nothing is saved).
- **No silent revert.** The form also carries the values it showed (``original``). On a
  conflict, a field the other person changed and this user left alone takes the stored
  value, so saving again does not undo a colleague's change the user never saw; fields
  the user did change keep what they typed.
- **Scope first, POST/redirect/GET.** Every action loads the record through
  :func:`core.security.get_scoped_or_404` (another manager's record answers 404 as if it
  did not exist); a successful save or delete flashes and redirects, so reloading the page
  never posts twice. Deletion is POST only, asks first (``data-confirm``, no inline JS),
  and takes the record's attachments along.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.exc import StaleDataError
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField
from wtforms.fields import Field

from core import attachments
from core.audit import history
from core.models import AuditEntry, User
from core.security import get_scoped_or_404, has_permission, scope_filter
from core.web import db_session

MAX_ID = 2**31 - 1  # larger ids would overflow PostgreSQL's integer: they cannot exist
LOCK_FIELDS = ("version", "original")
SKIPPED_TYPES = ("CSRFTokenField", "SubmitField")


class LockFields(FlaskForm):
    """What the form view adds to an addon's form: the version and the values shown."""

    version = HiddenField()
    original = HiddenField()


@dataclass(frozen=True)
class ConflictRow:
    """One field that differs between what is stored now and what the user typed."""

    label: str
    stored: str
    typed: str
    theirs: bool  # the other person changed this field since the form was loaded
    kept: str  # "typed" (the form keeps the user's value) or "stored" (taken over)


@dataclass(frozen=True)
class Conflict:
    """Someone saved the record after this user loaded the form."""

    rows: list[ConflictRow] = field(default_factory=list)
    by: str = ""
    at: datetime | None = None


def plain(value: Any) -> Any:
    """A value in JSON form, so the values shown and the values stored compare as equal."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(plain(v) for v in value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def display(form_field: Field) -> str:
    """A field's value as the user sees it (choice labels rather than ids)."""
    if isinstance(form_field, BooleanField):
        return _("yes") if form_field.data else _("no")
    if isinstance(form_field, SelectField | SelectMultipleField):
        data = form_field.data if isinstance(form_field.data, list) else [form_field.data]
        labels = {}
        for value, label, *_rest in form_field.iter_choices():
            try:
                labels[form_field.coerce(value)] = label
            except (TypeError, ValueError):
                labels[value] = label
        return ", ".join(str(labels.get(v, "" if v is None else v)) for v in data)
    return "" if form_field.data is None else str(form_field.data)


def is_stale(posted: Any, record: Any) -> bool:
    """Whether the version a form was loaded at (``posted``) is not the record's any more,
    or cannot be read: either way the form must not overwrite what is stored."""
    try:
        return int(posted or "") != record.version
    except ValueError:
        return True


def commit_unless_changed(db: Any, change: Callable[[], Any] | None = None) -> bool:
    """Make ``change()`` (if given), flush and commit; ``False`` (rolled back) when someone
    changed the record meanwhile: the ``UPDATE … WHERE version = :loaded`` matched no row,
    at the flush or at an autoflush inside ``change``."""
    try:
        if change is not None:
            change()
        db.flush()
        db.commit()
    except StaleDataError:
        db.rollback()
        return False
    return True


@dataclass
class FormView:
    """The edit flow of one kind of record. Declare one per model, at module level.

    ``fields`` are the form fields stored on the model under the same name (default: every
    field of the form); a field's ``data`` must be the model's value (use ``coerce`` and
    ``filters``). ``endpoint`` is the card (it takes ``record_id``); ``save_endpoint`` and
    ``delete_endpoint`` the routes calling :meth:`save` and :meth:`delete`;
    ``index_endpoint`` the list to go to after a deletion. ``prepare(form, record)`` fills
    choices;
    ``context(record)`` adds template values (a card's tabs).
    """

    model: type[Any]
    form: type[FlaskForm]
    subject: str
    template: str
    endpoint: str
    save_endpoint: str
    index_endpoint: str
    update_permission: str
    delete_permission: str | None = None
    delete_endpoint: str | None = None
    owner: InstrumentedAttribute[Any] | None = None
    fields: Sequence[str] = ()
    title: Callable[[Any], str] = str
    prepare: Callable[[FlaskForm, Any], None] | None = None
    context: Callable[[Any], Mapping[str, Any]] | None = None
    audit_subject: str = ""

    # -- forms ------------------------------------------------------------------------

    @cached_property
    def form_class(self) -> type[FlaskForm]:
        """The addon's form plus the hidden version and shown values."""
        return type(f"Locked{self.form.__name__}", (self.form, LockFields), {})

    def field_names(self, form: FlaskForm) -> list[str]:
        if self.fields:
            return list(self.fields)
        return [f.name for f in form if f.name not in LOCK_FIELDS and f.type not in SKIPPED_TYPES]

    def make_form(self, record: Any, **kwargs: Any) -> FlaskForm:
        """The form (from the request unless ``formdata=None``), its choices filled."""
        form = self.form_class(**kwargs)
        if self.prepare is not None:
            self.prepare(form, record)
        return form

    def snapshot(self, record: Any, names: Sequence[str]) -> str:
        return json.dumps({n: plain(getattr(record, n)) for n in names}, ensure_ascii=False)

    def edit_form(self, record: Any) -> FlaskForm:
        """The form filled from the stored record (never from the request)."""
        form = self.make_form(record, formdata=None, obj=record)
        form.version.data = str(record.version)
        form.original.data = self.snapshot(record, self.field_names(form))
        return form

    def apply(self, form: FlaskForm, record: Any) -> None:
        """Copy the form onto the record; only real changes, so the audit shows no noise."""
        for name in self.field_names(form):
            value = form[name].data
            if plain(getattr(record, name)) != plain(value):
                setattr(record, name, value)

    # -- loading and rendering --------------------------------------------------------

    def load(self, record_id: int) -> Any:
        """The record if the user reaches it (scope), else 404."""
        if not 0 < record_id <= MAX_ID:
            abort(404)
        return get_scoped_or_404(self.model, record_id, self.subject, self.owner)

    def reachable(self, record_id: int) -> bool:
        stmt = select(self.model.id).where(self.model.id == record_id)
        if self.owner is not None:
            stmt = scope_filter(stmt, self.subject, self.owner)
        return db_session().scalar(stmt) is not None

    def render(
        self,
        record: Any,
        form: FlaskForm | None = None,
        conflict: Conflict | None = None,
        status: int = 200,
    ) -> ResponseReturnValue:
        form = form or self.edit_form(record)
        can_delete = bool(self.delete_endpoint) and has_permission(self.delete_permission)
        values = {
            "view": self,
            "record": record,
            "form": form,
            "field_names": self.field_names(form),
            "conflict": conflict,
            "invalid": status == 400,
            "title": self.title(record),
            "changes": history(
                db_session(), self.audit_subject or self.model.__tablename__, record.id
            ),
            "can_update": has_permission(self.update_permission),
            "can_delete": can_delete,
            "save_url": url_for(self.save_endpoint, record_id=record.id),
            "delete_url": (
                url_for(self.delete_endpoint, record_id=record.id) if can_delete else ""
            ),
            "card_url": url_for(self.endpoint, record_id=record.id),
        }
        if self.context is not None:
            values.update(self.context(record))
        return render_template(self.template, **values), status

    # -- the three actions ------------------------------------------------------------

    def add_routes(self, bp: Blueprint, path: str, update: str, delete: str = "") -> None:
        """Register ``<path>/<id>/edit`` (GET shows, POST saves) and ``<path>/<id>/delete``
        on ``bp`` as the ``save_endpoint`` and ``delete_endpoint``, each behind its right:
        the routes every card with this flow needs, declared once."""
        from core.security import require

        def edit(record_id: int) -> ResponseReturnValue:
            return self.save(record_id) if request.method == "POST" else self.show(record_id)

        def remove(record_id: int) -> ResponseReturnValue:
            return self.delete(record_id)

        bp.add_url_rule(
            f"{path}/<int:record_id>/edit",
            self.save_endpoint.split(".")[-1],
            require(update)(edit),
            methods=["GET", "POST"],
        )
        if self.delete_endpoint:
            bp.add_url_rule(
                f"{path}/<int:record_id>/delete",
                self.delete_endpoint.split(".")[-1],
                require(delete)(remove),
                methods=["POST"],
            )

    def show(self, record_id: int) -> ResponseReturnValue:
        """GET: the record with its form (fields disabled without the update right)."""
        return self.render(self.load(record_id))

    def save(self, record_id: int) -> ResponseReturnValue:
        """POST: validate, check the version, save, then redirect (or say what is wrong)."""
        db = db_session()
        record = self.load(record_id)
        form = self.make_form(record)
        valid = form.validate_on_submit()
        if is_stale(form.version.data, record):
            return self._conflict(record, form)
        if not valid:
            return self.render(record, form, status=400)
        if not commit_unless_changed(db, lambda: self.apply(form, record)):
            return self._conflict(record, form)
        flash(_("Saved."), "success")
        return self.open_saved(record.id)

    def open_saved(self, record_id: int) -> ResponseReturnValue:
        """After a save or a create: the record's card, or the list when the record left
        the user's scope (handed to another manager) — the card would be a 404."""
        if not self.reachable(record_id):
            flash(_("The record is no longer among those you can see."), "info")
            return redirect(url_for(self.index_endpoint), 303)
        return redirect(url_for(self.endpoint, record_id=record_id), 303)

    def delete(self, record_id: int) -> ResponseReturnValue:
        """POST: delete the record and its attachments (the route checks the right)."""
        db = db_session()
        record = self.load(record_id)
        form = LockFields()
        if not form.validate_on_submit():
            abort(400)
        if form.version.data and is_stale(form.version.data, record):
            flash(
                _("Someone changed this record meanwhile; look at it again before deleting."),
                "warning",
            )
            return redirect(url_for(self.endpoint, record_id=record.id), 303)
        title = self.title(record)
        try:
            keys = attachments.detach_all(db, self.subject, record.id)
            db.delete(record)
            db.flush()
            db.commit()
        except (IntegrityError, StaleDataError):
            db.rollback()
            flash(
                _(
                    "%(title)s cannot be deleted: other records refer to it or it just changed.",
                    title=title,
                ),
                "danger",
            )
            return redirect(url_for(self.endpoint, record_id=record_id), 303)
        attachments.remove_files(keys)
        flash(_("Deleted: %(title)s.", title=title), "success")
        return redirect(url_for(self.index_endpoint), 303)

    # -- conflicts --------------------------------------------------------------------

    def _original(self, form: FlaskForm) -> dict[str, Any] | None:
        try:
            data = json.loads(form.original.data or "")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _conflict(self, record: Any, form: FlaskForm) -> ResponseReturnValue:
        """Nothing saved; show stored vs typed, keep the typed values, offer the new version."""
        db = db_session()
        db.rollback()  # whatever this request changed goes; the record reloads as stored
        stored = self.make_form(record, formdata=None, obj=record)
        original = self._original(form)
        rows = []
        for name in self.field_names(form):
            mine, now = form[name], stored[name]
            typed_value, stored_value = plain(mine.data), plain(now.data)
            theirs = original is not None and original.get(name) != plain(getattr(record, name))
            untouched = original is not None and original.get(name) == typed_value
            take_stored = theirs and untouched
            if typed_value != stored_value:
                rows.append(
                    ConflictRow(
                        str(mine.label.text),
                        display(now),
                        display(mine),
                        theirs,
                        "stored" if take_stored else "typed",
                    )
                )
            if take_stored:
                mine.process(None, getattr(record, name))
        form.version.data = str(record.version)
        form.original.data = self.snapshot(record, self.field_names(form))
        by, at = self._last_change(record)
        return self.render(record, form, Conflict(rows, by, at), status=409)

    def _last_change(self, record: Any) -> tuple[str, datetime | None]:
        """Who saved the record last, and when (from the audit log)."""
        db = db_session()
        row = db.execute(
            select(AuditEntry.at, User.name, User.login)
            .outerjoin(User, User.id == AuditEntry.user_id)
            .where(
                AuditEntry.subject == (self.audit_subject or self.model.__tablename__),
                AuditEntry.subject_id == str(record.id),
                AuditEntry.action.in_(("create", "update")),
            )
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first()
        if row is None:
            return "", None
        return (row.name or row.login or ""), row.at
