"""The campaign form (which mailing list, pipeline and source, who operates it) and the
operator's outcome form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import to_utc
from flask_wtf import FlaskForm
from sqlalchemy import Select, or_, select
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from addons.crm_base.contacts import clean_text
from addons.crm_base.mailing import READ as LIST_READ
from addons.crm_base.mailing import SOURCES
from addons.crm_base.models import MailingList
from addons.sales.models import Campaign, Pipeline
from addons.sales.shared import optional_id, user_choices, with_blank
from addons.sales.sources import source_choices
from addons.sales.telemarketing.common import ACTIONS
from core import security
from core.db import utcnow
from core.security import has_permission
from core.web import db_session


def readable_lists(user: Any = None) -> Select[Any]:
    """Mailing lists whose members ``user`` may read: the list right and the right to read
    what the list is of (counterparties or persons)."""
    if not has_permission(LIST_READ, user):
        return select(MailingList.id, MailingList.name).where(MailingList.id.is_(None))
    subjects = [s.subject for s in SOURCES.values() if has_permission(s.read, user)]
    return (
        select(MailingList.id, MailingList.name)
        .where(MailingList.subject.in_(subjects))
        .order_by(MailingList.name, MailingList.id)
    )


def list_choices(current: int | None = None) -> list[SelectChoice]:
    """The mailing lists the user may read (and the stored one, named as unreadable)."""
    choices = with_blank(db_session().execute(readable_lists()))
    if current is not None and current not in {c.value for c in choices}:
        choices.append(SelectChoice(current, _("(a list you may not read)")))
    return choices


def _pipeline_choices(keep: int | None) -> list[SelectChoice]:
    """Active pipelines (and the stored one, even if made inactive)."""
    stmt = (
        select(Pipeline.id, Pipeline.name)
        .where(or_(Pipeline.active.is_(True), Pipeline.id == keep))
        .order_by(Pipeline.sort, Pipeline.name)
    )
    return with_blank(db_session().execute(stmt))


def _ends_after_start(form: FlaskForm, field: DateField) -> None:
    if field.data and form.starts_on.data and field.data < form.starts_on.data:
        raise ValidationError(_("The end comes before the start."))


class CampaignForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=200)]
    )
    mailing_list_id = SelectField(
        _l("Mailing list"),
        coerce=optional_id,
        description=_l("Who to call: the members of a saved list of counterparties or persons."),
    )
    script = TextAreaField(_l("Call script"), filters=[clean_text], validators=[Length(max=20_000)])
    pipeline_id = SelectField(_l("Pipeline for opportunities"), coerce=optional_id)
    source_id = SelectField(_l("Lead source"), coerce=optional_id)
    starts_on = DateField(_l("Starts on"), validators=[Optional()])
    ends_on = DateField(_l("Ends on"), validators=[Optional(), _ends_after_start])
    responsible_id = SelectField(_l("Responsible"), coerce=optional_id)
    operator_ids = SelectMultipleField(_l("Operators"), coerce=int, render_kw={"size": 6})


def fill_campaign_choices(form: FlaskForm, record: Campaign | None) -> None:
    """The choices of the campaign form (the stored values stay choosable)."""
    form.mailing_list_id.choices = list_choices(record.mailing_list_id if record else None)
    form.pipeline_id.choices = _pipeline_choices(record.pipeline_id if record else None)
    form.source_id.choices = with_blank(
        source_choices(db_session(), keep=record.source_id if record else None)
    )
    form.responsible_id.choices = user_choices(record.responsible_id if record else None)
    form.operator_ids.choices = security.user_choices()


def callback_utc(local: datetime) -> datetime:
    """A "call back at" typed in the user's time zone, as aware UTC."""
    return to_utc(local).replace(tzinfo=UTC)


def _callback_problem(local: datetime | None) -> str:
    if local is None:
        return _("Say when to call back.")
    when = callback_utc(local)
    if when <= utcnow():
        return _("The time to call back has already passed.")
    if when > utcnow() + timedelta(days=366):
        return _("Call back within a year.")
    return ""


class OutcomeForm(FlaskForm):
    outcome = HiddenField()  # the pressed button's value
    note = TextAreaField(_l("Note"), filters=[clean_text], validators=[Length(max=2000)])
    callback_at = DateTimeLocalField(
        _l("Call back at"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    opportunity_name = StringField(
        _l("Opportunity"), filters=[clean_text], validators=[Length(max=300)]
    )
    queue = HiddenField()  # "campaign": back to the campaign's queue, else to all

    def validate_outcome(self, field: HiddenField) -> None:
        if field.data not in ACTIONS:
            raise ValidationError(_("Unknown outcome: press one of the outcome buttons."))

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields, then "call back at" when that button was pressed (a future time)."""
        valid = super().validate(extra_validators)
        if self.outcome.data == "call_back" and not self.callback_at.errors:
            problem = _callback_problem(self.callback_at.data)
            if problem:
                self.callback_at.errors = [*self.callback_at.errors, problem]
                valid = False
        return valid
