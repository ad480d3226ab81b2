"""The form fields of sales documents: amounts typed the Ukrainian way, the counterparty
typed by name within the user's scope, and the fields every document has. Selects keep the
record's stored value even when the user may no longer choose it (the choice builders of
:mod:`addons.sales.shared`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DecimalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import TextInput

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import Counterparty
from addons.crm_base.persons import COUNTERPARTY_REF, counterparty_ref, resolve_counterparty
from addons.sales.documents.amounts import bare_number, plain_number, typed_decimal
from addons.sales.documents.printing import TEMPLATES
from addons.sales.shared import user_choices
from core.money import to_kopecks
from core.ui.formview import MAX_ID
from core.web import db_session

CURRENCIES = ("UAH", "USD", "EUR")


class NumberField(DecimalField):
    """A decimal typed the Ukrainian way too (``1 200,50``, hence a text input); at most
    ``max_places`` decimals, finite; empty is ``None`` (validators decide). Money shows
    kopecks (``41.10``), a quantity no trailing zeros (``2.5``)."""

    widget = TextInput()

    def __init__(
        self, label: Any = None, validators: Any = None, max_places: int = 2, **kwargs: Any
    ) -> None:
        super().__init__(label, validators, places=None, **kwargs)
        self.max_places = max_places

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0] if valuelist else "")
        self.data = None
        if not bare_number(text):
            return
        value = typed_decimal(text)
        if value is None or abs(value) >= Decimal("1e15"):
            raise ValueError(_("Enter a number, e.g. 1200.50."))
        step = Decimal(1).scaleb(-self.max_places)
        if value != value.quantize(step):
            raise ValueError(_("At most %(n)s decimal places.", n=self.max_places))
        self.data = value

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        if self.data is None:
            return ""
        value = Decimal(self.data)
        return str(to_kopecks(value)) if self.max_places == 2 else plain_number(value)


class CounterpartyField(StringField):
    """The counterparty, typed as ``name (#id)`` (crm_base suggests it) or its exact name;
    its ``data`` is the id, within the user's counterparty scope.

    ``stored`` (set when the form is prepared for a record) is the record's counterparty:
    kept as it is without a scope check, so a manager can still save their own document
    about a counterparty that was handed to a colleague.
    """

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.flags.required = True
        self.raw: str | None = None
        self.stored: int | None = None

    def process_data(self, value: Any) -> None:
        self.data = value if isinstance(value, int) else None
        self.raw = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = clean_text(valuelist[0]) if valuelist else ""
        self.data = None

    def _value(self) -> str:
        if self.raw is not None:
            return self.raw
        if self.data is None:
            return ""
        name = db_session().scalar(select(Counterparty.name).where(Counterparty.id == self.data))
        return counterparty_ref(self.data, name or "")

    def _kept(self) -> int | None:
        ref = COUNTERPARTY_REF.search(self.raw or "")
        if ref is not None and self.stored is not None and int(ref.group(1)) == self.stored:
            return self.stored
        return None

    def pre_validate(self, form: Any) -> None:
        if self.raw is None:
            return
        if not self.raw:
            raise ValidationError(_("Choose a counterparty."))
        kept = self._kept()
        self.data = kept if kept is not None else resolve_counterparty(self.raw)

    def chosen(self) -> int | None:
        """The counterparty meant so far, or ``None`` (never raises): the choices that
        depend on it (contact persons, opportunities) are built before validation."""
        if self.raw is None:
            return self.data
        kept = self._kept()
        if kept is not None or not self.raw:
            return kept
        try:
            return resolve_counterparty(self.raw)
        except ValidationError:
            return None


def optional_id(value: Any) -> int | None:
    """A select's value: ``None`` for the empty choice (and anything not an id)."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def requested_id(name: str) -> int | None:
    """An id from the query string (``?counterparty=12``), ``None`` if absent or absurd."""
    return optional_id(request.args.get(name, "").strip()[:12])


def choice_list(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as a select's choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class DocumentForm(FlaskForm):
    """The fields every sales document has: the counterparty, the currency, the print
    template and the responsible manager."""

    counterparty_id = CounterpartyField(_l("Counterparty"))
    currency = SelectField(
        _l("Currency"), choices=choice_list((c, c) for c in CURRENCIES), default="UAH"
    )
    template = SelectField(_l("Print template"), choices=choice_list(TEMPLATES), default="standard")
    responsible_id = SelectField(_l("Responsible"), coerce=optional_id)

    def validate_responsible_id(self, field: SelectField) -> None:
        if field.data is None:
            raise ValidationError(_("Choose who is responsible."))

    def prepare_for(self, record: Any | None) -> None:
        """Keep the record's counterparty and responsible choosable (see
        :class:`CounterpartyField`, :func:`addons.sales.shared.user_choices`)."""
        if record is not None:
            self.counterparty_id.stored = record.counterparty_id
        responsible = record.responsible_id if record else None
        self.responsible_id.choices = user_choices(responsible, blank=False)


def refresh_requested() -> bool:
    """The form's "Show its …" button: show the posted form again with the choices of the
    counterparty typed, saving and checking nothing."""
    return "refresh" in request.form
