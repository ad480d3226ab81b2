"""crm_base pages: the counterparty list and card, limited to the user's record scope.

The list is a :class:`core.ui.ListView` declaration; the routes below only hand the
request to it, each behind its own permission.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from addons.crm_base.models import SUBJECT, Counterparty
from core.models import User
from core.security import has_permission, require
from core.ui import BulkAction, ChoiceFilter, Column, ListView
from core.web import db_session

bp = Blueprint("crm_base", __name__, url_prefix="/crm", template_folder="templates")
READ = "crm_base.counterparty.read"
Manager = aliased(User, name="manager")


class CounterpartyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])


def _whose(value: str) -> Any:
    """The "mine / all" filter: "all" means everything the record scope lets the user see."""
    return Counterparty.manager_id == current_user.id if value == "mine" else None


def _assign_to_me(db: Session, ids: list[int]) -> int:
    """Bulk action: the current user becomes the responsible manager (audited per record)."""
    records = db.scalars(select(Counterparty).where(Counterparty.id.in_(ids))).all()
    for record in records:
        record.manager_id = current_user.id
    return len(records)


COUNTERPARTIES = ListView(
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
    filters=[
        ChoiceFilter(
            "whose",
            _l("Whose"),
            [("all", _l("All I may see")), ("mine", _l("Mine"))],
            where=_whose,
            default="all",
        )
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


@bp.route("/counterparties")
@require(READ)
def counterparties():  # type: ignore[no-untyped-def]
    return COUNTERPARTIES.render(
        form=CounterpartyForm(), can_create=has_permission("crm_base.counterparty.create")
    )


@bp.route("/counterparties/export.<fmt>")
@require("crm_base.counterparty.export")
def counterparties_export(fmt: str):  # type: ignore[no-untyped-def]
    return COUNTERPARTIES.export(fmt)


@bp.route("/counterparties/bulk", methods=["POST"])
@require(READ)
def counterparties_bulk():  # type: ignore[no-untyped-def]
    return COUNTERPARTIES.bulk()


@bp.route("/counterparties", methods=["POST"])
@require("crm_base.counterparty.create")
def counterparty_create():  # type: ignore[no-untyped-def]
    form = CounterpartyForm()
    if not form.validate_on_submit():
        flash(_("Give the counterparty a name."), "danger")
        return redirect(url_for("crm_base.counterparties"))
    db = db_session()
    record = Counterparty(name=form.name.data, manager_id=current_user.id)
    db.add(record)
    db.commit()
    return redirect(url_for("crm_base.counterparty", record_id=record.id))


@bp.route("/counterparties/<int:record_id>")
@require(READ)
def counterparty(record_id: int):  # type: ignore[no-untyped-def]
    from addons.crm_base.card import show_card

    return show_card(record_id)
