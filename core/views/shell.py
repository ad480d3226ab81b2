"""The shell's own pages: the home dashboard, global search, the language switch."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import update

from core.app import LANGUAGES
from core.models import User
from core.security import public, require
from core.views.base import bp
from core.web import db_session, kernel

SEARCH_LIMIT = 10


@bp.route("/")
@require(None)
def index():  # type: ignore[no-untyped-def]
    """Home: the dashboard widgets of every enabled addon the user may see."""
    widgets = kernel().hooks.dashboard_widgets(current_user)
    return render_template("core/index.html", widgets=widgets)


@bp.route("/search")
@require(None)
def search():  # type: ignore[no-untyped-def]
    """Global search: every enabled addon answers for the records the user may read."""
    query = request.args.get("q", "").strip()[:200]
    hits = kernel().hooks.global_search(current_user, query, SEARCH_LIMIT) if query else []
    groups: dict[str, list] = {}  # type: ignore[type-arg]
    for hit in hits:
        groups.setdefault(hit.kind, []).append(hit)
    return render_template(
        "core/search.html", query=query, groups=groups, breadcrumbs=[(_("Search"), None)]
    )


@bp.route("/language", methods=["POST"])
@public
def language():  # type: ignore[no-untyped-def]
    """Switch the interface language: kept on the user's card, or in the session."""
    code = request.form.get("lang", "")
    if code in LANGUAGES:
        if current_user.is_authenticated:
            # A preference, not an edit of the user's card: no version bump, so an admin
            # editing the card at the same moment gets no false conflict.
            db = db_session()
            db.execute(update(User).where(User.id == current_user.id).values(language=code))
            db.commit()
        session["lang"] = code
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.index")
    return redirect(target)
