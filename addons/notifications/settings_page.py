"""Admin pages: SMTP and SMS gateway settings, a test e-mail / SMS, the outbox's state, and
the default channels per event type (NT-4, NT-5).

Settings are rows of ``core_setting`` named ``notifications.*``. Secrets (the SMTP
password, the gateway's authorization header) are never sent back to the browser: the
page shows ``••••1234`` and an empty field keeps the saved value. They are written with
Core statements and audited as ``***``, so the audit log never holds them either.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length, NumberRange, Regexp

from addons.notifications import outbox
from addons.notifications.channels import (
    SMS_CONTENT_TYPES,
    SMS_METHODS,
    SMTP_SECURITY,
    DeliveryError,
    OutgoingMessage,
    SmtpConfig,
    SmtpSender,
    defaults,
    gateways,
    read_settings,
    secret_names,
    sms_gateway,
)
from addons.notifications.events import event_types, join_channels, parse_channels
from addons.notifications.models import CHANNELS, OUTBOX_STATES, DefaultPreference, OutboxMessage
from addons.notifications.outbox import dialect_insert
from addons.notifications.preferences import CHANNEL_LABELS
from addons.notifications.views import bp
from core.audit import record
from core.models import Setting, User
from core.security import require
from core.ui.text import clean_text
from core.web import db_session

PERMISSION = "notifications.settings.update"
PREFIX = "notifications."
MASK = "••••"
HOST_RE = r"^[A-Za-z0-9.\-:\[\]]*$"
PHONE_RE = r"^\+?[0-9 ()\-]{5,20}$"


def mask(value: str) -> str:
    """``••••1234`` for a long secret, ``••••`` for a short one, ``""`` for none."""
    if not value:
        return ""
    return MASK + value[-4:] if len(value) >= 12 else MASK


def _http_url(_form: FlaskForm, field: Any) -> None:
    if field.data and not re.match(r"^https?://[^\s/]+", field.data):
        raise ValidationError(_l("Enter an address starting with http:// or https://."))


def _address(_form: FlaskForm, field: Any) -> None:
    if not field.data:
        return
    pairs = getaddresses([field.data])
    if len(pairs) != 1 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", pairs[0][1]):
        raise ValidationError(_l('Enter an address like "CRM <crm@example.com>".'))


def _timezone(_form: FlaskForm, field: Any) -> None:
    try:
        ZoneInfo(field.data)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_l("Unknown time zone, e.g. Europe/Kyiv.")) from exc


class SettingsForm(FlaskForm):
    smtp_host = StringField(
        _l("SMTP server"),
        filters=[clean_text],
        validators=[Length(max=255), Regexp(HOST_RE, message=_l("Enter a host name."))],
    )
    smtp_port = IntegerField(
        _l("SMTP port"), default=587, validators=[DataRequired(), NumberRange(1, 65535)]
    )
    smtp_security = SelectField(_l("Security"), choices=list(SMTP_SECURITY))
    smtp_user = StringField(_l("SMTP user"), filters=[clean_text], validators=[Length(max=255)])
    smtp_password = PasswordField(_l("SMTP password"), validators=[Length(max=500)])
    smtp_password_clear = BooleanField(_l("Remove the saved password"))
    smtp_from = StringField(
        _l("Sender address"), filters=[clean_text], validators=[Length(max=254), _address]
    )
    sms_gateway = SelectField(_l("SMS gateway"))
    sms_url = StringField(
        _l("SMS gateway URL"), filters=[clean_text], validators=[Length(max=500), _http_url]
    )
    sms_method = SelectField(_l("HTTP method"), choices=list(SMS_METHODS))
    sms_auth_header = PasswordField(_l("Authorization header"), validators=[Length(max=1000)])
    sms_auth_header_clear = BooleanField(_l("Remove the saved header"))
    sms_content_type = SelectField(_l("Request body type"), choices=list(SMS_CONTENT_TYPES))
    sms_body_template = TextAreaField(_l("Request body template"), validators=[Length(max=4000)])
    site_url = StringField(
        _l("Address of the application"),
        filters=[clean_text],
        validators=[Length(max=300), _http_url],
    )
    timezone = StringField(
        _l("Time zone of the scans"),
        filters=[clean_text],
        validators=[DataRequired(), Length(max=60), _timezone],
    )


SECRET_FIELDS = ("smtp_password", "sms_auth_header")


class TestEmailForm(FlaskForm):
    to = StringField(
        _l("Send a test e-mail to"),
        filters=[clean_text],
        validators=[
            DataRequired(),
            Length(max=254),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid e-mail address.")),
        ],
    )


class TestSmsForm(FlaskForm):
    phone = StringField(
        _l("Send a test SMS to"),
        filters=[clean_text],
        validators=[
            DataRequired(),
            Regexp(PHONE_RE, message=_l("Use digits, spaces and + ( ) - only.")),
        ],
    )


class ActionForm(FlaskForm):
    """Only the CSRF token, for buttons."""


def _fill(form: SettingsForm, values: dict[str, str]) -> None:
    """Put the saved values in the form (never the secrets)."""
    for name, field in form._fields.items():
        key = PREFIX + name
        if key in values and name not in SECRET_FIELDS:
            field.process_data(values[key])
    form.smtp_port.process_data(_int(values.get(f"{PREFIX}smtp_port", ""), 587))


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default


def _gateway_choices(form: SettingsForm) -> None:
    form.sms_gateway.choices = [(name, str(gw.label)) for name, gw in gateways().items()]


def _failed_rows(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == "failed")
            .order_by(OutboxMessage.id.desc())
            .limit(10)
        )
    )


def _render(
    session: Session,
    form: SettingsForm,
    values: dict[str, str],
    status: int = 200,
    email_form: TestEmailForm | None = None,
    sms_form: TestSmsForm | None = None,
) -> ResponseReturnValue:
    if email_form is None:
        email_form = TestEmailForm(formdata=None)
        user = session.get(User, current_user.id)
        email_form.to.process_data(user.email if user else "")
    counts = outbox.counts(session)
    return (
        render_template(
            "notifications/settings.html",
            form=form,
            masks={name: mask(values.get(PREFIX + name, "")) for name in SECRET_FIELDS},
            email_form=email_form,
            sms_form=sms_form or TestSmsForm(formdata=None),
            action_form=ActionForm(),
            counts=counts,
            states=OUTBOX_STATES,
            channels=outbox.CHANNELS,
            failed=_failed_rows(session) if counts else [],
            smtp_ready=SmtpConfig.from_settings(values).configured,
        ),
        status,
    )


@bp.get("/settings")
@require(PERMISSION)
def settings() -> ResponseReturnValue:
    db = db_session()
    values = read_settings(db)
    form = SettingsForm(formdata=None)
    _gateway_choices(form)
    _fill(form, values)
    return _render(db, form, values)


def save_settings(session: Session, new: dict[str, str]) -> list[str]:
    """Write the changed settings (Core upserts, no ORM: the audit listener would log
    the secrets) and one audit entry; returns the names that changed."""
    old = read_settings(session)
    changed = [name for name, value in new.items() if value != old.get(name)]
    if not changed:
        return []
    insert = dialect_insert(session)
    for name in changed:
        session.execute(
            insert(Setting)
            .values(name=name, value=new[name])
            .on_conflict_do_update(index_elements=["name"], set_={"value": new[name]})
        )
    secrets = secret_names()
    record(
        session,
        "update",
        "core_setting",
        "notifications",
        **{
            name: ["***", "***"] if name in secrets else [old.get(name, ""), new[name]]
            for name in changed
        },
    )
    return changed


def _submitted(form: SettingsForm, values: dict[str, str]) -> dict[str, str]:
    new: dict[str, str] = {}
    for name, field in form._fields.items():
        if name == "csrf_token" or name.endswith("_clear"):
            continue
        key = PREFIX + name
        if name in SECRET_FIELDS:
            if form[f"{name}_clear"].data:
                new[key] = ""
            elif field.data:
                new[key] = clean_text(field.data)
            else:
                new[key] = values.get(key, "")  # left empty: keep the saved secret
            continue
        new[key] = "" if field.data is None else str(field.data)
    return new


@bp.post("/settings")
@require(PERMISSION)
def settings_save() -> ResponseReturnValue:
    db = db_session()
    values = read_settings(db)
    form = SettingsForm()
    _gateway_choices(form)
    if not form.validate():
        return _render(db, form, values, status=400)
    new = _submitted(form, values)
    unknown = set(new) - set(defaults())
    if unknown:  # a field without a declared setting: a programming error, not user input
        abort(400)
    changed = save_settings(db, new)
    db.commit()
    flash(
        _("Settings saved.") if changed else _("Nothing changed."),
        "success" if changed else "info",
    )
    return redirect(url_for("notifications.settings"))


@bp.post("/settings/test-email")
@require(PERMISSION)
def settings_test_email() -> ResponseReturnValue:
    """Send one e-mail at once with the saved settings and say what the server answered."""
    db = db_session()
    values = read_settings(db)
    email_form = TestEmailForm()
    if not email_form.validate():
        form = SettingsForm(formdata=None)
        _gateway_choices(form)
        _fill(form, values)
        return _render(db, form, values, status=400, email_form=email_form)
    config = SmtpConfig.from_settings(values)
    if not config.configured:
        flash(_("Fill in the SMTP server and the sender address first."), "danger")
        return redirect(url_for("notifications.settings"))
    sender = SmtpSender(config)
    message = OutgoingMessage(
        email_form.to.data,
        _("Vitrylo: test e-mail"),
        _("This is a test e-mail: the e-mail settings of Vitrylo work.") + "\n",
        f"test:{uuid.uuid4().hex}",
    )
    try:
        sender.send(message)
    except DeliveryError as exc:
        flash(_("The e-mail was not sent: %(error)s", error=str(exc)), "danger")
    else:
        flash(_("A test e-mail was sent to %(to)s.", to=email_form.to.data), "success")
    finally:
        sender.close()
    return redirect(url_for("notifications.settings"))


@bp.post("/settings/test-sms")
@require(PERMISSION)
def settings_test_sms() -> ResponseReturnValue:
    db = db_session()
    values = read_settings(db)
    sms_form = TestSmsForm()
    if not sms_form.validate():
        form = SettingsForm(formdata=None)
        _gateway_choices(form)
        _fill(form, values)
        return _render(db, form, values, status=400, sms_form=sms_form)
    gateway = sms_gateway(values)
    if gateway is None or not gateway.configured(values):
        flash(_("Fill in the SMS gateway first."), "danger")
        return redirect(url_for("notifications.settings"))
    sender = gateway.factory(values)
    message = OutgoingMessage(
        sms_form.phone.data, "", _("Vitrylo: test SMS"), f"test:{uuid.uuid4().hex}"
    )
    try:
        sender.send(message)
    except DeliveryError as exc:
        flash(_("The SMS was not sent: %(error)s", error=str(exc)), "danger")
    else:
        flash(_("A test SMS was sent to %(to)s.", to=sms_form.phone.data), "success")
    finally:
        sender.close()
    return redirect(url_for("notifications.settings"))


@bp.post("/settings/retry")
@require(PERMISSION)
def settings_retry() -> ResponseReturnValue:
    """Give failed messages another go (after the settings were fixed)."""
    db = db_session()
    count = outbox.retry_failed(db)
    db.commit()
    flash(_("Messages queued again: %(n)s.", n=count), "success")
    return redirect(url_for("notifications.settings"))


# -- default channels per event type --------------------------------------------------


@dataclass(frozen=True)
class DefaultRow:
    name: str
    label: Any
    addon: str
    channels: tuple[str, ...]
    enabled: bool
    own: bool


def default_rows(session: Session) -> list[DefaultRow]:
    types = event_types()
    saved = {
        row.event_type: row
        for row in session.scalars(
            select(DefaultPreference).where(DefaultPreference.event_type.in_(list(types)))
        )
    }
    rows = []
    for name, etype in types.items():
        row = saved.get(name)
        channels = (
            parse_channels(row.channels)
            if row
            else tuple(c for c in etype.default_channels if c in CHANNELS)
        )
        rows.append(
            DefaultRow(
                name, etype.label, etype.addon, channels, row.enabled if row else True, bool(row)
            )
        )
    return sorted(rows, key=lambda r: (r.addon, str(r.label)))


@bp.get("/settings/defaults")
@require(PERMISSION)
def settings_defaults() -> ResponseReturnValue:
    return render_template(
        "notifications/settings_defaults.html",
        rows=default_rows(db_session()),
        channels=CHANNELS,
        channel_labels=CHANNEL_LABELS,
    )


@bp.post("/settings/defaults")
@require(PERMISSION)
def settings_defaults_save() -> ResponseReturnValue:
    """A row per type that differs from the type's own default (or is switched off)."""
    db = db_session()
    types = event_types()
    ticked = set(request.form.getlist("choice"))
    enabled = set(request.form.getlist("enabled"))
    if types:
        db.execute(delete(DefaultPreference).where(DefaultPreference.event_type.in_(list(types))))
    for name, etype in types.items():
        wanted = tuple(c for c in CHANNELS if f"{name}|{c}" in ticked)
        own_default = tuple(c for c in CHANNELS if c in etype.default_channels)
        is_on = name in enabled
        if is_on and wanted == own_default:
            continue
        db.add(DefaultPreference(event_type=name, channels=join_channels(wanted), enabled=is_on))
    db.commit()
    flash(_("Default notification settings saved."), "success")
    return redirect(url_for("notifications.settings_defaults"))
