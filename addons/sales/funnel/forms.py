"""A deal's forms: the card's and the new one (the stage must be one of the chosen
pipeline's), the amount as typed in Ukraine, and why a deal was lost."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from addons.crm_base.contacts import clean_text
from addons.sales.models import LostReason, Opportunity, Pipeline, PipelineStage
from addons.sales.shared import (
    MAX_AMOUNT,
    AmountField,
    CounterpartyField,
    currency_field,
    optional_id,
    user_choices,
    with_blank,
)
from addons.sales.sources import source_choices
from core.web import db_session


def _two_decimals(form: Any, field: Any) -> None:
    data = field.data
    if data is not None and data.is_finite() and data.normalize().as_tuple().exponent < -2:
        raise ValidationError(_("At most two decimal places."))


class OpportunityForm(FlaskForm):
    """A deal's own fields; the stage must be one of the chosen pipeline's."""

    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    counterparty_id = CounterpartyField(_l("Counterparty"), name="counterparty")
    pipeline_id = SelectField(_l("Pipeline"), coerce=int)
    stage_id = SelectField(_l("Stage"), coerce=optional_id)
    amount = AmountField(
        _l("Amount"),
        message=_l("Enter an amount, e.g. 1500.00."),
        places=2,
        default=Decimal("0.00"),
        validators=[InputRequired(), NumberRange(min=0, max=MAX_AMOUNT), _two_decimals],
    )
    currency = currency_field()
    probability = IntegerField(
        _l("Probability"), validators=[InputRequired(), NumberRange(min=0, max=100)]
    )
    expected_close = DateField(_l("Expected close"), validators=[Optional()])
    responsible_id = SelectField(_l("Responsible"), coerce=optional_id)
    source_id = SelectField(_l("Source"), coerce=optional_id)
    notes = TextAreaField(
        _l("Notes"), filters=[clean_text], validators=[Length(max=10_000)], render_kw={"rows": 3}
    )

    # Filled by prepare: which pipeline each stage belongs to; the stage of a closed deal.
    stage_pipeline: Mapping[int, int] = {}
    closed_at_stage: int | None = None

    def validate_stage_id(self, field: SelectField) -> None:
        if field.data is None:
            return
        if self.stage_pipeline.get(field.data) != self.pipeline_id.data:
            raise ValidationError(_("This stage belongs to another pipeline."))
        if self.closed_at_stage is not None and field.data != self.closed_at_stage:
            raise ValidationError(_("The deal is closed: reopen it before moving it."))

    def validate_expected_close(self, field: DateField) -> None:
        if field.data is not None and not 2000 <= field.data.year <= 2100:
            raise ValidationError(_("Enter a date between 2000 and 2100."))


class NewOpportunityForm(OpportunityForm):
    """A new deal: the stage and the probability may be left to the pipeline."""

    probability = IntegerField(
        _l("Probability"), validators=[Optional(), NumberRange(min=0, max=100)]
    )


def prepare(form: FlaskForm, record: Opportunity | None) -> None:
    """Choices: active pipelines (and the deal's own), their stages grouped by pipeline,
    users, sources; what the stage check needs."""
    db = db_session()
    own = record.pipeline_id if record is not None else None
    pipelines = [
        p
        for p in db.scalars(select(Pipeline).order_by(Pipeline.sort, Pipeline.id))
        if p.active or p.id == own
    ]
    stages = db.scalars(
        select(PipelineStage)
        .where(PipelineStage.pipeline_id.in_([p.id for p in pipelines]))
        .order_by(PipelineStage.sort, PipelineStage.id)
    ).all()
    form.pipeline_id.choices = [SelectChoice(p.id, p.name) for p in pipelines]
    grouped: dict[str, list[SelectChoice]] = {}
    if record is None:
        grouped["—"] = [SelectChoice("", _("First stage of the pipeline"))]
    for pipeline in pipelines:
        grouped[pipeline.name] = [
            SelectChoice(s.id, s.name) for s in stages if s.pipeline_id == pipeline.id
        ]
    form.stage_id.choices = grouped
    form.stage_pipeline = {s.id: s.pipeline_id for s in stages}
    form.responsible_id.choices = user_choices(record.responsible_id if record else None)
    form.source_id.choices = with_blank(
        source_choices(db, keep=record.source_id if record else None)
    )
    if record is not None:
        form.counterparty_id.stored = record.counterparty_id
        form.closed_at_stage = record.stage_id if record.status != "open" else None


class LostForm(FlaskForm):
    """Why the deal was lost; the version guards against closing a deal changed meanwhile."""

    reason_id = SelectField(_l("Reason"), coerce=optional_id)
    note = TextAreaField(
        _l("Comment"), filters=[clean_text], validators=[Length(max=2000)], render_kw={"rows": 2}
    )
    version = HiddenField()

    def validate_reason_id(self, field: SelectField) -> None:
        if field.data is None and len(field.choices or []) > 1:
            raise ValidationError(_("Choose why the deal was lost."))


def lost_form(record: Opportunity, posted: bool = False) -> LostForm:
    """The "lost" form: from the request when ``posted``, else blank at the deal's version."""
    form = LostForm() if posted else LostForm(formdata=None)
    active = select(LostReason.id, LostReason.name).where(LostReason.active.is_(True))
    form.reason_id.choices = with_blank(db_session().execute(active.order_by(LostReason.name)))
    if not posted:
        form.version.data = str(record.version)
    return form
