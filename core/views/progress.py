"""``GET /jobs/<id>``: the progress of one long job (see :mod:`core.ui.progress`).

htmx polls it for the component's fragment; a plain visit gets a page around the same
component; ``Accept: application/json`` gets the figures. Only the job's owner or a
superuser sees a job; anyone else gets 404, the same as for a job that does not exist.
"""

from __future__ import annotations

from flask import abort, jsonify, make_response, render_template, request
from flask_login import current_user

from core.security import require
from core.ui.progress import job_state, render_progress, visible_job
from core.views.base import bp
from core.web import db_session


@bp.route("/jobs/<int:job_id>")
@require(None)
def job(job_id: int):  # type: ignore[no-untyped-def]
    """One job's progress: fragment for htmx, JSON on request, else a small page."""
    found = visible_job(db_session(), job_id, current_user)
    if found is None:
        abort(404)
    if request.headers.get("HX-Request") == "true":
        response = make_response(render_progress(found))
    elif request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    ):
        response = jsonify(job_state(found))
    else:
        response = make_response(
            render_template("core/ui/progress_page.html", component=render_progress(found))
        )
    response.headers["Cache-Control"] = "no-store"  # a poll must never see a stale copy
    return response
