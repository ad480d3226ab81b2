"""crm_base: notes on a counterparty (CL-7) — a card tab to read, add and delete them, and
their entries in the counterparty's chronology.

The helpers every card tab needs are in :mod:`addons.crm_base.tabs`; they are imported
here under their old names too, for the addons that import them from this module.

Anyone who may see the counterparty may write a note (author: the current user); a note is
deleted by its author, or by someone who may edit the counterparty.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import SUBJECT, Counterparty, Note
from addons.crm_base.tabs import (  # also imported from here by sales
    TIMELINE_LIMIT,
    counterparty_or_404,
    posted_ok,
    reaches_counterparty,
    render_tab,
    wants_fragment,  # noqa: F401
)
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.models import User
from core.security import has_permission, require
from core.ui.formview import MAX_ID
from core.ui.timeline import aware
from core.web import db_session

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
PAGE_SIZE = 50
MAX_NOTE_LENGTH = 10_000


# -- notes ----------------------------------------------------------------------------


class NoteForm(FlaskForm):
    text = TextAreaField(
        _l("Note"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=MAX_NOTE_LENGTH)],
        render_kw={"rows": 3},
    )


def _notes_page(counterparty_id: int, before: int | None) -> tuple[list[Any], int | None]:
    """One page of notes, newest first (keyset on the id), and the id to continue before."""
    stmt = (
        select(Note.id, Note.text, Note.created_at, Note.author_id, User.name, User.login)
        .outerjoin(User, User.id == Note.author_id)
        .where(Note.counterparty_id == counterparty_id)
        .order_by(Note.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if before is not None:
        stmt = stmt.where(Note.id < before)
    rows = db_session().execute(stmt).all()
    more = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return rows[:PAGE_SIZE], more


def _before() -> int | None:
    raw = request.args.get("before", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


def _show(counterparty: Counterparty, form: NoteForm | None = None, status: int = 200) -> Any:
    rows, more = _notes_page(counterparty.id, _before())
    return render_tab(
        "notes",
        counterparty,
        _("Notes"),
        status,
        notes=rows,
        older_url=(
            url_for("crm_base.notes_tab", record_id=counterparty.id, before=more) if more else ""
        ),
        form=form or NoteForm(formdata=None),
        can_update=has_permission(UPDATE),
    )


@bp.get("/counterparties/<int:record_id>/notes")
@require(READ)
def notes_tab(record_id: int) -> ResponseReturnValue:
    """The notes of a counterparty, newest first, with the form to add one."""
    return _show(counterparty_or_404(record_id))


@bp.post("/counterparties/<int:record_id>/notes")
@require(READ)
def note_add(record_id: int) -> ResponseReturnValue:
    counterparty = counterparty_or_404(record_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _show(counterparty, form, 400)
    db = db_session()
    db.add(Note(counterparty_id=counterparty.id, author_id=current_user.id, text=form.text.data))
    db.commit()
    flash(_("Note added."), "success")
    return redirect(url_for("crm_base.notes_tab", record_id=counterparty.id), 303)


@bp.post("/notes/<int:note_id>/delete")
@require(READ)
def note_delete(note_id: int) -> ResponseReturnValue:
    """Its author may delete a note; so may whoever may edit the counterparty."""
    if not 0 < note_id <= MAX_ID:
        abort(404)
    db = db_session()
    note = db.get(Note, note_id)
    if note is None:
        abort(404)
    counterparty = counterparty_or_404(note.counterparty_id)
    if note.author_id != current_user.id and not has_permission(UPDATE):
        abort(403)
    if not posted_ok():
        abort(400)
    db.delete(note)
    db.commit()
    flash(_("Note deleted."), "success")
    return redirect(url_for("crm_base.notes_tab", record_id=counterparty.id), 303)


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The counterparty's notes in its chronology, newest first, for those who may read it."""
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    rows = db_session().execute(
        select(Note.text, Note.created_at, User.name, User.login)
        .outerjoin(User, User.id == Note.author_id)
        .where(Note.counterparty_id == int(subject_id))
        .order_by(Note.created_at.desc(), Note.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    url = url_for("crm_base.notes_tab", record_id=int(subject_id))
    entries = []
    for text, created_at, name, login in rows:
        who = name or login or ""
        title = _("%(who)s wrote a note", who=who) if who else _("Note")
        entries.append(TimelineEntry(aware(created_at), "crm_base.note", title, text, url))
    return entries


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The "Notes" tab, with how many there are."""
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    count = db_session().scalar(
        select(func.count()).select_from(Note).where(Note.counterparty_id == int(subject_id))
    )
    url = url_for("crm_base.notes_tab", record_id=int(subject_id))
    return [CardTab("crm_base.notes", _("Notes"), url, order=60, count=count or None)]
