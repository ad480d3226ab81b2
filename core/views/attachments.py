"""Attachment pages on the core's blueprint: the list on a record, upload, download, delete.

One set of routes serves every kind of record, so the checks live in one place: the kind's
rules (:mod:`core.attachments`, registered by its addon) give the right to read or write,
and whether the user reaches the record; the addon must be enabled; a read-only licence
refuses changes. Order of the checks: unknown kind or attachment → 404, missing right →
403, record outside the user's scope → 404 (never 403: no probing of other records).

The list is an htmx partial (``HX-Request``) that a card embeds; without JavaScript the
same URL is a page of its own and every form still works (POST, then redirect back).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import HiddenField

from core import attachments as store
from core.audit import record_denied
from core.models import Attachment
from core.security import require, user_names
from core.views.base import bp
from core.web import db_session, kernel

MAX_ID = 2**31 - 1
DOWNLOAD_CSP = "default-src 'none'; sandbox"


class UploadForm(FlaskForm):
    """One file; ``next`` is the page to return to after a plain (non-htmx) POST."""

    file = FileField(_l("File"))
    next = HiddenField()


class DeleteForm(FlaskForm):
    """Nothing but the CSRF token (and where to go back to)."""

    next = HiddenField()


ICONS = (
    ("application/pdf", "file-earmark-pdf"),
    ("image/", "file-earmark-image"),
    ("application/msword", "file-earmark-word"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml", "file-earmark-word"),
    ("application/vnd.oasis.opendocument.text", "file-earmark-word"),
    ("application/vnd.ms-excel", "file-earmark-excel"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml", "file-earmark-excel"),
    ("application/vnd.oasis.opendocument.spreadsheet", "file-earmark-excel"),
    ("text/csv", "filetype-csv"),
    ("text/", "file-earmark-text"),
)


@dataclass(frozen=True)
class Row:
    """One attachment as the list shows it."""

    attachment: Attachment
    uploader: str
    size: str

    @property
    def icon(self) -> str:
        """A bootstrap-icons name for the file's type."""
        kind = self.attachment.content_type
        return next((icon for prefix, icon in ICONS if kind.startswith(prefix)), "file-earmark")


@dataclass
class Panel:
    """What ``core/ui/attachments.html`` renders: the list, the upload form, a message."""

    subject: str
    subject_id: str
    rows: list[Row]
    can_write: bool
    return_url: str
    max_size: str
    accept: str
    error: str = ""
    message: str = ""

    @property
    def url(self) -> str:
        return url_for("core.attachments", subject=self.subject, subject_id=self.subject_id)


def human_size(size: int) -> str:
    """``532 B``, ``14.2 KB``, ``3.1 MB`` in the user's number format."""
    if size < 1024:
        return _("%(n)s B", n=size)
    if size < 1024 * 1024:
        return _("%(n)s KB", n=format_decimal(round(size / 1024, 1)))
    return _("%(n)s MB", n=format_decimal(round(size / 1024 / 1024, 1)))


def _safe_return(url: str | None, default: str) -> str:
    """Only a path on this site (``/crm/…``), never ``//evil`` or ``https://evil``."""
    if url and url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    return default


def panel(
    subject: str, subject_id: object, return_url: str = "", error: str = "", message: str = ""
) -> Panel:
    """The attachments panel of one record, for a card to include (checks done by caller).

    ``return_url`` is the page a plain form POST returns to (the card itself).
    """
    rules = store.rules_for(subject)
    if rules is None:
        raise LookupError(f"no attachment rules for {subject!r}")
    db = db_session()
    items = store.attachments_of(db, subject, subject_id)
    names = user_names(a.uploaded_by for a in items)
    own_url = url_for("core.attachments", subject=subject, subject_id=str(subject_id))
    return_to = _safe_return(return_url, own_url)
    return Panel(
        subject=subject,
        subject_id=str(subject_id),
        rows=[Row(a, names.get(a.uploaded_by, ""), human_size(a.size)) for a in items],
        can_write=rules.allows("write"),
        return_url=return_to,
        max_size=human_size(store.max_bytes(rules)),
        accept=",".join(sorted(store.EXTENSIONS)),
        error=error,
        message=message,
    )


# -- checks ---------------------------------------------------------------------------


def _rules_or_404(subject: str) -> store.AttachmentRules:
    rules = store.rules_for(subject) if store.SUBJECT_RE.match(subject) else None
    if rules is None:
        abort(404)
    return rules


def _check(rules: store.AttachmentRules, action: str, subject_id: str) -> None:
    """The right first (403), then the record (404, like a record that does not exist)."""
    if not rules.allows(action):
        record_denied(rules.permission(action))
        abort(403)
    if not store.SUBJECT_ID_RE.match(subject_id) or not rules.reach(subject_id):
        abort(404)
    if action == "write" and rules.addon in kernel().snapshot.read_only:
        from core.app import ReadOnlyAddon

        raise ReadOnlyAddon(_("This addon is read-only: the licence does not cover it."))


def _attachment_or_404(attachment_id: int, action: str) -> Attachment:
    row = db_session().get(Attachment, attachment_id) if 0 < attachment_id <= MAX_ID else None
    if row is None:
        abort(404)
    _check(_rules_or_404(row.subject), action, row.subject_id)
    return row


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _render(result: Panel, status: int = 200) -> ResponseReturnValue:
    """The partial for htmx (which only swaps 2xx answers), else a page of its own."""
    if _is_htmx():
        return render_template("core/ui/attachments.html", panel=result)
    return render_template("core/ui/attachments_page.html", panel=result), status


# -- routes ---------------------------------------------------------------------------


@bp.get("/attachments/for/<subject>/<subject_id>")
@require(None)  # the kind's own read right is checked inside: it differs per kind
def attachments(subject: str, subject_id: str) -> ResponseReturnValue:
    """The record's attachments: an htmx partial, or a page of its own."""
    _check(_rules_or_404(subject), "read", subject_id)
    return _render(panel(subject, subject_id, request.args.get("next", "")))


@bp.post("/attachments/for/<subject>/<subject_id>")
@require(None)
def attachment_upload(subject: str, subject_id: str) -> ResponseReturnValue:
    """Attach one file; refused files leave nothing behind and say why."""
    rules = _rules_or_404(subject)
    _check(rules, "write", subject_id)
    form = UploadForm()
    return_url = form.next.data or ""
    upload = request.files.get("file")
    if not form.validate_on_submit():
        error = _("The form has expired. Reload the page and try again.")
    elif upload is None or not upload.filename:
        error = _("Choose a file to attach.")
    else:
        try:
            saved = store.save_upload(
                db_session(), rules, subject_id, upload.stream, upload.filename, current_user.id
            )
        except store.AttachmentRefused as exc:
            error = str(exc)
        else:
            message = _("Attached: %(name)s.", name=saved.filename)
            if _is_htmx():
                return _render(panel(subject, subject_id, return_url, message=message))
            flash(message, "success")
            return redirect(_safe_return(return_url, request.path), 303)
    return _render(panel(subject, subject_id, return_url, error=error), 400)


@bp.get("/attachments/<int:attachment_id>")
@require(None)
def attachment_download(attachment_id: int) -> Response:
    """The file, as a download only: never shown inline, never sniffed into HTML."""
    row = _attachment_or_404(attachment_id, "read")
    path = store.file_path(row.storage_key)
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=row.filename,
        etag=row.sha256,
        last_modified=row.uploaded_at,
        max_age=0,
    )
    response.headers["Content-Disposition"] = store.content_disposition(
        row.filename, f"attachment-{row.id}"
    )
    response.headers["Content-Type"] = row.content_type  # as stored (Werkzeug may add a charset)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/attachments/<int:attachment_id>/delete")
@require(None)
def attachment_delete(attachment_id: int) -> ResponseReturnValue:
    """Remove the row, then the file; back to the page the button was on."""
    row = _attachment_or_404(attachment_id, "write")
    form = DeleteForm()
    if not form.validate_on_submit():
        abort(400)
    default = url_for("core.attachments", subject=row.subject, subject_id=row.subject_id)
    name = row.filename
    store.delete_attachment(db_session(), row)
    flash(_("Removed: %(name)s.", name=name), "success")
    return redirect(_safe_return(form.next.data, default), 303)
