"""The counterparty card: edit (optimistic locking), delete, timeline, attachments, history.

The edit flow is a :class:`addons.crm_base.contacts.ContactsFormView` declaration (a form
view whose form also edits the counterparty's contact channels and addresses, all saved in
one transaction: a bad phone saves nothing); the routes below only hand the request to
it, each behind its own right. The tax code is checked by kind: EDRPOU for a company,
RNOKPP for a private person. The card's other tabs are core widgets
fed with this record: the timeline (``timeline_entries`` of every enabled addon, crm_base's
own entries built by :func:`counterparty_timeline`), the attachments panel (the rules for
``crm_base.counterparty`` are registered here), and tabs other addons add through
``card_tabs``.

Routes on crm_base's blueprint: ``GET|POST /crm/counterparties/<id>/edit`` (the card
opened on its form; the form posts here) and ``POST /crm/counterparties/<id>/delete``.
:func:`show_card` renders the card itself for ``views.counterparty``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.routing import BuildError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from addons.crm_base.codes import normalize_edrpou, normalize_rnokpp
from addons.crm_base.contacts import (
    ContactsFormView,
    address_rows,
    channel_rows,
    clean_text,
    normalize_website,
)
from addons.crm_base.models import SUBJECT, Counterparty
from addons.crm_base.tabs import reaches_counterparty
from addons.crm_base.views import (
    KIND_LABELS,
    RELATION_LABELS,
    STATUS_LABELS,
    bp,
    select_choices,
)
from core import attachments
from core.hooktypes import CardTab, TimelineEntry
from core.models import AuditEntry
from core.security import has_permission, user_choices, user_names
from core.ui.timeline import aware, timeline
from core.views.attachments import human_size, panel
from core.web import db_session, kernel

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
DELETE = "crm_base.counterparty.delete"
TABS = ("details", "timeline", "attachments", "history")
# The columns the timeline tells about, with their labels (others, like version, stay out).
FIELD_LABELS = {
    "name": _l("Name"),
    "manager_id": _l("Manager"),
    "kind": _l("Kind"),
    "relation": _l("Relation"),
    "status": _l("Status"),
    "tax_code": _l("Tax code"),
    "website": _l("Web site"),
    "notes": _l("Notes"),
}
#: The counterparty's own columns the form edits (its channels and addresses are rows).
FIELDS = ("name", "kind", "relation", "status", "tax_code", "manager_id", "website", "notes")


def _code(value: Any) -> Any:
    """A tax code as typed, without spaces; nothing typed is no code (``None``)."""
    if not isinstance(value, str):
        return value
    compact = "".join(value.split()).replace("\x00", "")
    return compact or None


def _optional_id(value: Any) -> int | None:
    """A select's value as a user id; the empty choice is "nobody"."""
    return None if value in (None, "") else int(value)


class CounterpartyEditForm(FlaskForm):
    """The card's form: the counterparty's columns, then its contacts and addresses.
    Defaults are the model's, so a form posted without a select keeps a new record's."""

    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )
    kind = SelectField(_l("Kind"), choices=select_choices(KIND_LABELS), default="company")
    relation = SelectField(
        _l("Relation"), choices=select_choices(RELATION_LABELS), default="prospect"
    )
    status = SelectField(_l("Status"), choices=select_choices(STATUS_LABELS), default="active")
    tax_code = StringField(
        _l("Tax code"),
        filters=[_code],
        description=_l("EDRPOU (8 digits) of a company, RNOKPP (10 digits) of a person."),
    )
    manager_id = SelectField(_l("Manager"), coerce=_optional_id)
    website = StringField(_l("Web site"), filters=[clean_text])
    notes = TextAreaField(_l("Notes"), filters=[clean_text], render_kw={"rows": 3})
    channels = channel_rows()
    addresses = address_rows()

    def validate_tax_code(self, field: StringField) -> None:
        """EDRPOU for a company, RNOKPP for a private person (sole traders too)."""
        if not field.data:
            return
        check = normalize_edrpou if self.kind.data == "company" else normalize_rnokpp
        try:
            field.data = check(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc

    def validate_website(self, field: StringField) -> None:
        try:
            field.data = normalize_website(field.data or "")
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


def _prepare(form: FlaskForm, record: Counterparty) -> None:
    """Managers to choose from: active users, and the current one even if deactivated."""
    form.manager_id.choices = [
        SelectChoice("", "—"),
        *(SelectChoice(uid, name) for uid, name in user_choices([record.manager_id])),
    ]


def _card_extras(record: Counterparty) -> Mapping[str, Any]:
    """The card's other tabs and its breadcrumbs."""
    card_url = url_for("crm_base.counterparty", record_id=record.id)
    tab = request.args.get("tab", "")
    manager = user_names([record.manager_id]).get(record.manager_id or 0, "")
    return {
        "breadcrumbs": [
            (_("Counterparties"), url_for("crm_base.counterparties")),
            (record.name, None),
        ],
        "tab": tab if tab in TABS else "details",
        "manager": manager,
        "labels": {
            "kind": KIND_LABELS.get(record.kind, record.kind),
            "relation": RELATION_LABELS.get(record.relation, record.relation),
            "status": STATUS_LABELS.get(record.status, record.status),
        },
        "timeline": timeline(SUBJECT, record.id),
        "attachments": panel(SUBJECT, record.id, f"{card_url}?tab=attachments"),
        "card_tabs": kernel().hooks.card_tabs(SUBJECT, record.id, current_user),
        "documents": _print_links(record),
    }


def _print_links(record: Counterparty) -> list[tuple[str, str]]:
    """(label, url) of the documents printable for a counterparty that the user may print."""
    links = []
    for doc in kernel().hooks.printable_documents():
        if doc.subject == SUBJECT and has_permission(doc.permission):
            try:
                url = url_for("core.print_document", name=doc.name, record_id=record.id)
            except BuildError:  # printing is not served by this app
                return []
            links.append((str(doc.label), url))
    return links


COUNTERPARTY_FORM = ContactsFormView(
    model=Counterparty,
    form=CounterpartyEditForm,
    fields=FIELDS,
    channel_owner="counterparty_id",
    with_addresses=True,
    subject=SUBJECT,
    owner=Counterparty.manager_id,
    template="crm_base/counterparty.html",
    endpoint="crm_base.counterparty",
    save_endpoint="crm_base.counterparty_edit",
    delete_endpoint="crm_base.counterparty_delete",
    index_endpoint="crm_base.counterparties",
    update_permission=UPDATE,
    delete_permission=DELETE,
    title=lambda record: record.name,
    prepare=_prepare,
    context=_card_extras,
)

attachments.register(
    attachments.AttachmentRules(
        SUBJECT,
        reach=attachments.scoped_reach(Counterparty, SUBJECT, Counterparty.manager_id),
        read=READ,
        write=UPDATE,
    )
)


def show_card(record_id: int) -> ResponseReturnValue:
    """The card (read right checked by the caller's route); the form is disabled without
    the update right."""
    return COUNTERPARTY_FORM.show(record_id)


COUNTERPARTY_FORM.add_routes(bp, "/counterparties", update=UPDATE, delete=DELETE)


# -- timeline -------------------------------------------------------------------------


CHOICE_LABELS = {"kind": KIND_LABELS, "relation": RELATION_LABELS, "status": STATUS_LABELS}


def _value(field: str, value: Any, names: Mapping[int, str]) -> str:
    if value in (None, ""):
        return "—"
    if field == "manager_id":
        return names.get(int(value), f"#{value}") if str(value).isdigit() else str(value)
    if field in CHOICE_LABELS:
        return str(CHOICE_LABELS[field].get(value, value))
    return str(value)


def _changes(entry: AuditEntry) -> dict[str, Any]:
    try:
        data = json.loads(entry.changes or "{}")
    except ValueError:
        return {}
    return {k: v for k, v in data.items() if k in FIELD_LABELS and isinstance(v, list)}


def _audit_entries(record_id: int) -> list[tuple[AuditEntry, dict[str, Any]]]:
    rows = db_session().scalars(
        select(AuditEntry)
        .where(
            AuditEntry.subject == Counterparty.__tablename__,
            AuditEntry.subject_id == str(record_id),
            AuditEntry.action.in_(("create", "update")),
        )
        .order_by(AuditEntry.id)
    )
    return [(e, _changes(e)) for e in rows]


def _change_entry(entry: AuditEntry, changes: dict[str, Any], names: dict[int, str]) -> Any:
    who = names.get(entry.user_id or 0, "")
    fields = ", ".join(str(FIELD_LABELS[k]) for k in changes)
    title = (
        _("%(who)s changed %(fields)s", who=who, fields=fields)
        if who
        else _("Changed: %(fields)s", fields=fields)
    )
    body = "\n".join(
        f"{FIELD_LABELS[k]}: {_value(k, old, names)} → {_value(k, new, names)}"
        for k, (old, new, *_rest) in changes.items()
    )
    return TimelineEntry(aware(entry.at), "crm_base.changed", title, body)


def counterparty_timeline(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """crm_base's part of a counterparty's chronology: creation, changes, attached files.

    Only for a reader who holds the read right and reaches the record (its scope): the
    ``user`` the hook is asked about, who need not be the signed-in one.
    """
    if subject != SUBJECT or not reaches_counterparty(subject_id, user):
        return []
    record = db_session().get(Counterparty, int(subject_id))
    if record is None:
        return []
    audit = _audit_entries(record.id)
    files = attachments.attachments_of(db_session(), SUBJECT, record.id)
    manager_ids = [v for _e, c in audit for v in c.get("manager_id", [])]
    names = user_names(
        [e.user_id for e, _c in audit] + [f.uploaded_by for f in files] + manager_ids
    )
    entries: list[TimelineEntry] = []
    created = next(((e, c) for e, c in audit if e.action == "create"), None)
    entries.append(_created_entry(record, created, names))
    entries += [_change_entry(e, c, names) for e, c in audit if e.action == "update" and c]
    for f in files:
        who = names.get(f.uploaded_by or 0, "")
        title = (
            _("%(who)s attached %(name)s", who=who, name=f.filename)
            if who
            else _("File attached: %(name)s", name=f.filename)
        )
        url = url_for("core.attachment_download", attachment_id=f.id)
        entries.append(
            TimelineEntry(
                aware(f.uploaded_at), "crm_base.attachment", title, human_size(f.size), url
            )
        )
    return entries


def _created_entry(
    record: Counterparty,
    audit: tuple[AuditEntry, dict[str, Any]] | None,
    names: dict[int, str],
) -> TimelineEntry:
    """From the audit log (who created it, under which name), else from the record itself
    (rows loaded in bulk are not audited one by one)."""
    if audit is None:
        return TimelineEntry(
            aware(record.created_at), "crm_base.created", _("Counterparty created"), record.name
        )
    entry, changes = audit
    who = names.get(entry.user_id or 0, "")
    title = _("%(who)s created the counterparty", who=who) if who else _("Counterparty created")
    name = changes.get("name", ["", record.name])[-1]
    return TimelineEntry(aware(entry.at), "crm_base.created", title, str(name))


def timeline_entries(subject: str, subject_id: int, user: Any) -> list[TimelineEntry]:
    """The card's part of the chronology (see ``addons.crm_base.AREAS``)."""
    return counterparty_timeline(subject, subject_id, user)


def card_tabs(subject: str, subject_id: int, user: Any) -> list[CardTab]:
    """The card's own tabs are in its template; nothing through the hook."""
    return []
