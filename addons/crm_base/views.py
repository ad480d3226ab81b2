"""crm_base pages: the counterparty list and card, limited to the user's record scope."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from addons.crm_base.models import SUBJECT, Counterparty
from core.audit import history
from core.security import get_scoped_or_404, require, scope_filter
from core.web import db_session

bp = Blueprint("crm_base", __name__, url_prefix="/crm", template_folder="templates")


class CounterpartyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=300)])


@bp.route("/counterparties")
@require("crm_base.counterparty.read")
def counterparties():  # type: ignore[no-untyped-def]
    stmt = select(Counterparty).order_by(Counterparty.name, Counterparty.id).limit(50)
    rows = db_session().scalars(scope_filter(stmt, SUBJECT, Counterparty.manager_id)).all()
    return render_template("crm_base/counterparties.html", rows=rows, form=CounterpartyForm())


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
@require("crm_base.counterparty.read")
def counterparty(record_id: int):  # type: ignore[no-untyped-def]
    record = get_scoped_or_404(Counterparty, record_id, SUBJECT, Counterparty.manager_id)
    changes = history(db_session(), Counterparty.__tablename__, record.id)
    return render_template("crm_base/counterparty.html", record=record, changes=changes)
