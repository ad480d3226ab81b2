"""Planning a contact, its card (the form view), and closing it: done with the result and
the next step (and the next contact, all or nothing) or cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from addons.crm_base.models import Counterparty
from addons.crm_base.notes import reaches_counterparty
from addons.crm_base.persons import counterparty_suggestions, resolve_counterparty
from addons.sales.contacts.common import (
    CREATE,
    DELETE,
    READ,
    UPDATE,
    contact_title,
    status_label,
)
from addons.sales.contacts.forms import (
    PLAN_FIELDS,
    ContactCardForm,
    ContactForm,
    DoneForm,
    opportunity_choices,
    prepare,
)
from addons.sales.models import CONTACT, OPPORTUNITY, Contact, Opportunity
from addons.sales.shared import (
    COUNTERPARTY_READ,
    card_view,
    new_page,
    person_choices,
    requested_id,
)
from addons.sales.views import bp, scoped
from core.db import utcnow
from core.security import has_permission, require
from core.tz import user_timezone
from core.ui.formview import FormView, LockFields, commit_unless_changed, is_stale
from core.web import db_session


def _card_extras(record: Contact) -> dict[str, Any]:
    """The card's breadcrumbs, its counterparty, and the "done" and "cancel" forms."""
    done_form = g.pop("sales_contact_done_form", None)
    if done_form is None and record.status == "planned":
        done_form = DoneForm(formdata=None, prefix="done", next_kind=record.kind)
        done_form.version.data = str(record.version)
    counterparty = db_session().scalar(
        select(Counterparty.name).where(Counterparty.id == record.counterparty_id)
    )
    return {
        "breadcrumbs": [
            (_("Contacts"), url_for("sales.contacts")),
            (contact_title(record.kind, record.subject), None),
        ],
        "status_label": status_label(record.status),
        "counterparty_name": counterparty or "",
        "counterparty_url": (
            url_for("crm_base.counterparty", record_id=record.counterparty_id)
            if has_permission(COUNTERPARTY_READ)
            else ""
        ),
        "done_form": done_form,
        "can_plan_next": has_permission(CREATE),
    }


CONTACT_FORM = card_view(
    FormView,
    "contact",
    Contact,
    CONTACT,
    ContactCardForm,
    template="sales/contact.html",
    update=UPDATE,
    delete=DELETE,
    title=lambda record: contact_title(record.kind, record.subject),
    prepare=prepare,
    context=_card_extras,
)


# -- planning --------------------------------------------------------------------------------


def _prefill(form: ContactForm) -> None:
    """A new contact's defaults: the next full hour, the user responsible, and the
    counterparty / opportunity of the page it was planned from (if the user reaches it)."""
    tz = user_timezone()
    next_hour = datetime.now(tz).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    form.planned_at.data = next_hour.astimezone(UTC)
    form.responsible_id.data = current_user.id
    counterparty = requested_id("counterparty")
    if counterparty is not None and reaches_counterparty(counterparty, current_user):
        form.counterparty_id.data = counterparty
    opportunity = requested_id("opportunity")
    if opportunity is not None:
        stmt = select(Opportunity.id, Opportunity.counterparty_id).where(
            Opportunity.id == opportunity
        )
        found = db_session().execute(scoped(stmt, Opportunity, OPPORTUNITY)).first()
        if found is not None and reaches_counterparty(found.counterparty_id, current_user):
            form.counterparty_id.data = found.counterparty_id
            form.opportunity_id.data = found.id


def _create(form: ContactForm) -> Contact:
    db = db_session()
    record = Contact(
        **{name: form[name].data for name in PLAN_FIELDS},
        status="planned",
        created_by=current_user.id,
    )
    db.add(record)
    db.commit()
    return record


@bp.route("/contacts/new", methods=["GET", "POST"])
@require(CREATE)
def contact_new() -> ResponseReturnValue:
    """Plan a contact; ``?counterparty=<id>`` (the card's tab) or ``?opportunity=<id>``
    prefill it."""
    form = ContactForm()
    status = 200
    if request.method == "GET":
        _prefill(form)
    prepare(form, None)
    if request.method == "POST":
        if form.validate_on_submit():
            record = _create(form)
            flash(
                _("Planned: %(title)s.", title=contact_title(record.kind, record.subject)),
                "success",
            )
            return redirect(url_for("sales.contact", record_id=record.id), 303)
        status = 400
    parent = (_("Contacts"), url_for("sales.contacts"))
    save_url = url_for("sales.contact_new")
    return new_page("sales/contact_new.html", form, save_url, parent, _("Plan a contact"), status)


@bp.route("/contacts/<int:record_id>")
@require(READ)
def contact(record_id: int) -> ResponseReturnValue:
    return CONTACT_FORM.show(record_id)


CONTACT_FORM.add_routes(bp, "/contacts", update=UPDATE, delete=DELETE)


@bp.route("/contacts/options/<which>")
@require(READ)
def contact_options(which: str) -> ResponseReturnValue:
    """``<option>``s for the form: counterparties matching what is typed (a datalist), or
    the persons / open opportunities of the counterparty typed (htmx reloads the selects
    when the counterparty changes)."""
    typed = " ".join(request.args.get("counterparty_id", "").split())[:300]
    if which == "counterparty":
        suggested = [SelectChoice(ref, "") for ref in counterparty_suggestions(typed)]
        return render_template("sales/contact_options.html", options=suggested, datalist=True)
    if which not in ("person", "opportunity"):
        abort(404)
    try:
        counterparty_id = resolve_counterparty(typed) if typed else None
    except ValidationError:
        counterparty_id = None
    make = person_choices if which == "person" else opportunity_choices
    return render_template("sales/contact_options.html", options=make(counterparty_id))


# -- done, cancel ----------------------------------------------------------------------------


def _back(record_id: int) -> ResponseReturnValue:
    return redirect(url_for("sales.contact", record_id=record_id), 303)


def _changed_meanwhile(record_id: int) -> ResponseReturnValue:
    flash(_("Someone changed this contact meanwhile; look at it again."), "warning")
    return _back(record_id)


def _only_planned(record: Contact, version: Any) -> ResponseReturnValue | None:
    """A redirect to the card with a message when the contact cannot change any more."""
    if record.status != "planned":
        flash(_("This contact is %(status)s already.", status=status_label(record.status)), "info")
        return _back(record.id)
    if is_stale(version, record):
        return _changed_meanwhile(record.id)
    return None


def follow_up(contact: Contact, at: datetime, subject: str, kind: str, by: int | None) -> Contact:
    """The next contact with the same counterparty, person, direction, opportunity and
    responsible."""
    return Contact(
        kind=kind,
        subject=subject,
        planned_at=at,
        duration_minutes=contact.duration_minutes,
        status="planned",
        responsible_id=contact.responsible_id,
        counterparty_id=contact.counterparty_id,
        person_id=contact.person_id,
        direction_id=contact.direction_id,
        opportunity_id=contact.opportunity_id,
        campaign_id=contact.campaign_id,
        source_id=contact.source_id,
        created_by=by,
    )


@bp.post("/contacts/<int:record_id>/done")
@require(UPDATE)
def contact_done(record_id: int) -> ResponseReturnValue:
    """Done: the result, the next step and, if asked, the next contact, all or nothing."""
    record = CONTACT_FORM.load(record_id)
    form = DoneForm(prefix="done")
    valid = form.validate_on_submit()
    refused = _only_planned(record, form.version.data)
    if refused is not None:
        return refused
    if valid and form.plan_next.data and not has_permission(CREATE):
        form.plan_next.errors.append(_("You may not plan contacts."))
        valid = False
    if not valid:
        g.sales_contact_done_form = form
        return CONTACT_FORM.render(record, status=400)
    db = db_session()
    record.status, record.done_at = "done", utcnow()
    record.result, record.next_step = form.result.data, form.next_step.data
    nxt = None
    if form.plan_next.data:
        nxt = follow_up(
            record, form.next_at.data, form.next_subject.data, form.next_kind.data, current_user.id
        )
        db.add(nxt)
    if not commit_unless_changed(db):
        return _changed_meanwhile(record_id)
    flash(_("Marked as done."), "success")
    if nxt is not None:
        when = format_datetime(nxt.planned_at, "short")
        flash(_("The next contact is planned for %(when)s.", when=when), "success")
    return _back(record_id)


@bp.post("/contacts/<int:record_id>/cancel")
@require(UPDATE)
def contact_cancel(record_id: int) -> ResponseReturnValue:
    record = CONTACT_FORM.load(record_id)
    form = LockFields()
    if not form.validate_on_submit():
        abort(400)
    refused = _only_planned(record, form.version.data)
    if refused is not None:
        return refused
    record.status = "cancelled"
    if not commit_unless_changed(db_session()):
        return _changed_meanwhile(record_id)
    flash(_("Cancelled."), "success")
    return _back(record_id)
