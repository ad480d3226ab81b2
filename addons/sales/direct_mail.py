"""sales: direct mail (MS-4, CL-8) — an e-mail to the members of a crm_base mailing list,
queued in the notifications addon's outbox and sent by its worker.

Why it is built this way:

- **A soft dependency.** Sending goes through ``addons.notifications.outbox``, imported
  only when the notifications addon is enabled; without it the menu item is hidden and the
  page answers 404, and sales works as before.
- **A double click sends once.** The form carries a mailing id made when the page was
  shown; each message's idempotency key is (mailing id, recipient), and the outbox ignores
  a key it already has: posting the same form twice queues nothing the second time.
- **At any size, within the sender's scope.** Members are read in keyset batches as the
  sender may see them (:func:`addons.crm_base.mailing.mailing_list_members`), each batch
  queued with one statement; the main e-mail of each member is used, members without one
  are counted and reported. One audit entry records what was sent, to which list, by whom.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from flask import abort, flash, has_app_context, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from addons.crm_base.contacts import clean_text
from addons.crm_base.mailing import mailing_list_members
from addons.crm_base.models import MailingList
from addons.sales.shared import optional_id, requested_id
from addons.sales.telemarketing import list_choices
from addons.sales.views import bp, menu
from core import audit
from core.hooktypes import MenuItem, PermissionDef
from core.security import require
from core.web import db_session, kernel

SEND = "sales.mail.send"
BATCH = 1000
MAILING_ID = re.compile(r"^[0-9a-f]{32}$")


def notifications_enabled() -> bool:
    """Whether the outbox is there to send through."""
    return kernel().is_enabled("notifications")


# -- hooks ------------------------------------------------------------------------------


def permissions() -> list[PermissionDef]:
    return [PermissionDef(SEND, _l("Send direct mail"))]


def menu_items() -> list[MenuItem]:
    """ "Direct mail", only while notifications is enabled (the start-up check, outside a
    request, sees the item)."""
    if has_app_context() and not notifications_enabled():
        return []
    return [menu("mail", _l("Direct mail"), SEND, 60)]


# -- the form ---------------------------------------------------------------------------


class MailForm(FlaskForm):
    mailing_list_id = SelectField(
        _l("Mailing list"), coerce=optional_id, validators=[DataRequired()]
    )
    subject = StringField(
        _l("Subject"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    body = TextAreaField(
        _l("Text"), filters=[clean_text], validators=[DataRequired(), Length(max=50_000)]
    )
    mailing_id = HiddenField()  # made when the page is shown: the same form sends once

    def validate_mailing_id(self, field: HiddenField) -> None:
        if not MAILING_ID.match(field.data or ""):
            raise ValidationError(_("The form has expired. Reload the page and try again."))


@dataclass
class MailResult:
    queued: int = 0
    repeated: int = 0  # already queued by an earlier submit of the same form
    no_email: int = 0


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := list(islice(items, size)):
        yield chunk


def idempotency_key(mailing_id: str, email: str) -> str:
    """(mailing, recipient) in the outbox's 200 characters, whatever the address length."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"sales.mail:{mailing_id}:{digest}"


def queue_mail(
    db: Session, list_id: int, subject: str, body: str, mailing_id: str, user: Any
) -> MailResult:
    """Queue the e-mail to every member of the list with an e-mail, in the caller's
    transaction (one insert per batch)."""
    from addons.notifications.outbox import enqueue_many

    result = MailResult()
    members = mailing_list_members(db, list_id, user)
    for batch in _chunks(iter(members), BATCH):
        rows = []
        for _id, _name, emails in batch:
            if not emails:
                result.no_email += 1
                continue
            rows.append(
                {
                    "channel": "email",
                    "recipient": emails[0],
                    "subject": " ".join(subject.split())[:300],
                    "body": body,
                    "idempotency_key": idempotency_key(mailing_id, emails[0]),
                }
            )
        added = enqueue_many(db, rows)
        result.queued += added
        result.repeated += len(rows) - added
    return result


def _preselected(form: MailForm) -> int | None:
    """``?list=<id>`` (a link from a mailing list) chooses that list, if it is a choice."""
    wanted = requested_id("list")
    return wanted if wanted in {choice.value for choice in form.mailing_list_id.choices} else None


def _page(form: MailForm, status: int = 200) -> ResponseReturnValue:
    body = render_template(
        "sales/mail.html",
        form=form,
        invalid=status == 400,
        breadcrumbs=[(_("Direct mail"), None)],
    )
    return body, status


@bp.route("/mail", methods=["GET", "POST"])
@require(SEND)
def mail() -> ResponseReturnValue:
    """GET: compose; POST: queue the e-mail to the chosen list's members, say how many."""
    if not notifications_enabled():
        abort(404)
    form = MailForm()
    form.mailing_list_id.choices = list_choices()
    if not form.is_submitted():
        form.mailing_id.data = secrets.token_hex(16)
        form.mailing_list_id.data = _preselected(form)
        return _page(form)
    if not form.validate():
        return _page(form, 400)
    db = db_session()
    result = queue_mail(
        db,
        form.mailing_list_id.data,
        form.subject.data,
        form.body.data,
        form.mailing_id.data,
        current_user,
    )
    mailing = db.get(MailingList, form.mailing_list_id.data)
    audit.record(
        db,
        "direct_mail",
        "crm_base_mailing_list",
        str(form.mailing_list_id.data),
        mailing_id=form.mailing_id.data,
        list=mailing.name if mailing else "",
        mail_subject=form.subject.data,
        queued=result.queued,
        repeated=result.repeated,
        no_email=result.no_email,
    )
    db.commit()
    _report(result)
    return redirect(url_for("sales.mail"), 303)


def _report(result: MailResult) -> None:
    if result.repeated and not result.queued:
        flash(_("This e-mail was already queued: nothing was sent twice."), "info")
    else:
        flash(_("E-mails queued: %(n)s.", n=result.queued), "success")
    if result.no_email:
        flash(_("Members without an e-mail address: %(n)s.", n=result.no_email), "warning")
