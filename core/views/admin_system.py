"""Administration of the system: addons and the licence, the audit log, maintenance.

Every view is guarded by :func:`core.security.require`. Every change is a POST carrying a
CSRF token, reached through a confirmation page (GET) that shows what the change will do.
A refused or failed change becomes a flash message, never a 500: these pages are where an
administrator repairs things, so they must keep working when something is wrong.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response
from wtforms import BooleanField, StringField
from wtforms.validators import DataRequired, Length

from core import audit, depgraph, maintenance
from core.addons import AddonError, PurgePlan, bump_counter
from core.depgraph import DependencyError
from core.licenses import LicenseState, install_license
from core.licensing import LicenseError
from core.loader import AddonInfo
from core.maintenance import MaintenanceError
from core.models import ADDON_UNINSTALLED, AuditEntry, InstalledAddon, User
from core.security import has_permission, require
from core.web import db_session, kernel

bp = Blueprint("core_system", __name__, url_prefix="/admin")
log = logging.getLogger(__name__)
T = TypeVar("T")

LICENSE_MAX_BYTES = 64 * 1024
AUDIT_PAGE_SIZE = 100
AUDIT_ACTIONS = (
    "login",
    "login_failed",
    "logout",
    "denied",
    "create",
    "update",
    "delete",
    "backup",
    "restore",
)
RESTORE_WORD = "RESTORE"
REFUSALS = (AddonError, DependencyError, LicenseError, MaintenanceError)

STATE_LABELS = {
    "available": _l("Available"),
    "installed": _l("Installed"),
    "uninstalled": _l("Uninstalled, data kept"),
    "upgrade": _l("Upgrade pending"),
    "read_only": _l("Read-only: not licensed"),
    "missing": _l("In the database, but its code is missing"),
}
KIND_LABELS = {"free": _l("Free"), "commercial": _l("Commercial")}
SOURCE_LABELS = {"bundled": _l("Bundled"), "path": _l("Folder"), "entry_point": _l("Package")}
ACTION_LABELS = {
    "install": _l("Install"),
    "upgrade": _l("Upgrade"),
    "uninstall": _l("Uninstall"),
    "purge": _l("Purge data"),
}
LICENSE_STATE_LABELS = {
    "none": _l("No licence"),
    "valid": _l("Valid"),
    "expired": _l("Expired"),
    "invalid": _l("Invalid"),
}


# -- forms ------------------------------------------------------------------------------


class ConfirmForm(FlaskForm):
    """Only the CSRF token: the confirmation is the POST from the confirmation page."""


class UninstallForm(FlaskForm):
    with_dependents = BooleanField(_l("Uninstall the addons that depend on it too"))


class PurgeForm(FlaskForm):
    confirm = StringField(
        _l("Type the addon's name to confirm"), validators=[DataRequired(), Length(max=40)]
    )


class LicenseForm(FlaskForm):
    file = FileField(
        _l("Licence file"),
        validators=[
            FileRequired(_l("Choose a licence file.")),
            FileSize(LICENSE_MAX_BYTES, message=_l("A licence file is at most 64 KB.")),
        ],
    )


class RestoreForm(FlaskForm):
    file = FileField(_l("Backup file"), validators=[FileRequired(_l("Choose a backup file."))])
    target_url = StringField(
        _l("URL of a new, empty database"), validators=[DataRequired(), Length(max=500)]
    )
    confirm = StringField(
        _l("Type %(word)s to confirm", word=RESTORE_WORD),
        validators=[DataRequired(), Length(max=20)],
    )


# -- helpers ----------------------------------------------------------------------------


def _release() -> None:
    """End the request's transaction before the manager uses its own connections.

    A POST begins its transaction as a writer (``BEGIN IMMEDIATE`` on SQLite), and so does
    every transaction the manager opens during it: holding the request's would make those
    wait and fail. After this, reads go through short sessions until the manager is done.
    """
    db_session().commit()


def _attempt(what: str, action: Callable[[], T]) -> tuple[bool, T | None]:
    """Run ``action``; a refusal or failure becomes a flash message instead of a 500.

    Refusals (``AddonError`` and the like) carry a message written for the admin; anything
    else is a bug or a broken addon (a failing ``post_install``): logged, and named briefly.
    """
    try:
        return True, action()
    except REFUSALS as exc:
        flash(_("%(what)s was not done: %(reason)s", what=what, reason=str(exc)), "danger")
    except Exception as exc:
        log.exception("%s failed", what)
        first_line = (str(exc).splitlines() or [""])[0][:300]
        flash(
            _(
                "%(what)s failed (%(reason)s); the details are in the server log.",
                what=what,
                reason=f"{type(exc).__name__}: {first_line}",
            ),
            "danger",
        )
    return False, None


def _addon_or_404(name: str) -> AddonInfo:
    info = kernel().available.get(name)
    if info is None:
        abort(404)
    return info


def _labels(names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, label) pairs, for pages that list addons by their human name."""
    available = kernel().available
    return [(n, available[n].manifest.label if n in available else n) for n in names]


def _back_to_addons() -> Response:
    return redirect(url_for("core_system.addons"))


def _done(message: str) -> Response:
    """After a change: let this process see it at once, say so, and go back to the list."""
    kernel().refresh()
    flash(message, "success")
    return _back_to_addons()


# -- the addons page --------------------------------------------------------------------


@dataclass
class AddonRow:
    """One line of the addons table."""

    name: str
    label: str
    summary: str
    disk_version: str
    db_version: str
    kind: str
    source: str
    depends: list[str]
    states: list[str]
    actions: list[str] = field(default_factory=list)


def _states(
    info: AddonInfo | None, row: InstalledAddon | None, pending: bool, lic: LicenseState
) -> list[str]:
    if info is None:
        return ["missing"]
    if row is None:
        return ["available"]
    if row.state == ADDON_UNINSTALLED:
        return ["uninstalled"]
    states = ["installed"]
    if pending:
        states.append("upgrade")
    if info.manifest.commercial and not lic.covers(info.name):
        states.append("read_only")
    return states


def _actions(states: list[str]) -> list[str]:
    if "available" in states:
        return ["install"]
    if "uninstalled" in states:
        return ["install", "purge"]
    if "installed" in states:
        return ["upgrade", "uninstall"] if "upgrade" in states else ["uninstall"]
    return []


def _addon_rows(session: Session, lic: LicenseState) -> list[AddonRow]:
    k = kernel()
    rows = k.manager.rows(session)
    pending = k.manager.pending_upgrades(session)
    result = []
    for name in sorted(set(k.available) | set(rows)):
        info, row = k.available.get(name), rows.get(name)
        states = _states(info, row, name in pending, lic)
        m = info.manifest if info else None
        result.append(
            AddonRow(
                name=name,
                label=m.label if m else name,
                summary=m.summary if m else "",
                disk_version=m.version if m else "",
                db_version=row.version if row else "",
                kind=m.license if m else "",
                source=info.source if info else "",
                depends=[str(d) for d in m.depends] if m else [],
                states=states,
                actions=_actions(states),
            )
        )
    return result


def _active_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.active.is_(True))) or 0


@bp.route("/addons")
@require("core.addon.read")
def addons():  # type: ignore[no-untyped-def]
    session = db_session()
    lic = kernel().license_state(session)
    return render_template(
        "core/admin/addons.html",
        rows=_addon_rows(session, lic),
        lic=lic,
        users_used=_active_users(session),
        license_form=LicenseForm(),
        can_update=has_permission("core.addon.update"),
        can_license=has_permission("core.license.update"),
        state_labels=STATE_LABELS,
        kind_labels=KIND_LABELS,
        source_labels=SOURCE_LABELS,
        action_labels=ACTION_LABELS,
        license_state_labels=LICENSE_STATE_LABELS,
    )


# -- install ----------------------------------------------------------------------------


def _licence_refusal(names: list[str]) -> str | None:
    """Why the licence forbids installing ``names`` (commercial and not covered), if it does."""
    k = kernel()
    with k.db.session_factory() as session:  # short: a POST goes on to install
        lic = k.license_state(session)
    refused = [n for n in names if k.available[n].manifest.commercial and not lic.covers(n)]
    if not refused:
        return None
    return _(
        "Commercial addon(s) %(names)s need a licence that covers them (%(why)s). "
        "Install such a licence on the addons page first.",
        names=", ".join(refused),
        why=lic.message or _("it does not cover them"),
    )


def _roles(name: str, order: list[str]) -> list[tuple[str, str, str]]:
    """(name, label, role) for the install page: the addon, a dependency, or glue."""
    deps = depgraph.all_dependencies(name, kernel().available)
    return [
        (n, label, "addon" if n == name else "dependency" if n in deps else "glue")
        for n, label in _labels(order)
    ]


def _install_plan(name: str) -> tuple[list[str], str | None]:
    """What installing ``name`` brings, dependencies first, or why it cannot be installed."""
    try:
        order = kernel().manager.plan_install([name])
    except DependencyError as exc:
        return [], str(exc)
    return order, _licence_refusal(order)


@bp.route("/addons/<name>/install", methods=["GET", "POST"])
@require("core.addon.update")
def addon_install(name: str):  # type: ignore[no-untyped-def]
    info = _addon_or_404(name)
    form = ConfirmForm()
    if form.validate_on_submit():
        return _do_install(info)
    order, refusal = _install_plan(name)
    return render_template(
        "core/admin/addon_install.html",
        info=info,
        form=form,
        order=_roles(name, order),
        refusal=refusal,
    )


def _do_install(info: AddonInfo) -> Response:
    _release()
    refusal = _install_plan(info.name)[1]
    what = _("Installing %(name)s", name=info.manifest.label)
    if refusal:
        flash(_("%(what)s was not done: %(reason)s", what=what, reason=refusal), "danger")
        return _back_to_addons()
    ok, done = _attempt(what, lambda: kernel().manager.install([info.name]))
    if not ok:
        return _back_to_addons()
    if not done:
        return _done(_("%(name)s was already installed.", name=info.manifest.label))
    return _done(_("Installed: %(names)s.", names=", ".join(label for _n, label in _labels(done))))


# -- upgrade ----------------------------------------------------------------------------


def _pending(name: str) -> tuple[str, str] | None:
    return kernel().manager.pending_upgrades(db_session()).get(name)


@bp.route("/addons/<name>/upgrade", methods=["GET", "POST"])
@require("core.addon.update")
def addon_upgrade(name: str):  # type: ignore[no-untyped-def]
    info = _addon_or_404(name)
    form = ConfirmForm()
    pending = _pending(name)
    if form.validate_on_submit():
        if pending is None:
            flash(_("%(name)s has no upgrade pending.", name=info.manifest.label), "danger")
            return _back_to_addons()
        _release()
        what = _("Upgrading %(name)s", name=info.manifest.label)
        if not _attempt(what, lambda: kernel().manager.upgrade([name]))[0]:
            return _back_to_addons()
        return _done(
            _("%(name)s upgraded to %(version)s.", name=info.manifest.label, version=pending[1])
        )
    return render_template("core/admin/addon_upgrade.html", info=info, form=form, pending=pending)


# -- uninstall --------------------------------------------------------------------------


def _dependents(name: str) -> list[str]:
    k = kernel()
    installed = k.manager.installed(db_session())
    return depgraph.dependents([name], k.available, installed)


@bp.route("/addons/<name>/uninstall", methods=["GET", "POST"])
@require("core.addon.update")
def addon_uninstall(name: str):  # type: ignore[no-untyped-def]
    info = _addon_or_404(name)
    form = UninstallForm()
    if form.validate_on_submit():
        _release()
        what = _("Uninstalling %(name)s", name=info.manifest.label)
        ok, done = _attempt(
            what,
            lambda: kernel().manager.uninstall(
                [name], with_dependents=bool(form.with_dependents.data)
            ),
        )
        if not ok:
            return redirect(url_for("core_system.addon_uninstall", name=name))
        labels = ", ".join(label for _n, label in _labels(done or []))
        return _done(_("Uninstalled: %(names)s. Their data is kept.", names=labels))
    installed = name in kernel().manager.installed(db_session())
    return render_template(
        "core/admin/addon_uninstall.html",
        info=info,
        form=form,
        installed=installed,
        dependents=_labels(_dependents(name)),
    )


# -- purge ------------------------------------------------------------------------------


def _purge_plan(name: str) -> tuple[PurgePlan | None, str | None]:
    _release()  # a refused POST shows the plan again: the manager reads on its own
    try:
        return kernel().manager.plan_purge([name]), None
    except (AddonError, DependencyError) as exc:
        return None, str(exc)


@bp.route("/addons/<name>/purge", methods=["GET", "POST"])
@require("core.addon.update")
def addon_purge(name: str):  # type: ignore[no-untyped-def]
    info = _addon_or_404(name)
    form = PurgeForm()
    if form.validate_on_submit():
        if (form.confirm.data or "").strip() == name:
            return _do_purge(info)
        form.confirm.errors.append(_("Type exactly %(name)s to confirm.", name=name))
    plan, refusal = _purge_plan(name)
    status = 400 if form.errors else 200
    return render_template(
        "core/admin/addon_purge.html", info=info, form=form, plan=plan, refusal=refusal
    ), status


def _do_purge(info: AddonInfo) -> Response:
    _release()
    what = _("Purging %(name)s", name=info.manifest.label)
    ok, plan = _attempt(what, lambda: kernel().manager.purge([info.name]))
    if not ok or plan is None:
        return _back_to_addons()
    rows = sum(plan.rows.values())
    tables = sum(len(t) for t in plan.tables.values())
    return _done(
        _(
            "Purged %(name)s: %(tables)s table(s) and %(rows)s row(s) dropped.",
            name=info.manifest.label,
            tables=tables,
            rows=rows,
        )
    )


# -- licence ----------------------------------------------------------------------------


def _read_licence_file(form: LicenseForm) -> bytes:
    """The uploaded bytes, checked to be small UTF-8 text (``LicenseError`` otherwise)."""
    content: bytes = form.file.data.read(LICENSE_MAX_BYTES + 1)
    if len(content) > LICENSE_MAX_BYTES:
        raise LicenseError(_("A licence file is at most 64 KB."))
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LicenseError(_("This is not a licence file: it is not text.")) from exc
    return content


@bp.route("/license", methods=["POST"])
@require("core.license.update")
def license_upload():  # type: ignore[no-untyped-def]
    form = LicenseForm()
    if not form.validate_on_submit():
        for error in form.file.errors or [_("The form expired; try again.")]:
            flash(_("The licence was not installed: %(reason)s", reason=str(error)), "danger")
        return _back_to_addons()
    k, session = kernel(), db_session()
    try:
        lic = install_license(session, _read_licence_file(form), k.trusted_keys())
        bump_counter(session)
        used = _active_users(session)
        session.commit()  # before _done's refresh, which needs the SQLite write lock
    except LicenseError as exc:
        session.rollback()
        flash(_("The licence was not installed: %(reason)s", reason=str(exc)), "danger")
        return _back_to_addons()
    if used > lic.max_users:
        flash(
            _(
                "There are %(used)s active users but the licence allows %(allowed)s: no more "
                "can be activated until some are deactivated.",
                used=used,
                allowed=lic.max_users,
            ),
            "warning",
        )
    return _done(
        _(
            "Licence installed for %(customer)s, valid until %(expires)s.",
            customer=lic.customer,
            expires=lic.expires.isoformat(),
        )
    )


# -- the audit log ----------------------------------------------------------------------


@dataclass
class AuditFilters:
    """The audit page's filters as read from the query string; ``notes`` say what was ignored."""

    user: str = ""
    user_id: int | None = None
    action: str = ""
    subject: str = ""
    subject_id: str = ""
    date_from: date | None = None
    date_to: date | None = None
    before: int | None = None
    notes: list[str] = field(default_factory=list)

    def args(self) -> dict[str, str]:
        """The filters as query arguments (for the next-page link)."""
        values = {
            "user": self.user,
            "action": self.action,
            "subject": self.subject,
            "subject_id": self.subject_id,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {k: v for k, v in values.items() if v}


def _parse_date(args: Mapping[str, str], key: str, notes: list[str]) -> date | None:
    raw = args.get(key, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        notes.append(
            _("“%(value)s” is not a date (YYYY-MM-DD); that filter is ignored.", value=raw[:40])
        )
        return None


def _parse_user(session: Session, raw: str, filters: AuditFilters) -> None:
    """A login, or the number of a user (deleted users' entries keep their id)."""
    if not raw:
        return
    filters.user = raw[:80]
    found = session.scalar(select(User.id).where(User.login == filters.user))
    if found is not None:
        filters.user_id = found
    elif raw.isdigit() and len(raw) < 10:
        filters.user_id = int(raw)
    else:
        filters.user_id = -1  # a valid filter that matches no one
        filters.notes.append(_("No user has the login “%(login)s”.", login=filters.user))


def _parse_filters(session: Session, args: Mapping[str, str]) -> AuditFilters:
    filters = AuditFilters()
    _parse_user(session, args.get("user", "").strip(), filters)
    action = args.get("action", "").strip()
    if action in AUDIT_ACTIONS:
        filters.action = action
    elif action:
        filters.notes.append(
            _("Unknown action “%(value)s”; that filter is ignored.", value=action[:40])
        )
    filters.subject = args.get("subject", "").strip()[:80]
    filters.subject_id = args.get("subject_id", "").strip()[:64]
    filters.date_from = _parse_date(args, "date_from", filters.notes)
    filters.date_to = _parse_date(args, "date_to", filters.notes)
    before = args.get("before", "").strip()
    if before.isdigit() and len(before) < 19:
        filters.before = int(before)
    elif before:
        filters.notes.append(
            _("“%(value)s” is not an entry number; showing the newest.", value=before[:40])
        )
    return filters


def _audit_query(filters: AuditFilters) -> Select[tuple[AuditEntry]]:
    stmt = select(AuditEntry)
    if filters.user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == filters.user_id)
    if filters.action:
        stmt = stmt.where(AuditEntry.action == filters.action)
    if filters.subject:
        stmt = stmt.where(AuditEntry.subject == filters.subject)
    if filters.subject_id:
        stmt = stmt.where(AuditEntry.subject_id == filters.subject_id)
    if filters.date_from:
        stmt = stmt.where(AuditEntry.at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(AuditEntry.at < end)
    if filters.before is not None:
        stmt = stmt.where(AuditEntry.id < filters.before)
    return stmt.order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE_SIZE + 1)


@dataclass(frozen=True)
class Change:
    """One field of an entry: ``old → new`` for record changes, a plain value otherwise."""

    field: str
    old: Any = None
    new: Any = None
    value: Any = None
    is_change: bool = False


def _change(action: str, name: str, value: Any) -> Change:
    """A created record shows its values, a deleted one what it held, an update both."""
    if not (isinstance(value, list) and len(value) == 2):
        return Change(name, value=value)
    if action == "create":
        return Change(name, value=value[1])
    if action == "delete":
        return Change(name, value=value[0])
    return Change(name, value[0], value[1], is_change=True)


def _changes(entry: AuditEntry) -> list[Change]:
    """The entry's JSON ``{field: [old, new]}`` (or ``{key: value}`` for other actions)."""
    if not entry.changes:
        return []
    try:
        data = json.loads(entry.changes)
    except ValueError:
        return [Change("", value=entry.changes)]
    if not isinstance(data, dict):
        return [Change("", value=data)]
    return [_change(entry.action, name, value) for name, value in data.items()]


def _logins(session: Session, entries: list[AuditEntry]) -> dict[int, str]:
    """The logins of the page's users, in one query (not one per entry)."""
    ids = {e.user_id for e in entries if e.user_id is not None}
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.login).where(User.id.in_(ids)))
    return {user_id: login for user_id, login in rows}


@bp.route("/audit", endpoint="audit")
@require("core.audit.read")
def audit_log():  # type: ignore[no-untyped-def]
    session = db_session()
    filters = _parse_filters(session, request.args)
    entries = list(session.scalars(_audit_query(filters)))
    more = len(entries) > AUDIT_PAGE_SIZE
    entries = entries[:AUDIT_PAGE_SIZE]
    next_url = (
        url_for("core_system.audit", **filters.args(), before=entries[-1].id) if more else None
    )
    return render_template(
        "core/admin/audit.html",
        filters=filters,
        actions=AUDIT_ACTIONS,
        next_url=next_url,
        entries=[(e, _changes(e)) for e in entries],
        logins=_logins(session, entries),
    )


# -- maintenance ------------------------------------------------------------------------


def _maintenance_page(status: int = 200, **context: Any):  # type: ignore[no-untyped-def]
    k = kernel()
    return render_template(
        "core/admin/maintenance.html",
        db_label=maintenance.safe_url(k.db.url),
        db_kind=k.db.engine.dialect.name,
        confirm_form=ConfirmForm(),
        restore_form=context.pop("restore_form", None) or RestoreForm(),
        restore_word=RESTORE_WORD,
        **context,
    ), status


def _work_dir(prefix: str) -> Path:
    """A private folder in the instance folder for a backup on its way in or out."""
    instance = kernel().settings.instance_path
    instance.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=instance))


def _confirmed() -> bool:
    """A bare POST from the page: only its CSRF token to check (a missing one is a 400)."""
    return ConfirmForm().validate_on_submit()


@bp.route("/maintenance", endpoint="maintenance")
@require("core.maintenance.update")
def maintenance_page():  # type: ignore[no-untyped-def]
    return _maintenance_page()


@bp.route("/maintenance/backup", methods=["POST"])
@require("core.maintenance.update")
def maintenance_backup():  # type: ignore[no-untyped-def]
    if not _confirmed():
        abort(400)
    _release()
    folder = _work_dir("backup-")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    ext = "sqlite3" if kernel().db.is_sqlite else "dump"
    dest = folder / f"vitrylo-{stamp}.{ext}"
    ok, info = _attempt(_("The backup"), lambda: maintenance.backup(kernel().db, dest))
    if not ok or info is None:
        shutil.rmtree(folder, ignore_errors=True)
        return redirect(url_for("core_system.maintenance"))
    session = db_session()
    audit.record(session, "backup", "database", "", file=dest.name, size=info.size)
    session.commit()
    return _send_and_forget(dest, folder)


def _send_and_forget(path: Path, folder: Path) -> Response:
    """Send ``path`` as a download and leave no copy of the database on the server.

    The open handle keeps the data readable after the folder is removed (POSIX), which
    works where ``call_on_close`` does not: Werkzeug drops it for file responses.
    """
    handle = path.open("rb")
    shutil.rmtree(folder, ignore_errors=True)
    return send_file(
        handle,
        as_attachment=True,
        download_name=path.name,
        mimetype="application/octet-stream",
        max_age=0,
    )


@bp.route("/maintenance/check", methods=["POST"])
@require("core.maintenance.update")
def maintenance_check():  # type: ignore[no-untyped-def]
    if not _confirmed():
        abort(400)
    _release()
    ok, report = _attempt(_("Checking the database"), lambda: maintenance.check(kernel().db))
    return _maintenance_page(report=report if ok else None)


@bp.route("/maintenance/optimize", methods=["POST"])
@require("core.maintenance.update")
def maintenance_optimize():  # type: ignore[no-untyped-def]
    if not _confirmed():
        abort(400)
    _release()
    ok, done = _attempt(_("Optimizing the database"), lambda: maintenance.optimize(kernel().db))
    return _maintenance_page(optimized=done if ok else None)


@bp.route("/maintenance/restore", methods=["POST"])
@require("core.maintenance.update")
def maintenance_restore():  # type: ignore[no-untyped-def]
    form = RestoreForm()
    if not form.validate_on_submit():
        return _maintenance_page(400, restore_form=form)
    if (form.confirm.data or "").strip() != RESTORE_WORD:
        form.confirm.errors.append(_("Type exactly %(word)s to confirm.", word=RESTORE_WORD))
        return _maintenance_page(400, restore_form=form)
    _release()
    folder = _work_dir("restore-")
    try:
        upload = folder / "upload.backup"
        form.file.data.save(upload)
        target = (form.target_url.data or "").strip()
        ok, info = _attempt(_("Restoring"), lambda: maintenance.restore(upload, target))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not ok or info is None:
        return _maintenance_page(400, restore_form=form)
    session = db_session()
    audit.record(session, "restore", "database", "", target=info.target, rows=info.rows)
    session.commit()
    return _maintenance_page(restored=info)
