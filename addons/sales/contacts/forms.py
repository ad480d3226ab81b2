"""The contact forms (planning, the card, "done") and the choices that follow the typed
counterparty: its persons (``shared.person_choices``) and open opportunities, within the
user's scope."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields import DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
from wtforms.validators import DataRequired, Length, NumberRange, StopValidation, ValidationError

from addons.crm_base.contacts import clean_text
from addons.crm_base.models import Direction
from addons.sales.contacts.common import (
    DEFAULT_DURATION,
    KIND_LABELS,
    MAX_DURATION,
    OPPORTUNITY_READ,
    sane_year,
)
from addons.sales.models import CONTACT_KINDS, OPPORTUNITY, Contact, Opportunity
from addons.sales.shared import (
    BLANK,
    CHOICES_LIMIT,
    CounterpartyField,
    kept_choices,
    of_counterparty,
    optional_id,
    person_choices,
    stored_name,
    user_choices,
)
from addons.sales.sources import source_choices
from core.security import has_permission
from core.tz import user_timezone
from core.web import db_session

MAX_TEXT = 10_000
KIND_CHOICES = [SelectChoice(k, KIND_LABELS[k]) for k in CONTACT_KINDS]
PLAN_FIELDS = (
    "kind",
    "subject",
    "planned_at",
    "duration_minutes",
    "counterparty_id",
    "person_id",
    "direction_id",
    "opportunity_id",
    "source_id",
    "responsible_id",
)


class Required:
    """Like ``DataRequired``, but a value that could not be read (a bad date, a counterparty
    out of sight) keeps its own message instead of "This field is required."."""

    field_flags = {"required": True}

    def __init__(self, message: Any = None) -> None:
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if field.errors:
            raise StopValidation()
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise StopValidation(str(self.message or _("This field is required.")))


class LocalDateTimeField(DateTimeLocalField):
    """A moment typed in the user's time zone (one ``datetime-local`` input); ``data`` is
    aware UTC, like the column, so the form view compares it with what is stored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault(
            "invalid_value_message", _l("Enter a date and a time, e.g. 2025-03-14 10:30.")
        )
        super().__init__(*args, tz=user_timezone, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not " ".join(valuelist).strip():
            self.data = None
            return
        super().process_formdata(valuelist)
        if self.data is not None:
            if not sane_year(self.data.year):
                self.data = None
                raise ValueError(_("The date is out of range."))
            self.data = self.data.astimezone(UTC)


def _text_area(label: Any, rows: int, required: bool = False) -> TextAreaField:
    """The result and the next step: long, cleaned texts."""
    validators = [DataRequired()] if required else []
    return TextAreaField(
        label,
        filters=[clean_text],
        validators=[*validators, Length(max=MAX_TEXT)],
        render_kw={"rows": rows},
    )


class ContactForm(FlaskForm):
    """Planning a contact; every field is a column of ``sales_contact``."""

    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="call")
    subject = StringField(
        _l("Subject"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    planned_at = LocalDateTimeField(_l("When"), validators=[Required()])
    duration_minutes = IntegerField(
        _l("Duration, minutes"),
        default=DEFAULT_DURATION,
        validators=[Required(), NumberRange(min=1, max=MAX_DURATION)],
    )
    counterparty_id = CounterpartyField(
        _l("Counterparty"), validators=[Required(_l("Choose a counterparty."))], max_length=300
    )
    person_id = SelectField(_l("Contact person"), coerce=optional_id)
    direction_id = SelectField(_l("Direction of work"), coerce=optional_id)
    opportunity_id = SelectField(_l("Opportunity"), coerce=optional_id)
    source_id = SelectField(_l("Lead source"), coerce=optional_id)  # MS-5
    responsible_id = SelectField(_l("Responsible"), coerce=int)


class ContactCardForm(ContactForm):
    """The card's form: also the result and the next step of a done contact."""

    result = _text_area(_l("Result"), rows=3)
    next_step = _text_area(_l("Next step"), rows=2)


class DoneForm(FlaskForm):
    """Marking a contact done, and optionally planning the next one."""

    version = HiddenField()
    result = _text_area(_l("Result"), rows=3, required=True)
    next_step = _text_area(_l("Next step"), rows=2)
    plan_next = BooleanField(_l("Plan the next contact"))
    next_kind = SelectField(_l("Kind"), choices=KIND_CHOICES, default="call")
    next_at = LocalDateTimeField(_l("When"))
    next_subject = StringField(
        _l("Subject of the next contact"), filters=[clean_text], validators=[Length(max=300)]
    )

    def validate_next_at(self, field: Field) -> None:
        if self.plan_next.data and field.data is None and not field.errors:
            raise ValidationError(_("Say when the next contact is."))

    def validate_next_subject(self, field: Field) -> None:
        if self.plan_next.data and not field.data:
            raise ValidationError(_("Say what the next contact is about."))


# -- choices ---------------------------------------------------------------------------------


def opportunity_choices(counterparty_id: int | None, keep: int | None = None) -> list[SelectChoice]:
    """The counterparty's open opportunities the user may see."""
    rows: list[tuple[int, str]] = []
    if counterparty_id is not None and has_permission(OPPORTUNITY_READ):
        stmt = (
            select(Opportunity.id, Opportunity.name)
            .where(Opportunity.status == "open")
            .order_by(Opportunity.name, Opportunity.id)
            .limit(CHOICES_LIMIT)
        )
        stmt = of_counterparty(stmt, Opportunity, OPPORTUNITY, counterparty_id)
        rows = [(i, n) for i, n in db_session().execute(stmt)]
    return [BLANK, *kept_choices(rows, keep, stored_name(Opportunity.name, Opportunity.id))]


def direction_choices(keep: int | None = None) -> list[SelectChoice]:
    stmt = select(Direction.id, Direction.name).where(Direction.active.is_(True))
    rows = [(i, n) for i, n in db_session().execute(stmt.order_by(Direction.name))]
    return [BLANK, *kept_choices(rows, keep, stored_name(Direction.name, Direction.id))]


def prepare(form: ContactForm, record: Contact | None) -> None:
    """Fill the choices that follow the counterparty typed so far, and the others."""
    if record is not None:
        form.counterparty_id.stored = record.counterparty_id
    counterparty_id = form.counterparty_id.chosen()
    same = record is not None and counterparty_id == record.counterparty_id
    form.person_id.choices = person_choices(
        counterparty_id, record.person_id if same and record else None
    )
    form.opportunity_id.choices = opportunity_choices(
        counterparty_id, record.opportunity_id if same and record else None
    )
    form.direction_id.choices = direction_choices(record.direction_id if record else None)
    keep_source = record.source_id if record else None
    form.source_id.choices = [
        BLANK,
        *(SelectChoice(i, n) for i, n in source_choices(db_session(), keep=keep_source)),
    ]
    form.responsible_id.choices = user_choices(
        record.responsible_id if record else None, blank=False
    )
