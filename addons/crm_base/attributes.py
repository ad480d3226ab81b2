"""crm_base: additional attributes (CL-4) — fields an admin adds to counterparties and
contact persons without code.

An :class:`~addons.crm_base.models.Attribute` defines the field (code, label, type, required,
choices, order, active); an :class:`~addons.crm_base.models.AttributeValue` holds one
record's value in the column of its type (``value_text`` for text and choices,
``value_number``, ``value_date``, ``value_bool``), each indexed with the attribute so a
filter on a value is an index seek. An empty value is no row at all.

The other areas use these functions (``subject`` is ``"counterparty"`` or ``"person"``;
the full subject names ``crm_base.counterparty`` / ``crm_base.person`` work too):

- forms: :func:`attribute_fields`, :func:`extend_form`, :func:`fill_form`,
  :func:`form_values`;
- values: :func:`load_values` (one query for a page of records), :func:`save_values`
  (validated, in the caller's transaction), :func:`parse_attribute_value`;
- lists: :func:`attribute_column`, :func:`attribute_filter`, :func:`with_attributes`
  (a copy of a ListView with a column and a filter per active attribute);
- import / export: :func:`attribute_export_columns`, :func:`export_text`,
  :func:`parse_attribute_value`.

The admin page is ``crm_base.attributes``; a card tab shows and edits a counterparty's
values (and the same route serves contact persons, see :func:`person_card_tabs`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields import Field
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import DateInput

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import (
    ATTRIBUTE_SUBJECTS,
    PERSON_SUBJECT,
    SUBJECT,
    Attribute,
    AttributeValue,
    Counterparty,
    Person,
)
from addons.crm_base.tabs import posted_ok, wants_fragment
from addons.crm_base.views import bp
from core.hooktypes import CardTab, TimelineEntry
from core.security import get_scoped_or_404, has_permission, require, scope_filter
from core.ui import Column, ListView
from core.ui.formview import MAX_ID
from core.web import db_session

DEFINE = "crm_base.attribute.update"
FIELD_PREFIX = "attr_"  # form fields, list columns and filters: attr_<code>
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_TEXT = 500  # AttributeValue.value_text
MAX_NUMBER = Decimal(10) ** 14  # Numeric(18, 4): 14 digits before the point
QUANTUM = Decimal("0.0001")
LOAD_CHUNK = 5000  # ids per IN (…): far below every database's parameter limit
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "так", "т", "+"})
FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "ні", "н", "-"})
TYPE_LABELS: dict[str, Any] = {
    "text": _l("Text"),
    "number": lazy_pgettext("attribute type", "Number"),
    "date": _l("Date"),
    "bool": _l("Yes / no"),
    "choice": _l("Choice from a list"),
}
SUBJECT_LABELS: dict[str, Any] = {
    "counterparty": _l("Counterparties"),
    "person": _l("Contact persons"),
}


class AttributeValuesError(ValueError):
    """Values that cannot be saved: ``errors`` maps an attribute's code to the message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{code}: {msg}" for code, msg in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True)
class Target:
    """What the values of one subject belong to: the model, its record scope and rights,
    and where its list and card are."""

    subject: str
    model: Any
    scope_subject: str
    read: str
    update: str
    list_endpoint: str
    card_endpoint: str
    list_label: Any


TARGETS = {
    "counterparty": Target(
        "counterparty",
        Counterparty,
        SUBJECT,
        "crm_base.counterparty.read",
        "crm_base.counterparty.update",
        "crm_base.counterparties",
        "crm_base.counterparty",
        _l("Counterparties"),
    ),
    "person": Target(
        "person",
        Person,
        PERSON_SUBJECT,
        "crm_base.person.read",
        "crm_base.person.update",
        "crm_base.persons",
        "crm_base.person",
        _l("Contact persons"),
    ),
}


def short_subject(subject: str) -> str:
    """``counterparty`` / ``person`` from either the short or the full subject name."""
    name = subject.rsplit(".", 1)[-1]
    if name not in ATTRIBUTE_SUBJECTS:
        raise ValueError(f"no additional attributes for {subject!r}")
    return name


# -- definitions ---------------------------------------------------------------------------


def attribute_fields(
    subject: str, session: Session | None = None, active_only: bool = True
) -> list[Attribute]:
    """The attributes of ``subject`` in their order (only the active ones by default)."""
    stmt = select(Attribute).where(Attribute.subject == short_subject(subject))
    if active_only:
        stmt = stmt.where(Attribute.active.is_(True))
    stmt = stmt.order_by(Attribute.sort, Attribute.label, Attribute.id)
    return list((session or db_session()).scalars(stmt))


def choice_list(attribute: Attribute) -> list[str]:
    """The choices of a "choice" attribute, one per line, blank lines dropped."""
    return [line.strip() for line in (attribute.choices or "").splitlines() if line.strip()]


def value_column(attribute_type: str) -> Any:
    """The AttributeValue column holding values of this type."""
    return {
        "text": AttributeValue.value_text,
        "choice": AttributeValue.value_text,
        "number": AttributeValue.value_number,
        "date": AttributeValue.value_date,
        "bool": AttributeValue.value_bool,
    }[attribute_type]


def _parse_number(text: str) -> Decimal:
    compact = re.sub(r"[\s\u00a0\u202f']", "", text).replace(",", ".")
    try:
        value = Decimal(compact)
    except InvalidOperation:
        raise ValueError(_("Enter a number, e.g. 1234.56.")) from None
    if not value.is_finite():
        raise ValueError(_("Enter a number, e.g. 1234.56."))
    if abs(value) >= MAX_NUMBER:
        raise ValueError(_("The number is too large."))
    if value != value.quantize(QUANTUM):
        raise ValueError(_("At most four digits after the decimal point."))
    return value


def _parse_date(text: str) -> date:
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):  # 31.12.2024, as Ukrainians write
            return datetime.strptime(text, "%d.%m.%Y").date()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(_("Enter a date as YYYY-MM-DD."))


def _parse_bool(text: str) -> bool:
    word = text.casefold()
    if word in TRUE_WORDS or word == str(_("Yes")).casefold():
        return True
    if word in FALSE_WORDS or word == str(_("No")).casefold():
        return False
    raise ValueError(_("Answer yes or no."))


def parse_attribute_value(attribute: Attribute, value: Any) -> Any:
    """The typed value of ``value`` (text from a form or a CSV cell, or an already typed
    value) for ``attribute``: ``Decimal``, ``date``, ``bool`` or ``str``; ``None`` when
    empty. Raises ``ValueError`` with a message for the user. ``required`` is not checked
    here (see :func:`save_values`)."""
    if value is None:
        return None
    kind = attribute.type
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "number" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return _parse_number(str(value))
    if kind == "date" and isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = clean_text(str(value))
    if text == "":
        return None
    if kind == "number":
        return _parse_number(text)
    if kind == "date":
        return _parse_date(text)
    if kind == "bool":
        return _parse_bool(text)
    if kind == "choice":
        choices = choice_list(attribute)
        if text in choices:
            return text
        folded = {c.casefold(): c for c in choices}
        if text.casefold() in folded:
            return folded[text.casefold()]
        raise ValueError(_("Choose one of: %(choices)s.", choices=", ".join(choices)))
    if len(text) > MAX_TEXT:
        raise ValueError(_("At most %(n)s characters.", n=MAX_TEXT))
    return text


def export_text(attribute: Attribute, value: Any) -> str:
    """A value as text for CSV that :func:`parse_attribute_value` reads back."""
    if value is None:
        return ""
    if attribute.type == "bool":
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


# -- values --------------------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), LOAD_CHUNK):
        yield ids[start : start + LOAD_CHUNK]


def load_values(
    session: Session, subject: str, record_ids: Iterable[int], active_only: bool = True
) -> dict[int, dict[str, Any]]:
    """``{record_id: {code: value}}`` for the records (every id has an entry, maybe
    empty): one query for a page of records, whatever the number of attributes."""
    ids = list(dict.fromkeys(record_ids))
    result: dict[int, dict[str, Any]] = {i: {} for i in ids}
    stmt = select(
        Attribute.code,
        Attribute.type,
        AttributeValue.record_id,
        AttributeValue.value_text,
        AttributeValue.value_number,
        AttributeValue.value_date,
        AttributeValue.value_bool,
    ).join(Attribute, Attribute.id == AttributeValue.attribute_id)
    stmt = stmt.where(Attribute.subject == short_subject(subject))
    if active_only:
        stmt = stmt.where(Attribute.active.is_(True))
    for chunk in _chunks(ids):
        for row in session.execute(stmt.where(AttributeValue.record_id.in_(chunk))):
            value = {
                "text": row.value_text,
                "choice": row.value_text,
                "number": row.value_number,
                "date": row.value_date,
                "bool": row.value_bool,
            }[row.type]
            result[row.record_id][row.code] = value
    return result


def validate_values(
    attributes: Sequence[Attribute], data: Mapping[str, Any], partial: bool = False
) -> dict[str, Any]:
    """``{code: typed value or None}`` for ``data``, or :class:`AttributeValuesError`
    with every problem at once. Without ``partial`` an attribute missing from ``data`` is
    empty (and a required one an error); with it, it is left out."""
    known = {a.code: a for a in attributes}
    errors = {code: _("Unknown attribute.") for code in data if code not in known}
    clean: dict[str, Any] = {}
    for attribute in attributes:
        if attribute.code not in data and partial:
            continue
        try:
            value = parse_attribute_value(attribute, data.get(attribute.code))
        except ValueError as error:
            errors[attribute.code] = str(error)
            continue
        if value is None and attribute.required:
            errors[attribute.code] = _("This field is required.")
            continue
        clean[attribute.code] = value
    if errors:
        raise AttributeValuesError(errors)
    return clean


def save_values(
    session: Session,
    subject: str,
    record_id: int,
    data: Mapping[str, Any],
    partial: bool = False,
) -> None:
    """Validate ``data`` (``{code: value}``) against the active attributes of ``subject``
    and store it for ``record_id``, in the caller's transaction (flushed, not committed).
    Raises :class:`AttributeValuesError` before writing anything when a value is wrong."""
    attributes = attribute_fields(subject, session)
    clean = validate_values(attributes, data, partial)
    by_code = {a.code: a for a in attributes}
    stored = {
        v.attribute_id: v
        for v in session.scalars(
            select(AttributeValue).where(
                AttributeValue.record_id == record_id,
                AttributeValue.attribute_id.in_([a.id for a in attributes]),
            )
        )
    }
    for code, value in clean.items():
        attribute = by_code[code]
        row = stored.get(attribute.id)
        if value is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = AttributeValue(attribute_id=attribute.id, record_id=record_id)
            session.add(row)
        key = value_column(attribute.type).key
        if getattr(row, key) != value:  # only real changes reach the audit log
            setattr(row, key, value)
    session.flush()


def values_in_use(session: Session, attribute_id: int) -> int:
    """How many records have a value for the attribute."""
    stmt = select(func.count()).where(AttributeValue.attribute_id == attribute_id)
    return int(session.scalar(stmt) or 0)


# -- forms for the other areas ----------------------------------------------------------------


class _Check:
    """Validates a form field with :func:`parse_attribute_value` and ``required``, so a
    form says exactly what import and :func:`save_values` would say."""

    def __init__(self, attribute: Attribute) -> None:
        self.attribute = attribute
        self.field_flags = {"required": True} if attribute.required else {}

    def __call__(self, form: FlaskForm, field: Field) -> None:
        try:
            value = parse_attribute_value(self.attribute, field.data)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        if value is None and self.attribute.required:
            raise ValidationError(_("This field is required."))


def form_field(attribute: Attribute) -> Field:
    """An unbound WTForms field for the attribute (all text-based, checked by _Check)."""
    check = [_Check(attribute)]
    label = attribute.label
    if attribute.type == "bool":
        options = [
            SelectChoice("", "—"),
            SelectChoice("yes", _l("Yes")),
            SelectChoice("no", _l("No")),
        ]
        return SelectField(label, choices=options, validators=check, validate_choice=False)
    if attribute.type == "choice":
        options = [SelectChoice("", "—"), *(SelectChoice(c, c) for c in choice_list(attribute))]
        return SelectField(label, choices=options, validators=check, validate_choice=False)
    if attribute.type == "date":
        return StringField(label, validators=check, widget=DateInput())
    if attribute.type == "number":
        return StringField(label, validators=check, render_kw={"inputmode": "decimal"})
    return StringField(label, validators=check, render_kw={"maxlength": MAX_TEXT})


def extend_form(
    form_class: type[FlaskForm], subject: str, session: Session | None = None
) -> type[FlaskForm]:
    """``form_class`` plus a field ``attr_<code>`` per active attribute of ``subject``
    (made per request: the admin may add attributes at any time). The new class carries
    ``attribute_list``, for :func:`fill_form` and :func:`form_values`."""
    attributes = attribute_fields(subject, session)
    fields = {FIELD_PREFIX + a.code: form_field(a) for a in attributes}
    fields["attribute_list"] = attributes
    return type(f"{form_class.__name__}WithAttributes", (form_class,), fields)


def field_text(attribute: Attribute, value: Any) -> str:
    """A stored value as a form field shows it."""
    if value is None:
        return ""
    if attribute.type == "bool":
        return "yes" if value else "no"
    return export_text(attribute, value)


def fill_form(form: FlaskForm, values: Mapping[str, Any]) -> None:
    """Show stored values (``load_values(...)[record_id]``) in the attribute fields."""
    for attribute in form.attribute_list:
        form[FIELD_PREFIX + attribute.code].data = field_text(attribute, values.get(attribute.code))


def form_values(form: FlaskForm) -> dict[str, Any]:
    """``{code: text}`` from a validated form, for :func:`save_values`."""
    return {a.code: form[FIELD_PREFIX + a.code].data for a in form.attribute_list}


def attribute_field_names(form: FlaskForm) -> list[str]:
    """The names of the attribute fields of an extended form (to draw them)."""
    return [FIELD_PREFIX + a.code for a in getattr(form, "attribute_list", [])]


# -- lists --------------------------------------------------------------------------------


def _value_subquery(attribute: Attribute, record_pk: Any) -> Any:
    """The record's value: a correlated subquery on the (attribute_id, record_id) primary
    key, one index lookup per row of the page and still one query for the page."""
    column = value_column(attribute.type)
    return (
        select(column)
        .where(AttributeValue.attribute_id == attribute.id, AttributeValue.record_id == record_pk)
        .scalar_subquery()
    )


def tidy_number(value: Any) -> Any:
    """A stored number without the trailing zeros of its four decimal places (``3.0000``
    exports as ``3``, ``1.5000`` as ``1.5``), still a Decimal for spreadsheets."""
    if not isinstance(value, Decimal):
        return value
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def attribute_column(attribute: Attribute, record_pk: Any) -> Column:
    """A list column showing the attribute's value (``record_pk``: e.g. Counterparty.id)."""
    number = attribute.type == "number"
    return Column(
        FIELD_PREFIX + attribute.code,
        attribute.label,
        _value_subquery(attribute, record_pk),
        nullable=True,
        export_format=tidy_number if number else None,
        css="text-end" if number else "",
    )


def _parse_bound(attribute: Attribute, raw: str) -> Any:
    try:
        return parse_attribute_value(attribute, raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class AttributeFilter:
    """A list filter on an attribute's value: equals (text, choice, yes/no) or a range
    (number, date: ``<key>_from`` / ``<key>_to``, both inclusive). The condition is
    ``record_pk IN (values of this attribute matching)``, an index range on
    (attribute_id, value_…)."""

    key: str
    label: Any
    attribute: Attribute
    record_pk: Any
    kind_by_type: ClassVar[dict[str, str]] = {
        "text": "text",
        "choice": "choice",
        "bool": "boolean",
        "number": "number_range",
        "date": "date_range",
    }

    @property
    def kind(self) -> str:
        return self.kind_by_type[self.attribute.type]

    @property
    def template(self) -> str:
        """Its own inputs where core/ui/list_filters.html has none (text, number range)."""
        if self.kind in ("text", "number_range"):
            return f"crm_base/attribute_filter_{self.kind}.html"
        return ""

    def options(self) -> list[tuple[str, Any]]:
        if self.attribute.type == "bool":
            return [("yes", _l("Yes")), ("no", _l("No"))]
        if self.attribute.type == "choice":
            return [(c, c) for c in choice_list(self.attribute)]
        return []

    @property
    def is_range(self) -> bool:
        return self.attribute.type in ("number", "date")

    def parse(self, args: Mapping[str, str]) -> tuple[Any, dict[str, str]]:
        if self.is_range:
            low = _parse_bound(self.attribute, args.get(f"{self.key}_from", "")[:40])
            high = _parse_bound(self.attribute, args.get(f"{self.key}_to", "")[:40])
            if low is None and high is None:
                return None, {}
            params = {
                f"{self.key}_from": export_text(self.attribute, low),
                f"{self.key}_to": export_text(self.attribute, high),
            }
            return (low, high), {k: v for k, v in params.items() if v}
        value = _parse_bound(self.attribute, args.get(self.key, "")[:MAX_TEXT])
        if value is None:
            return None, {}
        return value, {self.key: field_text(self.attribute, value)}

    def condition(self, value: Any) -> Any:
        column = value_column(self.attribute.type)
        parts = [AttributeValue.attribute_id == self.attribute.id]
        if self.is_range:
            low, high = value
            if low is not None:
                parts.append(column >= low)
            if high is not None:
                parts.append(column <= high)
        else:
            parts.append(column == value)
        return self.record_pk.in_(select(AttributeValue.record_id).where(*parts))


def attribute_filter(attribute: Attribute, record_pk: Any) -> AttributeFilter:
    """A list filter on the attribute (``record_pk``: e.g. Counterparty.id)."""
    return AttributeFilter(FIELD_PREFIX + attribute.code, attribute.label, attribute, record_pk)


def with_attributes(
    view: ListView,
    subject: str,
    record_pk: Any,
    columns: bool = True,
    filters: bool = True,
    session: Session | None = None,
) -> ListView:
    """A copy of ``view`` with a column and a filter per active attribute of ``subject``.

    Lists are declared at import time but attributes are defined at run time, so a list
    route calls this per request (one small query) and renders, exports or applies bulk
    actions with the copy."""
    attributes = attribute_fields(subject, session)
    if not attributes:
        return view
    changes: dict[str, Any] = {}
    if columns:
        changes["columns"] = [*view.columns, *(attribute_column(a, record_pk) for a in attributes)]
    if filters:
        changes["filters"] = [*view.filters, *(attribute_filter(a, record_pk) for a in attributes)]
    return dataclasses.replace(view, **changes)


@dataclass(frozen=True)
class ExportColumn:
    """An attribute as a column of an export or an import mapping."""

    code: str
    header: str
    attribute: Attribute

    def text(self, value: Any) -> str:
        return export_text(self.attribute, value)


def attribute_export_columns(subject: str, session: Session | None = None) -> list[ExportColumn]:
    """The active attributes of ``subject`` as export columns (header: the label); with
    :func:`load_values` for the rows and :func:`parse_attribute_value` to read them back."""
    return [ExportColumn(a.code, a.label, a) for a in attribute_fields(subject, session)]


# -- the admin page -----------------------------------------------------------------------------


def _code_check(form: FlaskForm, field: Field) -> None:
    if not CODE_PATTERN.match(field.data or ""):
        raise ValidationError(
            _("Latin small letters, digits and _, starting with a letter (at most 40).")
        )


class AttributeForm(FlaskForm):
    subject = SelectField(
        _l("For"), choices=[SelectChoice(k, v) for k, v in SUBJECT_LABELS.items()]
    )
    code = StringField(
        _l("Code"),
        filters=[clean_text, lambda v: v.lower() if isinstance(v, str) else v],
        validators=[DataRequired(), _code_check],
    )
    label = StringField(
        _l("Label"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    type = SelectField(_l("Type"), choices=[SelectChoice(k, v) for k, v in TYPE_LABELS.items()])
    required = BooleanField(_l("Required"))
    choices = TextAreaField(
        _l("Choices (one per line)"), filters=[clean_text], render_kw={"rows": 5}
    )
    sort = IntegerField(
        _l("Order"), default=0, validators=[Optional(), NumberRange(-1_000_000, 1_000_000)]
    )
    active = BooleanField(_l("Active"), default=True)


def _definition_errors(
    session: Session, form: AttributeForm, attribute: Attribute | None
) -> dict[str, str]:
    """What the form's checks cannot see: unique code, choices, and no change of type,
    subject or used choices once records have values."""
    errors: dict[str, str] = {}
    subject, code = form.subject.data, form.code.data
    taken = select(Attribute.id).where(Attribute.subject == subject, Attribute.code == code)
    if attribute is not None:
        taken = taken.where(Attribute.id != attribute.id)
    if session.scalar(taken.limit(1)) is not None:
        errors["code"] = _("This code is already used.")
    choices = [c.strip() for c in (form.choices.data or "").splitlines() if c.strip()]
    if form.type.data == "choice":
        if not choices:
            errors["choices"] = _("Give at least one choice.")
        elif len({c.casefold() for c in choices}) != len(choices):
            errors["choices"] = _("Each choice only once.")
        elif any(len(c) > MAX_TEXT for c in choices):
            errors["choices"] = _("At most %(n)s characters.", n=MAX_TEXT)
    if attribute is None or not values_in_use(session, attribute.id):
        return errors
    if form.type.data != attribute.type:
        errors["type"] = _(
            "This attribute already has values, so its type cannot change. "
            "Create a new attribute instead."
        )
    if subject != attribute.subject:
        errors["subject"] = _("This attribute already has values; it stays with its records.")
    if attribute.type == "choice" and form.type.data == "choice" and "choices" not in errors:
        removed = set(choice_list(attribute)) - set(choices)
        used = session.scalars(
            select(AttributeValue.value_text)
            .where(
                AttributeValue.attribute_id == attribute.id,
                AttributeValue.value_text.in_(removed),
            )
            .limit(1)
        ).first()
        if used is not None:
            errors["choices"] = _(
                "«%(choice)s» is in use by some records; it cannot be removed.", choice=used
            )
    return errors


def _apply(form: AttributeForm, attribute: Attribute) -> None:
    attribute.subject = form.subject.data
    attribute.code = form.code.data
    attribute.label = form.label.data
    attribute.type = form.type.data
    attribute.required = bool(form.required.data)
    choices = [c.strip() for c in (form.choices.data or "").splitlines() if c.strip()]
    attribute.choices = "\n".join(choices) if form.type.data == "choice" else ""
    attribute.sort = form.sort.data or 0
    attribute.active = bool(form.active.data)


@bp.get("/attributes")
@require(DEFINE)
def attributes() -> ResponseReturnValue:
    """The attributes of counterparties and of contact persons."""
    session = db_session()
    rows = {s: attribute_fields(s, session, active_only=False) for s in ATTRIBUTE_SUBJECTS}
    return render_template(
        "crm_base/attributes.html",
        sections=[(SUBJECT_LABELS[s], rows[s]) for s in ATTRIBUTE_SUBJECTS],
        type_labels=TYPE_LABELS,
        breadcrumbs=[(_("Additional attributes"), None)],
    )


def _attribute_or_404(attribute_id: int) -> Attribute:
    attribute = db_session().get(Attribute, attribute_id) if 0 < attribute_id <= MAX_ID else None
    if attribute is None:
        abort(404)
    return attribute


def _form_page(
    form: AttributeForm, attribute: Attribute | None, status: int = 200
) -> ResponseReturnValue:
    title = attribute.label if attribute else _("New attribute")
    in_use = values_in_use(db_session(), attribute.id) if attribute else 0
    return (
        render_template(
            "crm_base/attribute_form.html",
            form=form,
            attribute=attribute,
            title=title,
            in_use=in_use,
            breadcrumbs=[
                (_("Additional attributes"), url_for("crm_base.attributes")),
                (title, None),
            ],
        ),
        status,
    )


def _save(form: AttributeForm, attribute: Attribute | None) -> ResponseReturnValue:
    """Validate and store a definition (create when ``attribute`` is ``None``)."""
    session = db_session()
    if not form.validate_on_submit():
        return _form_page(form, attribute, 400)
    errors = _definition_errors(session, form, attribute)
    if errors:
        for name, message in errors.items():
            form[name].errors.append(message)
        return _form_page(form, attribute, 400)
    record = attribute or Attribute()
    _apply(form, record)
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # the same code saved meanwhile by someone else
        session.rollback()
        form.code.errors.append(_("This code is already used."))
        return _form_page(form, _attribute_or_404(attribute.id) if attribute else None, 400)
    flash(_("Saved."), "success")
    return redirect(url_for("crm_base.attributes"), 303)


@bp.route("/attributes/new", methods=["GET", "POST"])
@require(DEFINE)
def attribute_create() -> ResponseReturnValue:
    if request.method == "GET":
        subject = request.args.get("subject", "counterparty")
        form = AttributeForm(formdata=None)
        form.subject.data = subject if subject in ATTRIBUTE_SUBJECTS else "counterparty"
        return _form_page(form, None)
    return _save(AttributeForm(), None)


@bp.route("/attributes/<int:attribute_id>", methods=["GET", "POST"])
@require(DEFINE)
def attribute_edit(attribute_id: int) -> ResponseReturnValue:
    """Change a definition; its type (and subject) stay once records have values."""
    attribute = _attribute_or_404(attribute_id)
    if request.method == "GET":
        return _form_page(AttributeForm(formdata=None, obj=attribute), attribute)
    return _save(AttributeForm(), attribute)


@bp.post("/attributes/<int:attribute_id>/delete")
@require(DEFINE)
def attribute_delete(attribute_id: int) -> ResponseReturnValue:
    """Asked first in the browser; the values go with it (deactivating keeps them)."""
    attribute = _attribute_or_404(attribute_id)
    if not posted_ok():
        abort(400)
    session = db_session()
    label = attribute.label
    session.execute(delete(AttributeValue).where(AttributeValue.attribute_id == attribute.id))
    session.delete(attribute)
    session.commit()
    flash(_("Attribute «%(label)s» deleted.", label=label), "success")
    return redirect(url_for("crm_base.attributes"), 303)


# -- the card tab (counterparties, and contact persons) -------------------------------------


class ValuesForm(FlaskForm):
    """The base of the card tab's form; :func:`extend_form` adds the attributes."""


def _record_or_404(target: Target, record_id: int) -> Any:
    if not 0 < record_id <= MAX_ID:
        abort(404)
    return get_scoped_or_404(target.model, record_id, target.scope_subject, target.model.manager_id)


def _title(record: Any) -> str:
    return str(getattr(record, "name", None) or getattr(record, "full_name", "") or record.id)


def _url_or_none(endpoint: str, **values: Any) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:  # that page is not built (yet)
        return None


def _show_values(
    target: Target, record: Any, form: FlaskForm | None = None, status: int = 200
) -> ResponseReturnValue:
    session = db_session()
    can_update = has_permission(target.update)
    if form is None:
        form = extend_form(ValuesForm, target.subject, session)(formdata=None)
        fill_form(form, load_values(session, target.subject, [record.id]).get(record.id, {}))
    context = {
        "record": record,
        "form": form,
        "field_names": attribute_field_names(form),
        "can_update": can_update,
        "can_define": has_permission(DEFINE),
        "save_url": url_for(f"crm_base.{target.subject}_attributes_save", record_id=record.id),
        "tab_title": _("Additional attributes"),
        "card_url": _url_or_none(target.card_endpoint, record_id=record.id),
    }
    if wants_fragment() and status == 200:
        return render_template("crm_base/attribute_values_tab.html", **context)
    breadcrumbs = [
        (target.list_label, _url_or_none(target.list_endpoint)),
        (_title(record), context["card_url"]),
        (context["tab_title"], None),
    ]
    page = render_template("crm_base/attribute_values.html", breadcrumbs=breadcrumbs, **context)
    return page, status


def _save_values(target: Target, record_id: int) -> ResponseReturnValue:
    """Validate the posted values and store them in one transaction, or show why not."""
    record = _record_or_404(target, record_id)
    session = db_session()
    form = extend_form(ValuesForm, target.subject, session)()
    if not form.validate_on_submit():
        return _show_values(target, record, form, 400)
    try:
        save_values(session, target.subject, record.id, form_values(form))
    except AttributeValuesError as error:  # an attribute changed meanwhile
        session.rollback()
        for code, message in error.errors.items():
            name = FIELD_PREFIX + code
            if name in form:
                form[name].errors = [*form[name].errors, message]
        return _show_values(target, _record_or_404(target, record_id), form, 400)
    session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(f"crm_base.{target.subject}_attributes", record_id=record.id), 303)


@bp.get("/counterparties/<int:record_id>/attributes")
@require(TARGETS["counterparty"].read)
def counterparty_attributes(record_id: int) -> ResponseReturnValue:
    """A counterparty's additional attributes (a form with the update right)."""
    target = TARGETS["counterparty"]
    return _show_values(target, _record_or_404(target, record_id))


@bp.post("/counterparties/<int:record_id>/attributes")
@require(TARGETS["counterparty"].update)
def counterparty_attributes_save(record_id: int) -> ResponseReturnValue:
    return _save_values(TARGETS["counterparty"], record_id)


@bp.get("/persons/<int:record_id>/attributes")
@require(TARGETS["person"].read)
def person_attributes(record_id: int) -> ResponseReturnValue:
    """A contact person's additional attributes (a form with the update right)."""
    target = TARGETS["person"]
    return _show_values(target, _record_or_404(target, record_id))


@bp.post("/persons/<int:record_id>/attributes")
@require(TARGETS["person"].update)
def person_attributes_save(record_id: int) -> ResponseReturnValue:
    return _save_values(TARGETS["person"], record_id)


def _has_attributes(subject: str) -> bool:
    stmt = select(Attribute.id).where(Attribute.subject == subject, Attribute.active.is_(True))
    return db_session().scalar(stmt.limit(1)) is not None


def _reaches(target: Target, record_id: int, user: Any) -> bool:
    """Whether ``user`` may read the record (right and record scope)."""
    if not has_permission(target.read, user) or not 0 < int(record_id) <= MAX_ID:
        return False
    stmt = select(target.model.id).where(target.model.id == int(record_id))
    stmt = scope_filter(stmt, target.scope_subject, target.model.manager_id, user)
    return db_session().scalar(stmt) is not None


def _tabs(target: Target, record_id: int, user: Any) -> list[CardTab]:
    if not _has_attributes(target.subject) or not _reaches(target, record_id, user):
        return []
    url = url_for(f"crm_base.{target.subject}_attributes", record_id=record_id)
    return [CardTab("crm_base.attributes", str(_("Additional attributes")), url, order=45)]


def person_card_tabs(person_id: int, user: Any) -> list[CardTab]:
    """The "Additional attributes" tab for a contact person's card (persons.py shows it)."""
    return _tabs(TARGETS["person"], person_id, user)


# -- values follow their record -------------------------------------------------------------


def _drop_values_of(subject: str) -> Any:
    """An ``after_delete`` listener: a deleted record's values go with it, in the same
    transaction (``record_id`` has no foreign key, as it points at two tables, and SQLite
    may give a deleted record's id to the next one, which must not inherit its values)."""

    def listener(_mapper: Any, connection: Any, target: Any) -> None:
        mine = select(Attribute.id).where(Attribute.subject == subject)
        connection.execute(
            delete(AttributeValue).where(
                AttributeValue.record_id == target.id, AttributeValue.attribute_id.in_(mine)
            )
        )

    return listener


event.listen(Counterparty, "after_delete", _drop_values_of("counterparty"))
event.listen(Person, "after_delete", _drop_values_of("person"))


# -- hooks ------------------------------------------------------------------------------


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """Attribute values are not chronology events (the history tab has their changes)."""
    return []


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """ "Additional attributes" on the counterparty card, when any are defined."""
    if subject != SUBJECT:
        return []
    return _tabs(TARGETS["counterparty"], subject_id, user)
