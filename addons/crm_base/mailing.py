"""crm_base: mailing lists (CL-8) — a saved filter of the counterparty list or of the
contact person list, for the delivery and notifications addons.

Why it is built this way:

- **A list is its filter, not a copy of rows.** ``MailingList.query`` is the list view's
  query string (search and filters; sort, page size and cursor dropped), normalised by the
  list view itself, so a saved list means exactly what the list page showed. Members are
  worked out when asked for, through the same :class:`~core.ui.listview.ListView` query,
  so a counterparty added tomorrow that matches the filter is a member tomorrow.
- **Members within the viewer's scope.** The query is re-run as the user asking (their
  record scope, and "mine" meaning them), whoever saved the list: a list never shows a
  record its viewer could not open. :func:`mailing_list_members` does the same for the
  user another addon names (a background sender runs it as the list's owner, say).
- **At any size.** Members are read in keyset batches by id with their e-mails batch-
  loaded (one query each per batch), never a whole list in memory.

Routes on crm_base's blueprint: ``/crm/mailing-lists`` (the lists), ``…/new`` (save a
filter; the list pages link here), ``…/<id>`` (members, rename, delete).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import (
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import Channel, Counterparty, MailingList, Person
from addons.crm_base.tabs import posted_ok
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.models import User
from core.security import has_permission, require
from core.ui import Column, ListView
from core.ui.formview import MAX_ID
from core.web import db_session

READ = "crm_base.mailing_list.read"
CREATE = "crm_base.mailing_list.create"
UPDATE = "crm_base.mailing_list.update"
DELETE = "crm_base.mailing_list.delete"
BATCH = 1000
PAGE_SIZE = 50
PREVIEW = 10
MAX_QUERY = 2000
DROPPED = frozenset({"sort", "per_page", "cursor"})  # how a list is shown, not who is in it


@dataclass(frozen=True)
class Source:
    """A list page whose filter can be saved: its view, who may read its records, the
    column naming a member and the channel column pointing at a member."""

    subject: str
    label: Any
    read: str
    # (module, name) of its ListView, or of a function building it (lists whose filters
    # depend on data, like additional attributes, are built per request): looked up when
    # needed, as those modules import this one's blueprint.
    view_path: tuple[str, str]
    endpoint: str  # the list page
    model: Any
    name: Any
    channel_owner: Any

    @property
    def view(self) -> ListView:
        """The list as its page shows it now (build it once per use)."""
        import importlib

        module, attribute = self.view_path
        found = getattr(importlib.import_module(module), attribute)
        return found if isinstance(found, ListView) else found()


SOURCES = {
    "counterparty": Source(
        "counterparty",
        _l("Counterparties"),
        "crm_base.counterparty.read",
        ("addons.crm_base.views", "counterparty_list"),
        "crm_base.counterparties",
        Counterparty,
        Counterparty.name,
        Channel.counterparty_id,
    ),
    "person": Source(
        "person",
        _l("Contact persons"),
        "crm_base.person.read",
        ("addons.crm_base.persons", "PERSONS"),
        "crm_base.persons",
        Person,
        Person.full_name,
        Channel.person_id,
    ),
}


# -- the saved filter -----------------------------------------------------------------


def _args(query: str) -> MultiDict[str, str]:
    pairs = parse_qsl((query or "").lstrip("?")[:MAX_QUERY], keep_blank_values=False)
    return MultiDict([(k, v) for k, v in pairs if k not in DROPPED])


def normalize_query(source: Source, query: str) -> str:
    """The list view's own reading of ``query`` (unknown or bad values fall away), without
    what only changes how the list is shown."""
    state = source.view.parse(_args(query))
    return urlencode(sorted((k, v) for k, v in state.args.items() if k not in DROPPED))


def describe(source: Source, query: str) -> list[tuple[str, str]]:
    """(label, value) of what the filter asks, for people to read."""
    view = source.view
    args = _args(query)
    found: list[tuple[str, str]] = []
    if args.get("q"):
        how = _("starts with") if args.get("match") == "prefix" else _("contains")
        found.append((_("Search"), f"{how} “{args['q']}”"))
    for flt in view.filters:
        value = args.get(flt.key, "")
        if flt.kind == "date_range":
            start, end = args.get(f"{flt.key}_from", ""), args.get(f"{flt.key}_to", "")
            value = f"{start or '…'} – {end or '…'}" if start or end else ""
        elif value and hasattr(flt, "options"):
            value = str(dict(flt.options()).get(value, value))
        if value:
            found.append((str(flt.label), value))
    return found


@contextlib.contextmanager
def acting_as(user: Any) -> Iterator[None]:
    """Build queries as ``user``: their scope, and "mine" meaning them. Inside a request of
    that very user nothing changes; otherwise a throw-away request context is signed in
    as them (their rights are worked out afresh for it)."""
    if (
        has_request_context()
        and getattr(current_user, "is_authenticated", False)
        and current_user.id == user.id
    ):
        yield
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.app_context(), app.test_request_context("/"):
        login_user(user)
        yield


def member_statement(source: Source, query: str, user: Any, dialect: str) -> Select[Any]:
    """``(id, name)`` of the members: the list view's query for ``query``, as ``user``."""
    view = source.view
    with acting_as(user):
        state = view.parse(_args(query))
        stmt = view.filtered_query(state, dialect)
    return stmt.with_only_columns(source.model.id.label("id"), source.name.label("name"))


def _emails(session: Session, source: Source, ids: list[int]) -> dict[int, list[str]]:
    """E-mails of a batch of members, the main one first (one query)."""
    owner = source.channel_owner
    rows = session.execute(
        select(owner, Channel.value)
        .where(owner.in_(ids), Channel.kind == "email")
        .order_by(owner, Channel.is_primary.desc(), Channel.id)
    )
    found: dict[int, list[str]] = {}
    for owner_id, value in rows:
        found.setdefault(owner_id, []).append(value)
    return found


def iterate_members(
    session: Session, source: Source, stmt: Select[Any], after: int = 0, limit: int | None = None
) -> Iterator[tuple[int, str, list[str]]]:
    """``(id, name, e-mails)`` in id order after ``after``, in keyset batches."""
    pk = source.model.id
    left = limit
    while left is None or left > 0:
        size = BATCH if left is None else min(BATCH, left)
        rows = session.execute(stmt.where(pk > after).order_by(pk).limit(size)).all()
        if not rows:
            return
        emails = _emails(session, source, [r.id for r in rows])
        for row in rows:
            yield row.id, row.name, emails.get(row.id, [])
        after = rows[-1].id
        if left is not None:
            left -= len(rows)
        if len(rows) < size:
            return


def mailing_list_members(
    session: Session, list_id: int, user: Any
) -> Iterator[tuple[int, str, list[str]]]:
    """The members of mailing list ``list_id`` as ``user`` may see them: ``(record id,
    name, e-mails)``, e-mails main first (empty if none). Nothing if the list does not
    exist or ``user`` may not read the mailing lists or the records.

    For the delivery and notifications addons; call it inside the app context."""
    row = session.get(MailingList, list_id) if 0 < int(list_id) <= MAX_ID else None
    source = SOURCES.get(row.subject) if row is not None else None
    if source is None or not (has_permission(READ, user) and has_permission(source.read, user)):
        return iter(())
    stmt = member_statement(source, row.query, user, session.get_bind().dialect.name)
    return iterate_members(session, source, stmt)


# -- pages ----------------------------------------------------------------------------

Owner = aliased(User, name="owner")


def _subject_label(value: Any) -> str:
    source = SOURCES.get(value)
    return str(source.label) if source else str(value)


MAILING_LISTS = ListView(
    name="crm_base_mailing_lists",
    endpoint="crm_base.mailing_lists",
    model=MailingList,
    title=_l("Mailing lists"),
    columns=[
        Column(
            "name",
            _l("Name"),
            MailingList.name,
            sortable=True,
            link=lambda row: url_for("crm_base.mailing_list", list_id=row.id),
        ),
        Column("subject", _l("Of"), MailingList.subject, format=_subject_label),
        Column(
            "owner",
            _l("Saved by"),
            func.coalesce(func.nullif(Owner.name, ""), Owner.login),
            nullable=True,
        ),
        Column("created", _l("Saved"), MailingList.created_at, sortable=True),
    ],
    joins=[(Owner, Owner.id == MailingList.owner_id)],
    search=[MailingList.name],
    default_sort="name",
    empty_message=_l("No mailing lists yet."),
    template="crm_base/mailing_lists.html",
)


class MailingListForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    subject = HiddenField()
    query = HiddenField()


class RenameForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )


def _source_or_404(subject: str) -> Source:
    source = SOURCES.get(subject or "")
    if source is None:
        abort(404)
    if not has_permission(source.read):
        abort(403)
    return source


def _list_or_404(list_id: int) -> tuple[MailingList, Source]:
    row = db_session().get(MailingList, list_id) if 0 < list_id <= MAX_ID else None
    if row is None:
        abort(404)
    return row, _source_or_404(row.subject)


def _query_from_request(source: Source) -> str:
    """The filter to save: the page the user came from, when it is that list (after htmx
    changed its filters, only the browser's address has them), else the link's own."""
    referrer = urlsplit(request.referrer or "")
    list_path = url_for(source.endpoint)
    if referrer.path == list_path and referrer.netloc in ("", request.host):
        return referrer.query
    return request.args.get("query", "")


@bp.get("/mailing-lists")
@require(READ)
def mailing_lists() -> ResponseReturnValue:
    return MAILING_LISTS.render(can_create=has_permission(CREATE))


def _preview(source: Source, query: str) -> list[tuple[int, str, list[str]]]:
    db = db_session()
    stmt = member_statement(source, query, current_user, db.get_bind().dialect.name)
    return list(iterate_members(db, source, stmt, limit=PREVIEW))


@bp.route("/mailing-lists/new", methods=["GET", "POST"])
@require(CREATE)
def mailing_list_new() -> ResponseReturnValue:
    """Save the filter of the counterparty or person list as a mailing list."""
    form = MailingListForm()
    subject = form.subject.data if request.method == "POST" else request.args.get("subject", "")
    source = _source_or_404(subject)
    if request.method == "GET":
        form.subject.data = source.subject
        form.query.data = normalize_query(source, _query_from_request(source))
    query = normalize_query(source, form.query.data or "")
    if form.validate_on_submit():
        row = MailingList(
            name=form.name.data, subject=source.subject, query=query, owner_id=current_user.id
        )
        db = db_session()
        db.add(row)
        db.commit()
        flash(_("Mailing list saved."), "success")
        return redirect(url_for("crm_base.mailing_list", list_id=row.id), 303)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "crm_base/mailing_new.html",
        form=form,
        source=source,
        filters=describe(source, query),
        members=_preview(source, query),
        list_url=_list_url(source, query),
        breadcrumbs=[(_("Mailing lists"), url_for("crm_base.mailing_lists")), (_("New"), None)],
    ), status


def _list_url(source: Source, query: str) -> str:
    base = url_for(source.endpoint)
    return f"{base}?{query}" if query else base


def _after() -> int:
    raw = request.args.get("after", "")
    return int(raw) if raw.isdigit() and int(raw) <= MAX_ID else 0


@bp.get("/mailing-lists/<int:list_id>")
@require(READ)
def mailing_list(list_id: int) -> ResponseReturnValue:
    """A mailing list's members as the viewer may see them, a page at a time."""
    row, source = _list_or_404(list_id)
    db = db_session()
    stmt = member_statement(source, row.query, current_user, db.get_bind().dialect.name)
    members = list(iterate_members(db, source, stmt, after=_after(), limit=PAGE_SIZE + 1))
    more = len(members) > PAGE_SIZE
    members = members[:PAGE_SIZE]
    return render_template(
        "crm_base/mailing_list.html",
        row=row,
        source=source,
        members=members,
        filters=describe(source, row.query),
        list_url=_list_url(source, row.query),
        next_url=(
            url_for("crm_base.mailing_list", list_id=row.id, after=members[-1][0]) if more else ""
        ),
        first_url=url_for("crm_base.mailing_list", list_id=row.id) if _after() else "",
        rename=RenameForm(formdata=None, name=row.name),
        can_update=has_permission(UPDATE),
        can_delete=has_permission(DELETE),
        member_endpoint="crm_base.counterparty"
        if source.subject == "counterparty"
        else "crm_base.person",
        breadcrumbs=[(_("Mailing lists"), url_for("crm_base.mailing_lists")), (row.name, None)],
    )


@bp.post("/mailing-lists/<int:list_id>/rename")
@require(UPDATE)
def mailing_list_rename(list_id: int) -> ResponseReturnValue:
    row, _source = _list_or_404(list_id)
    form = RenameForm()
    if not form.validate_on_submit():
        for error in form.name.errors or [
            _("The form has expired. Reload the page and try again.")
        ]:
            label = _("Name")
            flash(f"{label}: {error}" if form.name.errors else error, "danger")
        return redirect(url_for("crm_base.mailing_list", list_id=row.id), 303)
    row.name = form.name.data
    db_session().commit()
    flash(_("Mailing list renamed."), "success")
    return redirect(url_for("crm_base.mailing_list", list_id=row.id), 303)


@bp.post("/mailing-lists/<int:list_id>/delete")
@require(DELETE)
def mailing_list_delete(list_id: int) -> ResponseReturnValue:
    row, _source = _list_or_404(list_id)
    if not posted_ok():
        abort(400)
    db = db_session()
    db.delete(row)
    db.commit()
    flash(_("Mailing list deleted."), "success")
    return redirect(url_for("crm_base.mailing_lists"), 303)


# -- hooks ----------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Mailing lists say nothing about one counterparty's chronology (the delivery addon
    records what it sent)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """No card tab."""
    return []
