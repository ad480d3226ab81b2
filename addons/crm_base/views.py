"""crm_base pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from addons.crm_base.models import Counterparty
from core.security import require
from core.web import db_session

bp = Blueprint("crm_base", __name__, url_prefix="/crm", template_folder="templates")


@bp.route("/counterparties")
@require("crm_base.counterparty.read")
def counterparties():  # type: ignore[no-untyped-def]
    rows = db_session().scalars(select(Counterparty).order_by(Counterparty.name).limit(50)).all()
    return render_template("crm_base/counterparties.html", rows=rows)
