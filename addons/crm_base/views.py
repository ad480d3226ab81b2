"""crm_base pages: the counterparty list and quick create, limited to the user's scope.

The list is a :class:`core.ui.ListView` declaration; the routes below only hand the
request to it, each behind its own permission. Its search box takes a name, and also an
exact key answered from an index: a tax code (EDRPOU / RNOKPP), a phone number (any way
it is typed: normalised to E.164) or an e-mail address, of the counterparty itself or of
one of its contact persons.

Quick create, for any page of any addon (CL-1, "from anywhere with a name only"):

- ``POST /crm/counterparties`` (``name``): creates and opens the card (the list's form).
- ``GET /crm/counterparties/quick`` (endpoint ``crm_base.counterparty_quick``): the form
  as a fragment for htmx (``hx-get`` it into a modal body), a page of its own otherwise.
  ``?next=/path`` is where a browser without htmx goes after creating.
- ``POST /crm/counterparties/quick`` (``name``, ``next``): for htmx, answers a fragment
  (the new counterparty as a link) with the event ``crm_base:counterpartyCreated``
  (``{"id", "name", "url"}``) in ``HX-Trigger`` for the page to pick up; otherwise 303 to
  ``next`` (a local path) or to the new card. An empty name answers the form again with
  the message (status 200 for htmx, which swaps only 2xx answers; 400 otherwise).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from wtforms import HiddenField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from addons.crm_base.contacts import (
    ExactSearchListView,
    clean_text,
    contact_match,
    exact_condition,
    owners_with_channel,
)
from addons.crm_base.models import SUBJECT, Counterparty, PersonLink
from core.models import User
from core.security import has_permission, require
from core.ui import BulkAction, ChoiceFilter, Column
from core.web import db_session

bp = Blueprint("crm_base", __name__, url_prefix="/crm", template_folder="templates")
READ = "crm_base.counterparty.read"
CREATE = "crm_base.counterparty.create"
Manager = aliased(User, name="manager")

KIND_LABELS: dict[str, Any] = {"company": _l("Company"), "person": _l("Private person")}
RELATION_LABELS: dict[str, Any] = {"client": _l("Client"), "prospect": _l("Prospect")}
STATUS_LABELS: dict[str, Any] = {"active": _l("Active"), "inactive": _l("Inactive")}
TAX_CODE_RE = re.compile(r"^\d{8}$|^\d{10}$")


def choices(labels: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(value, label)`` pairs for a list filter, in declared order."""
    return list(labels.items())


def select_choices(labels: dict[str, Any]) -> list[SelectChoice]:
    """The options of a form's select, in declared order."""
    return [SelectChoice(value, label) for value, label in labels.items()]


def label_of(labels: dict[str, Any]) -> Any:
    """A cell formatter showing the translated label of a stored value."""
    return lambda value: str(labels.get(value, value or ""))


def labelled_column(key: str, label: Any, expr: Any, labels: dict[str, Any]) -> Column:
    """A column of a coded value, shown and exported as its translated label."""
    return Column(key, label, expr, format=label_of(labels), export_format=label_of(labels))


class CounterpartyForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=300)]
    )


class QuickCounterpartyForm(CounterpartyForm):
    next = HiddenField()


def _whose(value: str) -> Any:
    """The "mine / all" filter: "all" means everything the record scope lets the user see."""
    return Counterparty.manager_id == current_user.id if value == "mine" else None


def _assign_to_me(db: Session, ids: list[int]) -> int:
    """Bulk action: the current user becomes the responsible manager (audited per record)."""
    records = db.scalars(select(Counterparty).where(Counterparty.id.in_(ids))).all()
    for record in records:
        record.manager_id = current_user.id
    return len(records)


def counterparty_exact_match(query: str) -> Any:
    """The counterparties a search for an exact key means, or ``None`` for a name search.

    A string of 8 or 10 digits is a tax code (10 digits may also be a local phone
    number: both are looked up); a phone or an e-mail matches the counterparty's own
    channels and those of its contact persons. Each part is an index lookup, joined by
    UNION inside ``id IN (…)``: one query, fast at a million rows.
    """
    parts = []
    digits = re.sub(r"[\s-]", "", query or "")
    if TAX_CODE_RE.match(digits):
        parts.append(select(Counterparty.id).where(Counterparty.tax_code == digits))
    match = contact_match(query)
    if match is not None:
        parts.append(owners_with_channel("counterparty_id", *match))
        parts.append(
            select(PersonLink.counterparty_id).where(
                PersonLink.person_id.in_(owners_with_channel("person_id", *match))
            )
        )
    return exact_condition(Counterparty.id, parts)


COUNTERPARTIES = ExactSearchListView(
    name="crm_base_counterparties",
    endpoint="crm_base.counterparties",
    model=Counterparty,
    title=_l("Counterparties"),
    columns=[
        Column(
            "name",
            _l("Name"),
            Counterparty.name,
            sortable=True,
            link=lambda row: url_for("crm_base.counterparty", record_id=row.id),
        ),
        labelled_column("kind", _l("Kind"), Counterparty.kind, KIND_LABELS),
        labelled_column("relation", _l("Relation"), Counterparty.relation, RELATION_LABELS),
        labelled_column("status", _l("Status"), Counterparty.status, STATUS_LABELS),
        Column("tax_code", _l("Tax code"), Counterparty.tax_code, css="text-nowrap"),
        Column(
            "manager",
            _l("Manager"),
            func.coalesce(func.nullif(Manager.name, ""), Manager.login),
            nullable=True,
        ),
        Column("created", _l("Created"), Counterparty.created_at, sortable=True),
    ],
    joins=[(Manager, Manager.id == Counterparty.manager_id)],
    search=[Counterparty.name],
    exact=counterparty_exact_match,
    filters=[
        ChoiceFilter(
            "whose",
            _l("Whose"),
            [("all", _l("All I may see")), ("mine", _l("Mine"))],
            where=_whose,
            default="all",
        ),
        ChoiceFilter("kind", _l("Kind"), choices(KIND_LABELS), expr=Counterparty.kind),
        ChoiceFilter(
            "relation", _l("Relation"), choices(RELATION_LABELS), expr=Counterparty.relation
        ),
        ChoiceFilter("status", _l("Status"), choices(STATUS_LABELS), expr=Counterparty.status),
    ],
    default_sort="name",
    subject=SUBJECT,
    owner=Counterparty.manager_id,
    export_permission="crm_base.counterparty.export",
    export_endpoint="crm_base.counterparties_export",
    bulk_actions=[
        BulkAction(
            "assign_to_me",
            _l("Make me the manager"),
            _assign_to_me,
            permission="crm_base.counterparty.update",
            confirm=_l("Become the manager of the ticked counterparties?"),
        )
    ],
    bulk_endpoint="crm_base.counterparties_bulk",
    empty_message=_l("No counterparties yet."),
    template="crm_base/counterparties.html",
)


def counterparty_list() -> ExactSearchListView:
    """COUNTERPARTIES with the group/tag filters and bulk actions and a column and filter
    per active additional attribute (built per request: attributes are data)."""
    from addons.crm_base.attributes import with_attributes
    from addons.crm_base.classification import with_classification

    return with_attributes(with_classification(COUNTERPARTIES), "counterparty", Counterparty.id)


@bp.route("/counterparties")
@require(READ)
def counterparties():  # type: ignore[no-untyped-def]
    from addons.crm_base.classification import bulk_choices

    return counterparty_list().render(
        quick_form=QuickCounterpartyForm(formdata=None),
        can_create=has_permission(CREATE),
        can_save_mailing=has_permission("crm_base.mailing_list.create"),
        classification=bulk_choices(),
    )


@bp.route("/counterparties/export.<fmt>")
@require("crm_base.counterparty.export")
def counterparties_export(fmt: str):  # type: ignore[no-untyped-def]
    return counterparty_list().export(fmt)


@bp.route("/counterparties/bulk", methods=["POST"])
@require(READ)
def counterparties_bulk():  # type: ignore[no-untyped-def]
    return counterparty_list().bulk()


def create_counterparty(name: str) -> Counterparty:
    """A new counterparty with only a name, managed by the current user (committed)."""
    db = db_session()
    record = Counterparty(name=name, manager_id=current_user.id)
    db.add(record)
    db.commit()
    return record


@bp.route("/counterparties", methods=["POST"])
@require(CREATE)
def counterparty_create():  # type: ignore[no-untyped-def]
    form = CounterpartyForm()
    if not form.validate_on_submit():
        flash(_("Give the counterparty a name."), "danger")
        return redirect(url_for("crm_base.counterparties"))
    record = create_counterparty(form.name.data)
    return redirect(url_for("crm_base.counterparty", record_id=record.id))


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (no open redirect), else ``None``."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


@bp.route("/counterparties/quick", methods=["GET", "POST"])
@require(CREATE)
def counterparty_quick() -> ResponseReturnValue:
    """Quick create with a name only, from any page (see the module docstring)."""
    form = QuickCounterpartyForm()
    if request.method == "GET":
        form.next.data = _local_path(request.args.get("next")) or ""
    elif form.validate_on_submit():
        record = create_counterparty(form.name.data)
        url = url_for("crm_base.counterparty", record_id=record.id)
        if not _is_htmx():
            flash(_("Created: %(name)s.", name=record.name), "success")
            return redirect(_local_path(form.next.data) or url, 303)
        event = {"crm_base:counterpartyCreated": {"id": record.id, "name": record.name, "url": url}}
        body = render_template("crm_base/counterparty_quick_done.html", record=record, url=url)
        return body, 200, {"HX-Trigger": json.dumps(event, ensure_ascii=True)}
    status = 400 if request.method == "POST" and not _is_htmx() else 200
    if _is_htmx():
        return render_template("crm_base/counterparty_quick.html", quick_form=form), status
    breadcrumbs = [
        (_("Counterparties"), url_for("crm_base.counterparties")),
        (_("New counterparty"), None),
    ]
    page = render_template(
        "crm_base/counterparty_quick_page.html", quick_form=form, breadcrumbs=breadcrumbs
    )
    return page, status


@bp.route("/counterparties/<int:record_id>")
@require(READ)
def counterparty(record_id: int):  # type: ignore[no-untyped-def]
    from addons.crm_base.card import show_card

    return show_card(record_id)
