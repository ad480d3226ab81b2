"""Printing a record: ``/print/<document>/<record id>`` answers the document as a PDF.

Two checks, as everywhere: the *function* (the document's permission, 403 without it) and
the *object* (the document's ``context(record_id)`` loads the record with
:func:`core.security.get_scoped_or_404`, so a record outside the user's scope is 404, the
same answer as one that does not exist).
"""

from __future__ import annotations

from flask import Response, abort

from core.audit import record_denied
from core.printing import content_disposition, get_document, render_pdf, safe_filename
from core.security import has_permission, require
from core.views.base import bp

#: A PDF opens in the browser's viewer: Chrome draws it in an <embed>, which the app's
#: ``object-src 'none'`` blocks, so the PDF gets a policy of its own.
PDF_CSP = "frame-ancestors 'none'"


@bp.route("/print/<name>/<int:record_id>")
@require(None)
def print_document(name: str, record_id: int) -> Response:
    """The document ``name`` for record ``record_id``, inline, as ``application/pdf``."""
    doc = get_document(name)
    if doc is None:
        abort(404)
    if not has_permission(doc.permission):
        record_denied(doc.permission)
        abort(403)
    context = dict(doc.context(record_id))
    title = str(context.get("title") or doc.label)
    pdf = render_pdf(doc.template, context, title=title)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(
        safe_filename(f"{title} {record_id}"), f"{doc.name}-{record_id}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = PDF_CSP
    return response
