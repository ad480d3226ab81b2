"""Contact persons (CL-2, CP-1): the list, the card, creation, vCards, the counterparty tab.

A person is scoped by their own responsible manager (``crm_base.person`` / ``manager_id``)
and may work with several counterparties, each link with a role and a "main contact" flag.
Why things are done the way they are:

- **Birthdays are a range on an indexed integer.** ``birth_key`` is ``MMDD``;
  :func:`birthdays_between` turns "the next N days" into one range, or two when the days
  cross the new year, so the planner and the notifications addon can ask it of a million
  persons and get an index scan. ``full_name`` and ``birth_key`` are kept in step with the
  name parts and the birthday on every save.
- **The list is one query per page**: the counterparties' names, the main phone and
  e-mail are correlated subqueries of the page's rows, never loaded per row.
- **Links outside the user's sight stay untouched.** The form shows and edits only the
  links to counterparties the user may reach; a link someone else made to a counterparty
  the user cannot see is neither shown nor removed by saving. A counterparty is chosen by
  typing its name (suggested with its number by htmx from a ``<datalist>``) or ``#id``,
  and is looked up within the user's counterparty scope.
- **vCards** (:mod:`addons.crm_base.vcard`) of one person, of the list's current search and
  filters (``GET /crm/persons/vcard``), or of the ticked rows (a bulk action).

Routes (all on crm_base's blueprint): ``/crm/persons`` (the list, endpoint
``crm_base.persons``), ``…/export.<csv|xlsx>``, ``…/vcard``, ``…/bulk``, ``…/new``
(``?counterparty=<id>`` links the new person), ``…/<id>``, ``…/<id>/edit``,
``…/<id>/delete``, ``…/<id>/vcard``, ``…/counterparty-options`` (the datalist), and
``/crm/counterparties/<id>/persons`` (the counterparty card's "Contact persons" tab).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base import vcard
from addons.crm_base.codes import format_phone
from addons.crm_base.contacts import (
    BLANK_ROWS,
    MAX_ROWS,
    ContactsFormView,
    ExactSearchListView,
    channel_rows,
    clean_text,
    contact_match,
    exact_condition,
    fill_channels,
    first_channel,
    more_requested,
    owners_with_channel,
    sync_channels,
)
from addons.crm_base.models import (
    PERSON_SUBJECT,
    SUBJECT,
    Counterparty,
    Person,
    PersonLink,
    PersonTag,
    Tag,
    birth_key,
)
from addons.crm_base.views import bp
from core.attachments import content_disposition
from core.hooktypes import CardTab, TimelineEntry
from core.security import get_scoped_or_404, has_permission, require, scope_filter, user_choices
from core.ui import BulkAction, ChoiceFilter, Column, RelatedFilter
from core.ui.formview import MAX_ID
from core.web import db_session

READ = "crm_base.person.read"
CREATE = "crm_base.person.create"
UPDATE = "crm_base.person.update"
DELETE = "crm_base.person.delete"
EXPORT = "crm_base.person.export"
COUNTERPARTY_READ = "crm_base.counterparty.read"
#: The person's own columns the form edits (channels, links and categories are rows).
FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "birthday",
    "position",
    "manager_id",
    "address",
    "id_document",
    "notes",
)
BIRTHDAY_WINDOWS = (7, 14, 30)
TAB_LIMIT = 200
VCARD_LIMIT = 100_000
SUGGESTIONS = 20
COUNTERPARTY_REF = re.compile(r"#(\d{1,10})\)?\s*$")


# -- birthdays ----------------------------------------------------------------------------


def birthdays_between(start: date, days: int, column: Any = Person.birth_key) -> Any:
    """The condition "the birthday falls on one of the ``days`` days from ``start``
    (``start`` included)": a range on the indexed ``MMDD`` column, two ranges OR-ed when
    the days cross the new year (Dec 28 + 7 days: ``>= 1228 OR <= 103``).

    ``column`` may be another ``birth_key`` column (employees). February 29 lies between
    228 and 301, so it is found in any year whose window spans the end of February.
    """
    if days <= 0:
        return false()
    if days >= 366:
        return column.is_not(None)
    end = start + timedelta(days=days - 1)
    low, high = birth_key(start), birth_key(end)
    if end.year == start.year:
        return column.between(low, high)
    return or_(column >= low, column <= high)


def local_today() -> date:
    """Today in the user's time zone (a birthday "today" is the user's today)."""
    return to_user_timezone(datetime.now(UTC)).date()


def full_name_of(last: str, first: str, middle: str) -> str:
    return " ".join(part for part in (last, first, middle) if part)[:310]


def keep_in_step(person: Person) -> None:
    """``full_name`` and ``birth_key`` follow the name parts and the birthday (set only
    when they differ, so the audit shows no empty changes)."""
    name = full_name_of(person.last_name, person.first_name, person.middle_name)
    if person.full_name != name:
        person.full_name = name
    key = birth_key(person.birthday)
    if person.birth_key != key:
        person.birth_key = key


# -- counterparties of a person ----------------------------------------------------------------


def reachable_counterparties(ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` the user may see (empty without the right to read them)."""
    wanted = {int(i) for i in ids}
    if not wanted or not has_permission(COUNTERPARTY_READ):
        return set()
    stmt = select(Counterparty.id).where(Counterparty.id.in_(wanted))
    return set(db_session().scalars(scope_filter(stmt, SUBJECT, Counterparty.manager_id)))


def counterparty_ref(record_id: int, name: str) -> str:
    """How a counterparty is written in a link row: ``ТОВ «Ромашка» (#12)``."""
    return f"{name} (#{record_id})"


def resolve_counterparty(text: str) -> int:
    """The id of the counterparty meant by ``text`` (``… (#12)``, ``#12`` or the exact
    name), within the user's counterparty scope, or ``ValidationError`` saying why."""
    if not has_permission(COUNTERPARTY_READ):
        raise ValidationError(_("You may not read counterparties."))
    ref = COUNTERPARTY_REF.search(text)
    stmt = select(Counterparty.id)
    if ref is not None and int(ref.group(1)) <= MAX_ID:
        stmt = stmt.where(Counterparty.id == int(ref.group(1)))
    else:
        stmt = stmt.where(Counterparty.name == text)
    found = list(
        db_session().scalars(scope_filter(stmt.limit(2), SUBJECT, Counterparty.manager_id))
    )
    if not found:
        raise ValidationError(_("No counterparty “%(name)s” among those you can see.", name=text))
    if len(found) > 1:
        raise ValidationError(
            _("Several counterparties are called “%(name)s”: pick one from the list.", name=text)
        )
    return found[0]


class LinkRowForm(Form):
    """A counterparty the person works with, the role there and whether they are its main
    contact; dropped on save when empty or "remove"."""

    counterparty = StringField(_l("Counterparty"), filters=[clean_text])
    role = StringField(_l("Role"), filters=[clean_text], validators=[Length(max=100)])
    is_primary = BooleanField(_l("Main contact"))
    remove = BooleanField(_l("Remove"))

    counterparty_id: int | None = None

    @property
    def wanted(self) -> bool:
        return bool(self.counterparty.data) and not self.remove.data

    def validate_counterparty(self, field: StringField) -> None:
        if self.wanted:
            self.counterparty_id = resolve_counterparty(field.data or "")


def _optional_id(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


class PersonForm(FlaskForm):
    """A contact person: name parts, details, categories, contacts and counterparties."""

    last_name = StringField(
        _l("Last name"), filters=[clean_text], validators=[DataRequired(), Length(max=100)]
    )
    first_name = StringField(_l("First name"), filters=[clean_text], validators=[Length(max=100)])
    middle_name = StringField(_l("Middle name"), filters=[clean_text], validators=[Length(max=100)])
    birthday = DateField(_l("Birthday"), validators=[Optional()])
    position = StringField(_l("Position"), filters=[clean_text], validators=[Length(max=200)])
    manager_id = SelectField(_l("Manager"), coerce=_optional_id)
    address = StringField(_l("Postal address"), filters=[clean_text], validators=[Length(max=400)])
    id_document = StringField(
        _l("Identity document"), filters=[clean_text], validators=[Length(max=200)]
    )
    notes = TextAreaField(_l("Notes"), filters=[clean_text], render_kw={"rows": 3})
    tags = SelectMultipleField(_l("Categories"), coerce=int)
    channels = channel_rows()
    links = FieldList(
        FormField(LinkRowForm), _l("Counterparties"), min_entries=1, max_entries=MAX_ROWS
    )

    def validate_birthday(self, field: DateField) -> None:
        if field.data is not None and not date(1900, 1, 1) <= field.data <= date.today():
            raise ValidationError(_("A birthday lies between 1900 and today."))


def _prepare(form: FlaskForm, record: Person | None) -> None:
    """Managers (active users, and the current one) and categories to choose from."""
    db = db_session()
    manager_id = record.manager_id if record is not None else None
    form.manager_id.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(uid, name) for uid, name in user_choices([manager_id])),
    ]
    form.tags.choices = [
        SelectChoice(tag_id, name)
        for tag_id, name in db.execute(select(Tag.id, Tag.name).order_by(Tag.name))
    ]


def fill_links(form: FlaskForm, person_id: int | None, extra: int | None = None) -> None:
    """The person's links to counterparties the user may see, plus blank rows (the first
    of them prefilled with ``extra``, a counterparty to link a new person to)."""
    db = db_session()
    rows: list[dict[str, Any]] = []
    if person_id is not None:
        links = db.execute(
            select(PersonLink, Counterparty.name)
            .join(Counterparty, Counterparty.id == PersonLink.counterparty_id)
            .where(PersonLink.person_id == person_id)
            .order_by(PersonLink.is_primary.desc(), Counterparty.name)
        ).all()
        seen = reachable_counterparties(link.counterparty_id for link, _name in links)
        rows = [
            {
                "counterparty": counterparty_ref(link.counterparty_id, name),
                "role": link.role,
                "is_primary": link.is_primary,
            }
            for link, name in links
            if link.counterparty_id in seen
        ]
    if extra is not None and extra in reachable_counterparties([extra]):
        name = db.scalar(select(Counterparty.name).where(Counterparty.id == extra)) or ""
        rows.append({"counterparty": counterparty_ref(extra, name)})
    while form.links.entries:
        form.links.pop_entry()
    for data in rows:
        form.links.append_entry(data)
    for _n in range(max(1, BLANK_ROWS - 1)):
        form.links.append_entry()


def sync_links(db: Session, person_id: int, field: FieldList) -> bool:
    """Make the person's links to counterparties the user may see what the rows say;
    links to counterparties out of the user's sight are kept as they are."""
    wanted: dict[int, tuple[str, bool]] = {}
    for row in (entry.form for entry in field.entries):
        if row.wanted and row.counterparty_id is not None:
            wanted[row.counterparty_id] = (row.role.data or "", bool(row.is_primary.data))
    existing = {
        link.counterparty_id: link
        for link in db.scalars(select(PersonLink).where(PersonLink.person_id == person_id))
    }
    visible = reachable_counterparties(existing)
    changed = False
    for counterparty_id, link in existing.items():
        if counterparty_id in visible and counterparty_id not in wanted:
            db.delete(link)
            changed = True
    for counterparty_id, (role, primary) in wanted.items():
        link = existing.get(counterparty_id)
        if link is None:
            db.add(
                PersonLink(
                    person_id=person_id,
                    counterparty_id=counterparty_id,
                    role=role,
                    is_primary=primary,
                )
            )
            changed = True
        elif (link.role, link.is_primary) != (role, primary):
            link.role, link.is_primary = role, primary
            changed = True
    return changed


def sync_tags(db: Session, person_id: int, tag_ids: Iterable[int]) -> bool:
    """The person's categories become ``tag_ids``; ``True`` if they changed."""
    wanted = set(tag_ids or ())
    existing = {
        row.tag_id: row
        for row in db.scalars(select(PersonTag).where(PersonTag.person_id == person_id))
    }
    for tag_id in existing.keys() - wanted:
        db.delete(existing[tag_id])
    db.add_all(PersonTag(person_id=person_id, tag_id=t) for t in wanted - existing.keys())
    return wanted != existing.keys()


def tag_ids(person_id: int) -> list[int]:
    return list(
        db_session().scalars(select(PersonTag.tag_id).where(PersonTag.person_id == person_id))
    )


# -- the form view ---------------------------------------------------------------------------


@dataclass
class PersonFormView(ContactsFormView):
    """The person's card: columns (with ``full_name`` and ``birth_key`` kept in step),
    contact channels, links to counterparties and categories, saved in one transaction."""

    @property
    def row_fields(self) -> tuple[str, ...]:
        return ("channels", "links")

    def fill_rows(self, form: FlaskForm, record: Any) -> None:
        super().fill_rows(form, record)
        fill_links(form, record.id)
        form.tags.data = tag_ids(record.id)

    def save_rows(self, form: FlaskForm, record: Any) -> bool:
        db = db_session()
        changed = super().save_rows(form, record)
        changed = sync_links(db, record.id, form.links) or changed
        return sync_tags(db, record.id, form.tags.data) or changed

    def apply_columns(self, form: FlaskForm, record: Any) -> None:
        super().apply_columns(form, record)
        keep_in_step(record)


def _person_extras(record: Person) -> dict[str, Any]:
    return {
        "breadcrumbs": [
            (_("Contact persons"), url_for("crm_base.persons")),
            (record.full_name, None),
        ],
        "vcard_url": url_for("crm_base.person_vcard", record_id=record.id),
        "age": _age(record.birthday),
    }


def _age(birthday: date | None) -> int | None:
    if birthday is None:
        return None
    today = local_today()
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


PERSON_FORM = PersonFormView(
    model=Person,
    form=PersonForm,
    fields=FIELDS,
    subject=PERSON_SUBJECT,
    owner=Person.manager_id,
    template="crm_base/person.html",
    endpoint="crm_base.person",
    save_endpoint="crm_base.person_edit",
    delete_endpoint="crm_base.person_delete",
    index_endpoint="crm_base.persons",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: record.full_name,
    prepare=_prepare,
    context=_person_extras,
    channel_owner="person_id",
)


# -- the list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhereFilter(RelatedFilter):
    """A filter by a related record's id whose condition is ``where(id)`` (e.g. "works with
    this counterparty", through the link table)."""

    where: Callable[[int], Any] | None = None

    def condition(self, value: Any) -> Any:
        return self.where(value) if self.where is not None else super().condition(value)


def _works_with(counterparty_id: int) -> Any:
    links = select(PersonLink.person_id).where(PersonLink.counterparty_id == counterparty_id)
    return Person.id.in_(links)


def _tagged(value: str) -> Any:
    try:
        tag_id = int(value)
    except ValueError:
        return None
    return Person.id.in_(select(PersonTag.person_id).where(PersonTag.tag_id == tag_id))


def _tag_choices() -> list[tuple[int, str]]:
    return [tuple(row) for row in db_session().execute(select(Tag.id, Tag.name).order_by(Tag.name))]


def _birthdays(value: str) -> Any:
    return birthdays_between(local_today(), int(value))


def _whose(value: str) -> Any:
    return Person.manager_id == current_user.id if value == "mine" else None


def person_exact_match(query: str) -> Any:
    """A phone or e-mail search: the persons having that channel (index lookup)."""
    match = contact_match(query)
    if match is None:
        return None
    return exact_condition(Person.id, [owners_with_channel("person_id", *match)])


COUNTERPARTY_NAMES = (
    select(func.aggregate_strings(Counterparty.name, ", "))
    .select_from(PersonLink)
    .join(Counterparty, Counterparty.id == PersonLink.counterparty_id)
    .where(PersonLink.person_id == Person.id)
    .correlate(Person)
    .scalar_subquery()
)


def _vcard_noop(db: Session, ids: list[int]) -> int:
    return len(ids)  # never called: PersonListView.bulk answers the vCard itself


@dataclass(frozen=True)
class PersonListView(ExactSearchListView):
    """The persons list; its "vCard" bulk action answers a file instead of a redirect."""

    def bulk(self) -> Response:
        if request.form.get("action") != "vcard":
            return super().bulk()
        if not has_permission(EXPORT):
            from core.audit import record_denied

            record_denied(EXPORT)
            abort(403)
        ids = self._posted_ids(request.form.getlist("ids"))
        if not ids:
            flash(_("Tick at least one row first."), "warning")
            return redirect(self.back_url(request.form.get("back", "")))
        db = db_session()
        ordered = self.ordered(self.base_query(self.pk).where(self.pk.in_(ids)), self.parse({}))
        return vcard_response(vcard.vcards(db, list(db.scalars(ordered))), "contacts.vcf")


PERSONS = PersonListView(
    name="crm_base_persons",
    endpoint="crm_base.persons",
    model=Person,
    title=_l("Contact persons"),
    columns=[
        Column(
            "full_name",
            _l("Full name"),
            Person.full_name,
            sortable=True,
            link=lambda row: url_for("crm_base.person", record_id=row.id),
        ),
        Column("position", _l("Position"), Person.position),
        Column("counterparties", _l("Counterparties"), COUNTERPARTY_NAMES, nullable=True),
        Column(
            "phone",
            _l("Phone"),
            first_channel(Person.id, "person_id", "phone"),
            format=lambda v: format_phone(v) if v else "",
            export_format=lambda v: format_phone(v) if v else "",
            nullable=True,
            css="text-nowrap",
        ),
        Column(
            "email", _l("E-mail"), first_channel(Person.id, "person_id", "email"), nullable=True
        ),
        Column("birthday", _l("Birthday"), Person.birthday),
        Column("created", _l("Created"), Person.created_at, sortable=True),
    ],
    search=[Person.full_name],
    exact=person_exact_match,
    filters=[
        ChoiceFilter(
            "whose",
            _l("Whose"),
            [("all", _l("All I may see")), ("mine", _l("Mine"))],
            where=_whose,
            default="all",
        ),
        WhereFilter(
            "counterparty", _l("Counterparty"), PersonLink.counterparty_id, where=_works_with
        ),
        ChoiceFilter("tag", _l("Category"), _tag_choices, where=_tagged),
        ChoiceFilter(
            "birthdays",
            _l("Birthdays"),
            [(str(n), _l("in the next %(n)s days", n=n)) for n in BIRTHDAY_WINDOWS],
            where=_birthdays,
        ),
    ],
    default_sort="full_name",
    subject=PERSON_SUBJECT,
    owner=Person.manager_id,
    export_permission=EXPORT,
    export_endpoint="crm_base.persons_export",
    bulk_actions=[
        BulkAction("vcard", _l("Download vCards"), _vcard_noop, permission=EXPORT),
    ],
    bulk_endpoint="crm_base.persons_bulk",
    empty_message=_l("No contact persons yet."),
    template="crm_base/persons.html",
)


# -- vCards ---------------------------------------------------------------------------------------


def vcard_response(cards: Iterator[str], filename: str) -> Response:
    """vCards as a UTF-8 download (``text/vcard``)."""
    body = stream_with_context(card.encode("utf-8") for card in cards)
    response = Response(body, mimetype="text/vcard")
    response.headers["Content-Type"] = vcard.MIME_TYPE
    response.headers["Content-Disposition"] = content_disposition(filename, "contacts")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- routes --------------------------------------------------------------------------------------


@bp.route("/persons")
@require(READ)
def persons() -> ResponseReturnValue:
    return PERSONS.render(
        can_create=has_permission(CREATE),
        can_export=has_permission(EXPORT),
        can_save_mailing=has_permission("crm_base.mailing_list.create"),
    )


@bp.route("/persons/export.<fmt>")
@require(EXPORT)
def persons_export(fmt: str) -> ResponseReturnValue:
    return PERSONS.export(fmt)


@bp.route("/persons/vcard")
@require(EXPORT)
def persons_vcard() -> ResponseReturnValue:
    """The vCards of the list's current search and filters (the whole selection, in its
    order, up to :data:`VCARD_LIMIT` persons); audited like any export."""
    from core.audit import record

    db = db_session()
    state = PERSONS.parse(request.args)
    query = PERSONS.filtered_query(state, db.get_bind().dialect.name)
    ids = [row.id for row in db.execute(PERSONS.ordered(query, state).limit(VCARD_LIMIT))]
    record(db, "export", PERSON_SUBJECT, "", format="vcard", count=len(ids))
    db.commit()
    return vcard_response(vcard.vcards(db, ids), "contacts.vcf")


@bp.route("/persons/bulk", methods=["POST"])
@require(READ)
def persons_bulk() -> ResponseReturnValue:
    return PERSONS.bulk()


@bp.route("/persons/counterparty-options")
@require(COUNTERPARTY_READ)
def person_counterparty_options() -> ResponseReturnValue:
    """``<option>``s for the link rows' ``<datalist>``: counterparties the user may see
    whose name starts with what is typed (the field's value, whatever its name: ``q``, or
    a name ending in ``counterparty`` or ``counterparty_id``)."""
    typed = next(
        (
            v
            for k, v in request.args.items()
            if k == "q" or k.endswith(("counterparty", "counterparty_id"))
        ),
        "",
    )
    return render_template(
        "crm_base/person_counterparty_options.html",
        options=counterparty_suggestions(" ".join(typed.split())[:100]),
    )


def counterparty_suggestions(typed: str) -> list[str]:
    """Counterparties the user may see whose name starts with ``typed``, written as in a
    link row (``Name (#id)``); none for a reference already complete or without the right
    to read counterparties."""
    if not typed or COUNTERPARTY_REF.search(typed) or not has_permission(COUNTERPARTY_READ):
        return []
    from core.ui.listview import search_condition

    db = db_session()
    stmt = (
        select(Counterparty.id, Counterparty.name)
        .where(search_condition([Counterparty.name], typed, "prefix", db.get_bind().dialect.name))
        .order_by(Counterparty.name, Counterparty.id)
        .limit(SUGGESTIONS)
    )
    rows = db.execute(scope_filter(stmt, SUBJECT, Counterparty.manager_id))
    return [counterparty_ref(i, name) for i, name in rows]


def _new_form() -> PersonForm:
    form = PersonForm()
    _prepare(form, None)
    return form


@bp.route("/persons/new", methods=["GET", "POST"])
@require(CREATE)
def person_new() -> ResponseReturnValue:
    """A new contact person; ``?counterparty=<id>`` links them to that counterparty."""
    form = _new_form()
    status = 200
    if request.method == "GET":
        raw = request.args.get("counterparty", "")
        extra = int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None
        form.manager_id.data = current_user.id
        fill_channels(form.channels, [])
        fill_links(form, None, extra)
    elif more_requested("channels") or more_requested("links"):
        rows = form.channels if more_requested("channels") else form.links
        if len(rows.entries) < MAX_ROWS:
            rows.append_entry()
    elif form.validate_on_submit():
        record = _create(form)
        flash(_("Created: %(name)s.", name=record.full_name), "success")
        return redirect(url_for("crm_base.person", record_id=record.id), 303)
    else:
        status = 400
    breadcrumbs = [
        (_("Contact persons"), url_for("crm_base.persons")),
        (_("New contact person"), None),
    ]
    return (
        render_template(
            "crm_base/person_new.html",
            form=form,
            invalid=status == 400,
            breadcrumbs=breadcrumbs,
            save_url=url_for("crm_base.person_new"),
            can_update=True,
        ),
        status,
    )


def _create(form: PersonForm) -> Person:
    """The person, their channels, links and categories: one transaction."""
    db = db_session()
    record = Person(
        **{name: form[name].data for name in FIELDS},
        full_name="",
    )
    keep_in_step(record)
    db.add(record)
    db.flush()
    sync_channels(db, "person_id", record.id, form.channels)
    sync_links(db, record.id, form.links)
    sync_tags(db, record.id, form.tags.data)
    db.commit()
    return record


@bp.route("/persons/<int:record_id>")
@require(READ)
def person(record_id: int) -> ResponseReturnValue:
    return PERSON_FORM.show(record_id)


PERSON_FORM.add_routes(bp, "/persons", update=UPDATE, delete=DELETE)


@bp.route("/persons/<int:record_id>/vcard")
@require(READ)
def person_vcard(record_id: int) -> ResponseReturnValue:
    record = PERSON_FORM.load(record_id)
    return vcard_response(vcard.vcards(db_session(), [record.id]), f"{record.full_name}.vcf")


# -- the counterparty card's tab ------------------------------------------------------------------


def _linked_persons(counterparty_id: int, user: Any = None) -> Any:
    """Persons linked to the counterparty that ``user`` may see (their own scope)."""
    stmt = (
        select(
            Person.id,
            Person.full_name,
            Person.position,
            Person.birthday,
            PersonLink.role,
            PersonLink.is_primary,
            first_channel(Person.id, "person_id", "phone").label("phone"),
            first_channel(Person.id, "person_id", "email").label("email"),
        )
        .join(PersonLink, PersonLink.person_id == Person.id)
        .where(PersonLink.counterparty_id == counterparty_id)
    )
    return scope_filter(stmt, PERSON_SUBJECT, Person.manager_id, user)


@bp.route("/counterparties/<int:record_id>/persons")
@require(READ)
def counterparty_persons(record_id: int) -> ResponseReturnValue:
    """The "Contact persons" tab of a counterparty's card (a fragment; htmx loads it)."""
    if not has_permission(COUNTERPARTY_READ):
        abort(403)
    if not 0 < record_id <= MAX_ID:
        abort(404)
    counterparty = get_scoped_or_404(Counterparty, record_id, SUBJECT, Counterparty.manager_id)
    stmt = _linked_persons(counterparty.id).order_by(
        PersonLink.is_primary.desc(), Person.full_name, Person.id
    )
    rows = db_session().execute(stmt.limit(TAB_LIMIT + 1)).all()
    return render_template(
        "crm_base/person_tab.html",
        counterparty=counterparty,
        rows=rows[:TAB_LIMIT],
        more=len(rows) > TAB_LIMIT,
        format_phone=format_phone,
        can_create=has_permission(CREATE),
        today_key=birth_key(local_today()),
    )


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Contact persons add nothing to a counterparty's chronology (yet)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Contact persons" on a counterparty's card, with how many the user may see."""
    if subject != SUBJECT or not has_permission(READ, user):
        return []
    if not 0 < int(subject_id) <= MAX_ID:
        return []
    count_stmt = select(func.count()).select_from(_linked_persons(int(subject_id), user).subquery())
    count = db_session().scalar(count_stmt) or 0
    url = url_for("crm_base.counterparty_persons", record_id=subject_id)
    return [CardTab("crm_base.persons", str(_l("Contact persons")), url, order=20, count=count)]


__all__ = [
    "PERSONS",
    "PERSON_FORM",
    "birthdays_between",
    "full_name_of",
    "keep_in_step",
    "local_today",
]
