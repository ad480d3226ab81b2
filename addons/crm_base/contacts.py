"""Contact channels and addresses edited inside a record's own form (CL-1, CP-1, EM-1).

Counterparties, contact persons and employees all keep their phones, e-mails, messengers
and web addresses in ``crm_base_channel`` (one owner column each), and counterparties their
addresses in ``crm_base_address``. This module is the one place that edits those rows, so
the three forms behave alike. Its API, kept small on purpose:

- :func:`channel_rows` / :func:`address_rows`: the form fields (a list of row sub-forms).
  Each row carries the id of the stored row it shows (hidden), so a save updates, adds and
  deletes exactly what changed (the audit log stays readable); an id that is not one of
  this owner's rows is treated as a new row, never as a way to reach someone else's.
- :class:`ContactsFormView`: a :class:`~core.ui.formview.FormView` that fills the rows from
  the database, saves them in the record's own transaction (a bad phone saves nothing at
  all) and bumps the record's version when only its rows changed, so a colleague's open
  form sees the conflict. "One more row" is a submit button (``more_channels`` /
  ``more_addresses``) that re-renders the form with a blank row added: no JavaScript.
- :func:`fill_channels`, :func:`sync_channels`, :func:`sync_addresses`: the same steps
  for a create page that has no ``FormView`` (the record is new).
- :func:`contact_match` and :func:`owners_with_channel`: "the query is a phone / an
  e-mail" and "owners of that channel", for list searches answered from the
  ``(kind, value)`` index; :class:`ExactSearchListView` plugs such a search into a list.
- :func:`first_channel`: a list column with an owner's first phone (or e-mail).

Templates: ``crm_base/_channels.html`` and ``crm_base/_addresses.html`` (one macro each).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from flask import request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, select, union, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from addons.crm_base.codes import format_phone, normalize_channel, normalize_email, normalize_phone
from addons.crm_base.models import ADDRESS_KINDS, CHANNEL_KINDS, Address, Channel
from core.ui import ListView
from core.ui.formview import FormView
from core.ui.text import clean_text as core_clean_text
from core.web import db_session

#: Blank rows offered under the stored ones; "one more row" adds to them.
BLANK_ROWS = 2
#: A form never takes more rows than this (a hand-made POST cannot make thousands).
MAX_ROWS = 50
OWNER_KEYS = ("counterparty_id", "person_id", "employee_id")

CHANNEL_LABELS: dict[str, Any] = {
    "phone": _l("Phone"),
    "email": _l("E-mail"),
    "telegram": "Telegram",
    "viber": "Viber",
    "whatsapp": "WhatsApp",
    "signal": "Signal",
    "skype": "Skype",
    "web": _l("Web"),
}
ADDRESS_LABELS: dict[str, Any] = {
    "legal": _l("Legal address"),
    "actual": _l("Actual address"),
    "delivery": _l("Delivery address"),
}
PHONE_LIKE = re.compile(r"^\+?[\d\s().\-]{7,25}$")


def clean_text(value: Any) -> Any:
    """:func:`core.ui.text.clean_text`, and a text field left out of the POST is empty
    text, as crm_base's text columns are NOT NULL."""
    return "" if value is None else core_clean_text(value)


def _row_id(value: Any) -> int | None:
    """The hidden id of a row: an integer, or nothing (a new row) for anything else."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def normalize_website(value: str) -> str:
    """A web address as stored: ``https://`` added when no scheme is typed; an http(s)
    address with a host name that has a dot, or ``ValueError``."""
    text = clean_text(value or "")
    if not text:
        return ""
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or "." not in host or " " in text:
        raise ValueError(_("%(value)s is not a web address.", value=value))
    return text[:255]


# -- row forms ----------------------------------------------------------------------------


class ChannelRowForm(Form):
    """One phone, e-mail, messenger or web address. A row left empty (or ticked "remove")
    is dropped on save; a filled one is checked and normalised by its kind."""

    id = HiddenField(filters=[_row_id])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(k, CHANNEL_LABELS[k]) for k in CHANNEL_KINDS],
        default="phone",
        validate_choice=False,  # checked with the value: a blank row needs no kind
    )
    value = StringField(_l("Contact"), filters=[clean_text], validators=[Length(max=254)])
    label = StringField(_l("Note"), filters=[clean_text], validators=[Length(max=50)])
    is_primary = BooleanField(_l("Main"))
    remove = BooleanField(_l("Remove"))

    normalized: str = ""

    @property
    def wanted(self) -> bool:
        return bool(self.value.data) and not self.remove.data

    def validate_value(self, field: StringField) -> None:
        if not self.wanted:
            return
        if self.kind.data not in CHANNEL_KINDS:
            raise ValidationError(_("Choose what kind of contact this is."))
        try:
            self.normalized = normalize_channel(self.kind.data, field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class AddressRowForm(Form):
    """One legal, actual or delivery address; dropped on save when empty or "remove"."""

    id = HiddenField(filters=[_row_id])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(k, ADDRESS_LABELS[k]) for k in ADDRESS_KINDS],
        default="actual",
        validate_choice=False,
    )
    postal_code = StringField(_l("Postal code"), filters=[clean_text], validators=[Length(max=10)])
    region = StringField(_l("Region"), filters=[clean_text], validators=[Length(max=100)])
    city = StringField(_l("City"), filters=[clean_text], validators=[Length(max=100)])
    line = StringField(
        _l("Street, building, office"), filters=[clean_text], validators=[Length(max=300)]
    )
    remove = BooleanField(_l("Remove"))

    @property
    def wanted(self) -> bool:
        filled = any(f.data for f in (self.postal_code, self.region, self.city, self.line))
        return filled and not self.remove.data

    def validate_line(self, field: StringField) -> None:
        if self.wanted and self.kind.data not in ADDRESS_KINDS:
            raise ValidationError(_("Choose what kind of address this is."))
        if self.wanted and not (self.city.data or field.data):
            raise ValidationError(_("Give at least the city or the street."))


def channel_rows(label: Any = None) -> FieldList:
    """The form field of a record's contact channels (``form.channels``)."""
    return FieldList(
        FormField(ChannelRowForm), label or _l("Contacts"), min_entries=1, max_entries=MAX_ROWS
    )


def address_rows(label: Any = None) -> FieldList:
    """The form field of a counterparty's addresses (``form.addresses``)."""
    return FieldList(
        FormField(AddressRowForm), label or _l("Addresses"), min_entries=1, max_entries=MAX_ROWS
    )


def _fill(field: FieldList, rows: Iterable[dict[str, Any]], blank: int = BLANK_ROWS) -> None:
    while field.entries:
        field.pop_entry()
    for data in rows:
        field.append_entry(data)
    for _n in range(blank):
        field.append_entry()


# -- the stored rows --------------------------------------------------------------------


def _owner(owner_key: str) -> Any:
    if owner_key not in OWNER_KEYS:
        raise ValueError(f"unknown channel owner {owner_key!r}")
    return getattr(Channel, owner_key)


def load_channels(db: Session, owner_key: str, owner_id: int) -> list[Channel]:
    """The owner's channels in the order they are shown: by kind, main first."""
    order = {k: n for n, k in enumerate(CHANNEL_KINDS)}
    rows = db.scalars(select(Channel).where(_owner(owner_key) == owner_id).order_by(Channel.id))
    return sorted(rows, key=lambda c: (order.get(c.kind, 99), not c.is_primary, c.id))


def load_addresses(db: Session, counterparty_id: int) -> list[Address]:
    order = {k: n for n, k in enumerate(ADDRESS_KINDS)}
    rows = db.scalars(
        select(Address).where(Address.counterparty_id == counterparty_id).order_by(Address.id)
    )
    return sorted(rows, key=lambda a: (order.get(a.kind, 99), a.id))


def shown_value(channel: Channel) -> str:
    """A channel's value as people read it (phones as ``+380 44 123 4567``)."""
    return format_phone(channel.value) if channel.kind == "phone" else channel.value


def fill_channels(field: FieldList, channels: Iterable[Channel], blank: int = BLANK_ROWS) -> None:
    """Show ``channels`` in the form, plus ``blank`` empty rows."""
    rows = (
        {
            "id": c.id,
            "kind": c.kind,
            "value": shown_value(c),
            "label": c.label,
            "is_primary": c.is_primary,
        }
        for c in channels
    )
    _fill(field, rows, blank)


def fill_addresses(field: FieldList, addresses: Iterable[Address], blank: int = BLANK_ROWS) -> None:
    columns = ("id", "kind", "postal_code", "region", "city", "line")
    _fill(field, ({c: getattr(a, c) for c in columns} for a in addresses), blank)


def _set(obj: Any, values: dict[str, Any]) -> bool:
    """Set the attributes that really differ (the audit shows no empty changes)."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _sync(
    db: Session,
    existing: dict[int, Any],
    wanted: Iterable[tuple[Any, dict[str, Any]]],
    make: Callable[[], Any],
) -> bool:
    """Update the posted rows that exist, add the new ones, delete the rest."""
    changed, kept = False, set()
    for row_id, values in wanted:
        obj = existing.get(row_id) if row_id not in kept else None
        if obj is None:
            obj = make()
            db.add(obj)
            changed = True
        else:
            kept.add(row_id)
        changed = _set(obj, values) or changed
    for row_id, obj in existing.items():
        if row_id not in kept:
            db.delete(obj)
            changed = True
    return changed


def sync_channels(db: Session, owner_key: str, owner_id: int, field: FieldList) -> bool:
    """Make the owner's stored channels what the (validated) rows say; ``True`` if anything
    changed. Runs in the caller's transaction: the caller commits."""
    existing = {c.id: c for c in db.scalars(select(Channel).where(_owner(owner_key) == owner_id))}
    wanted = [
        (
            row.id.data,
            {
                "kind": row.kind.data,
                "value": row.normalized,
                "label": row.label.data or "",
                "is_primary": bool(row.is_primary.data),
            },
        )
        for row in (entry.form for entry in field.entries)
        if row.wanted
    ]
    return _sync(db, existing, wanted, lambda: Channel(**{owner_key: owner_id}))


def sync_addresses(db: Session, counterparty_id: int, field: FieldList) -> bool:
    """Like :func:`sync_channels`, for a counterparty's addresses."""
    existing = {
        a.id: a
        for a in db.scalars(select(Address).where(Address.counterparty_id == counterparty_id))
    }
    columns = ("kind", "postal_code", "region", "city", "line")
    wanted = [
        (row.id.data, {c: getattr(row, c).data or "" for c in columns})
        for row in (entry.form for entry in field.entries)
        if row.wanted
    ]
    return _sync(db, existing, wanted, lambda: Address(counterparty_id=counterparty_id))


def bump_version(db: Session, record: Any) -> None:
    """Count a change of the record's rows (channels, addresses, links) as a change of the
    record, so a form opened before it meets a conflict instead of undoing it. Call it
    only when the record's own columns did not change (then the ORM's UPDATE bumps it)."""
    table = type(record).__table__
    done = db.execute(
        update(table)
        .where(table.c.id == record.id, table.c.version == record.version)
        .values(version=record.version + 1)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleDataError(f"{table.name} {record.id} changed meanwhile")
    set_committed_value(record, "version", record.version + 1)


def more_requested(field_name: str) -> bool:
    """Whether the user pressed "one more row" of ``field_name`` (``more_<field_name>``)."""
    return f"more_{field_name}" in request.form


# -- the form view --------------------------------------------------------------------------


@dataclass
class ContactsFormView(FormView):
    """A form view whose form also has ``channels`` (and, for counterparties,
    ``addresses``) rows, saved with the record in one transaction.

    ``channel_owner`` is the owner column of the channels (``counterparty_id``,
    ``person_id`` or ``employee_id``); ``with_addresses`` adds the address rows. Declare
    ``fields`` (the record's own columns): the rows are not columns. Subclasses that keep
    more rows of their own (a person's links) override :meth:`fill_rows`,
    :meth:`save_rows` and :attr:`row_fields`; columns derived from others (a person's
    full name) are set in :meth:`apply_columns`; each calling ``super()``.
    """

    channel_owner: str = "counterparty_id"
    with_addresses: bool = False

    @property
    def row_fields(self) -> tuple[str, ...]:
        return ("channels", "addresses") if self.with_addresses else ("channels",)

    def fill_rows(self, form: FlaskForm, record: Any) -> None:
        """Show the record's stored rows in a form that was not posted."""
        db = db_session()
        fill_channels(form.channels, load_channels(db, self.channel_owner, record.id))
        if self.with_addresses:
            fill_addresses(form.addresses, load_addresses(db, record.id))

    def save_rows(self, form: FlaskForm, record: Any) -> bool:
        """Store the posted rows; ``True`` if any changed."""
        db = db_session()
        changed = sync_channels(db, self.channel_owner, record.id, form.channels)
        if self.with_addresses:
            changed = sync_addresses(db, record.id, form.addresses) or changed
        return changed

    def edit_form(self, record: Any) -> FlaskForm:
        form = super().edit_form(record)
        self.fill_rows(form, record)
        return form

    def apply_columns(self, form: FlaskForm, record: Any) -> None:
        """Copy the form onto the record's own columns (the form view's ``apply``)."""
        super().apply(form, record)

    def apply(self, form: FlaskForm, record: Any) -> None:
        self.apply_columns(form, record)
        db = db_session()
        own_change = db.is_modified(record, include_collections=False)
        if self.save_rows(form, record) and not own_change:
            bump_version(db, record)

    def save(self, record_id: int) -> ResponseReturnValue:
        """POST: "one more row" re-renders the posted form with a blank row (nothing is
        saved or checked); anything else is the form view's save."""
        for name in self.row_fields:
            if more_requested(name):
                record = self.load(record_id)
                form = self.make_form(record)
                rows = getattr(form, name)
                if len(rows.entries) < MAX_ROWS:
                    rows.append_entry()
                return self.render(record, form)
        return super().save(record_id)


# -- search -----------------------------------------------------------------------------------


def contact_match(query: str) -> tuple[str, str] | None:
    """``("email", address)`` when ``query`` is an e-mail address, ``("phone", e164)`` when
    it is a phone number, else ``None`` (then it is a name to search for)."""
    text = (query or "").strip()
    if "@" in text and " " not in text:
        try:
            return "email", normalize_email(text)
        except ValueError:
            return None
    if PHONE_LIKE.match(text) and sum(ch.isdigit() for ch in text) >= 9:
        try:
            return "phone", normalize_phone(text)
        except ValueError:
            return None
    return None


def owners_with_channel(owner_key: str, kind: str, value: str) -> Select[Any]:
    """The ids of the owners having this exact channel (the ``(kind, value)`` index)."""
    owner = _owner(owner_key)
    return select(owner).where(Channel.kind == kind, Channel.value == value, owner.is_not(None))


def first_channel(owner: Any, owner_key: str, kind: str = "phone") -> Any:
    """A list column: the owner's main (else first) channel of ``kind``, as a correlated
    subquery, so the page stays one query."""
    column = _owner(owner_key)
    return (
        select(Channel.value)
        .where(column == owner, Channel.kind == kind)
        .order_by(Channel.is_primary.desc(), Channel.id)
        .limit(1)
        .correlate_except(Channel)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class ExactSearchListView(ListView):
    """A list whose search box also takes exact keys: ``exact(query)`` returns a condition
    (say, "the id is among the owners of this phone") or ``None`` for an ordinary text
    search. An exact key replaces the text search rather than joining it with OR, so both
    databases answer it from an index at any size."""

    exact: Callable[[str], Any] | None = None

    def filtered_query(self, state: Any, dialect: str = "") -> Select[Any]:
        condition = self.exact(state.query) if (self.exact and state.query) else None
        if condition is None:
            return super().filtered_query(state, dialect)
        return super().filtered_query(replace(state, query=""), dialect).where(condition)


def exact_condition(key: Any, parts: Sequence[Select[Any]]) -> Any:
    """``key IN (part UNION part …)``, or ``None`` when there are no parts."""
    if not parts:
        return None
    return key.in_(parts[0] if len(parts) == 1 else union(*parts))
