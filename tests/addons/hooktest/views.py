"""hooktest pages: one view, protected by a permission."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.security import require

bp = Blueprint("hooktest", __name__, url_prefix="/hooktest", template_folder="templates")


@bp.route("/thing")
@require("hooktest.thing.read")
def thing():  # type: ignore[no-untyped-def]
    return render_template("hooktest/thing.html")
