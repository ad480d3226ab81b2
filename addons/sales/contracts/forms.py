"""The contract's form, and the choices that follow the counterparty typed: its
opportunities and proposals the user reaches (each within its own record scope)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.contacts import clean_text
from addons.sales.contracts.kind import STATUS_LABELS
from addons.sales.documents.fields import DocumentForm, NumberField, choice_list
from addons.sales.documents.numbering import number_taken
from addons.sales.models import OPPORTUNITY, PROPOSAL, Contract, Opportunity, Proposal
from addons.sales.proposals import kind as proposal_kind
from addons.sales.shared import (
    BLANK,
    CHOICES_LIMIT,
    MAX_AMOUNT,
    kept_choices,
    of_counterparty,
    optional_id,
    stored_name,
)
from core.security import has_permission
from core.web import db_session


def _not_before_start(form: Any, field: DateField) -> None:
    start = form.starts_on.data
    if field.data is not None and start is not None and field.data < start:
        raise ValidationError(_("The contract cannot end before it starts."))


class ContractForm(DocumentForm):
    number = StringField(
        _l("Number"), filters=[clean_text], validators=[DataRequired(), Length(max=40)]
    )
    opportunity_id = SelectField(_l("Opportunity"), coerce=optional_id)
    proposal_id = SelectField(_l("Proposal"), coerce=optional_id)
    subject = TextAreaField(
        _l("Subject"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=5000)],
        render_kw={"rows": 3},
    )
    signed_on = DateField(_l("Signed on"), validators=[Optional()])
    starts_on = DateField(_l("Starts"), validators=[Optional()])
    ends_on = DateField(_l("Ends"), validators=[Optional(), _not_before_start])
    amount = NumberField(_l("Amount"))
    status = SelectField(_l("Status"), choices=choice_list(STATUS_LABELS.items()), default="draft")

    #: The contract being edited (``None`` for a new one): its own number is not "taken".
    record_id: int | None = None

    def validate_number(self, field: StringField) -> None:
        if field.data and number_taken(db_session(), Contract, field.data, self.record_id):
            raise ValidationError(_("A contract with this number exists already."))

    def validate_amount(self, field: NumberField) -> None:
        if field.errors:
            return
        if field.data is None:
            raise ValidationError(_("Enter the amount."))
        if field.data < 0:
            raise ValidationError(_("The amount cannot be negative."))
        if field.data > MAX_AMOUNT:
            raise ValidationError(_("The amount is too large."))


#: The contract's columns the form edits.
FIELDS = (
    "number",
    "counterparty_id",
    "opportunity_id",
    "proposal_id",
    "subject",
    "signed_on",
    "starts_on",
    "ends_on",
    "amount",
    "currency",
    "status",
    "template",
    "responsible_id",
)


def related_choices(
    model: Any,
    label: Any,
    subject: str,
    permission: str,
    counterparty_id: int | None,
    current: int | None,
) -> list[SelectChoice]:
    """``—`` and the counterparty's ``model`` records (opportunities, proposals) the user
    reaches, newest first, as ``(id, label)``; the record's current one is kept."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(permission):
        stmt = select(model.id, label).order_by(model.id.desc()).limit(CHOICES_LIMIT)
        found = db_session().execute(of_counterparty(stmt, model, subject, counterparty_id))
        rows = [(rid, text) for rid, text in found]
    return [BLANK, *kept_choices(rows, current, stored_name(label, model.id))]


def prepare(form: ContractForm, record: Contract | None) -> None:
    """Choices: the opportunities and proposals of the counterparty typed so far (within
    their own scopes), responsible users."""
    form.prepare_for(record)
    if record is not None:
        form.record_id = record.id
    chosen = form.counterparty_id.chosen()
    form.opportunity_id.choices = related_choices(
        Opportunity,
        Opportunity.name,
        OPPORTUNITY,
        proposal_kind.OPPORTUNITY_READ,
        chosen,
        record.opportunity_id if record else None,
    )
    form.proposal_id.choices = related_choices(
        Proposal,
        Proposal.number,
        PROPOSAL,
        proposal_kind.READ,
        chosen,
        record.proposal_id if record else None,
    )
