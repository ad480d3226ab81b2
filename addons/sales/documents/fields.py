"""The form fields of sales documents: amounts typed the Ukrainian way and the fields every
document has (the counterparty typed by name within the user's scope, the currency, the
print template, the responsible). Selects keep the record's stored value even when the user
may no longer choose it (the choice builders of :mod:`addons.sales.shared`)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError
from wtforms.widgets import TextInput

from addons.sales.documents.amounts import plain_number
from addons.sales.documents.printing import TEMPLATES
from addons.sales.shared import (
    CounterpartyField,
    bare_number,
    currency_field,
    optional_id,
    typed_decimal,
    user_choices,
)
from core.money import to_kopecks


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


def choice_list(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """``(value, label)`` pairs as a select's choices."""
    return [SelectChoice(value, label) for value, label in pairs]


class DocumentForm(FlaskForm):
    """The fields every sales document has: the counterparty, the currency, the print
    template and the responsible manager."""

    counterparty_id = CounterpartyField(_l("Counterparty"))
    currency = currency_field()
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
