"""A proposal's form: the header and the lines.

The lines are a WTForms ``FieldList``: "One more line" is a submit button that shows the
posted form again (no JavaScript); a row without a description and price is blank and
dropped, "remove" drops a filled one, and a row that is wrong stops the whole save
(nothing is half-saved).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.contacts import MAX_ROWS, clean_text
from addons.sales.documents.fields import DocumentForm, NumberField, choice_list
from addons.sales.models import Proposal
from addons.sales.proposals.totals import VAT_CHOICES, compute_totals, vat_rate_of
from addons.sales.shared import MAX_AMOUNT, optional_id, person_choices

#: Bounds that keep every amount inside ``Numeric(16, 2)`` (PostgreSQL refuses more).
MAX_QUANTITY = Decimal("1000000000")
MAX_PRICE = Decimal("1000000000000")


class LineForm(Form):
    """One line: what, how many, the unit, the price without VAT and the VAT rate. A row
    without a description and price is blank and dropped; "remove" drops a filled one."""

    description = StringField(_l("Description"), filters=[clean_text], validators=[Length(max=500)])
    quantity = NumberField(_l("Quantity"), max_places=3, default=Decimal("1"))
    unit = StringField(_l("Unit"), filters=[clean_text], validators=[Length(max=20)], default="шт")
    price = NumberField(_l("Price without VAT"))
    vat_rate = SelectField(_l("VAT"), choices=choice_list(VAT_CHOICES), default="20")
    remove = BooleanField(_l("Remove"))

    @property
    def blank(self) -> bool:
        price = self.price
        return not self.description.data and price.data is None and not price.process_errors

    @property
    def wanted(self) -> bool:
        return not self.remove.data and not self.blank

    def validate_description(self, field: StringField) -> None:
        if self.wanted and not field.data:
            raise ValidationError(_("Describe what is offered."))

    def validate_quantity(self, field: NumberField) -> None:
        if not self.wanted or field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the quantity."))
        if field.data <= 0:
            raise ValidationError(_("The quantity must be more than zero."))
        if field.data > MAX_QUANTITY:
            raise ValidationError(_("The quantity is too large."))

    def validate_price(self, field: NumberField) -> None:
        if not self.wanted or field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the price."))
        if field.data < 0:
            raise ValidationError(_("The price cannot be negative."))
        if field.data > MAX_PRICE:
            raise ValidationError(_("The price is too large."))


@dataclass(frozen=True)
class LineData:
    """A valid line as stored (``sort`` is its position)."""

    description: str
    quantity: Decimal
    unit: str
    price: Decimal
    vat_rate: Decimal | None

    @property
    def amounts(self) -> tuple[Decimal, Decimal, Decimal | None]:
        return self.quantity, self.price, self.vat_rate


def wanted_lines(field: FieldList) -> list[LineData]:
    """The rows to store, in order (blank and removed ones left out)."""
    return [
        LineData(
            row.description.data,
            row.quantity.data,
            row.unit.data or "",
            row.price.data,
            vat_rate_of(row.vat_rate.data),
        )
        for row in (entry.form for entry in field.entries)
        if row.wanted
    ]


def _in_order(form: Any, field: DateField) -> None:
    start = form.issued_on.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(_("“Valid until” cannot be before the proposal's date."))


class ProposalForm(DocumentForm):
    """The header and the lines of a proposal."""

    person_id = SelectField(_l("Contact person"), coerce=optional_id, validate_choice=True)
    issued_on = DateField(_l("Date"), validators=[DataRequired()])
    valid_until = DateField(_l("Valid until"), validators=[Optional(), _in_order])
    intro = TextAreaField(
        _l("Introduction"),
        filters=[clean_text],
        validators=[Length(max=5000)],
        render_kw={"rows": 3},
    )
    terms = TextAreaField(
        _l("Terms"),
        filters=[clean_text],
        validators=[Length(max=5000)],
        render_kw={"rows": 3},
        description=_l("Delivery, payment, warranty…"),
    )
    lines = FieldList(FormField(LineForm), _l("Lines"), min_entries=1, max_entries=MAX_ROWS)

    def validate_lines(self, field: FieldList) -> None:
        if any(entry.errors for entry in field.entries):
            return
        rows = wanted_lines(field)
        if not rows:
            raise ValidationError(_("Add at least one line."))
        if compute_totals(r.amounts for r in rows).total > MAX_AMOUNT:
            raise ValidationError(_("The total is too large."))


#: The proposal's own columns the form edits (lines are rows of their own table).
FIELDS = (
    "counterparty_id",
    "person_id",
    "issued_on",
    "valid_until",
    "currency",
    "intro",
    "terms",
    "template",
    "responsible_id",
)


def prepare(form: ProposalForm, record: Proposal | None) -> None:
    """Choices: contact persons of the counterparty typed so far, responsible users."""
    form.prepare_for(record)
    person = record.person_id if record is not None else None
    form.person_id.choices = person_choices(form.counterparty_id.chosen(), person)
