"""partner_demo pages."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from addons.crm_base.models import Counterparty
from core.security import require
from core.web import db_session
from vitrylo_partner_demo.models import PartnerDemoNote

bp = Blueprint("partner_demo", __name__, url_prefix="/partner_demo", template_folder="templates")


@bp.route("/notes")
@require("partner_demo.note.read")
def notes():  # type: ignore[no-untyped-def]
    rows = db_session().execute(
        select(PartnerDemoNote, Counterparty.name)
        .join(Counterparty, Counterparty.id == PartnerDemoNote.counterparty_id)
        .order_by(PartnerDemoNote.created_at.desc())
        .limit(100)
    )
    return render_template("partner_demo/notes.html", rows=rows.all())
