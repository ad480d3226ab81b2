"""The Flask app factory: ``core.create_app()``."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, current_app, g, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import Forbidden, HTTPException

from core import sessions
from core.config import Settings
from core.csp import CSP
from core.db import reset_write_intent, set_write_intent
from core.hooktypes import MenuItem, ShellIndicator
from core.kernel import Kernel
from core.models import User
from core.security import LoginUser, has_permission
from core.web import babel, csrf, login_manager

log = logging.getLogger(__name__)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LANGUAGE_CHOICES = (("uk", "Українська"), ("en", "English"))
LANGUAGES = tuple(code for code, _label in LANGUAGE_CHOICES)


class ReadOnlyAddon(Forbidden):
    """A change to an addon's data that the licence no longer allows (its data stays)."""


def create_app(
    settings: Settings | None = None, kernel: Kernel | None = None, **overrides: Any
) -> Flask:
    """Build the app for one database; every discovered addon's routes are registered,
    and those of addons that are not installed answer 404."""
    settings = settings or Settings.from_env(**overrides)
    kernel = kernel or Kernel(settings)
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        SESSION_COOKIE_NAME="vitrylo_session",
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_DEFAULT_LOCALE="uk",
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        BABEL_TRANSLATION_DIRECTORIES=";".join(_translation_dirs(kernel)),
    )
    app.config.update({k.upper(): v for k, v in settings.extra.items() if k.isupper()})
    app.extensions["vitrylo"] = kernel

    login_manager.init_app(app)
    login_manager.login_view = "core.login"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)

    blueprint_addon: dict[str, str] = {}
    for addon, bp in kernel.hooks.blueprints(all_addons=True):
        app.register_blueprint(bp)
        blueprint_addon[bp.name] = addon
    app.jinja_env.filters["fromjson"] = _from_json
    for extras in kernel.hooks.jinja_setup(all_addons=True):
        app.jinja_env.filters.update(extras.filters)
        app.jinja_env.globals.update(extras.globals)

    @login_manager.user_loader
    def load_user(user_id: str) -> LoginUser | None:
        """A user only while their server-side session lives (see :mod:`core.sessions`).

        login_manager is one object per process: use the kernel of the app serving this
        request, not that of the app created last."""
        k: Kernel = current_app.extensions["vitrylo"]
        cfg = k.settings
        db = k.db.session()
        user = db.get(User, int(user_id))
        sid = session.get("sid", "")
        if user is None or not user.active:
            return None
        idle = timedelta(minutes=cfg.session_idle_minutes)
        lifetime = timedelta(hours=cfg.session_lifetime_hours)
        if not sessions.validate(db, sid, user.id, idle, lifetime):
            session.clear()
            return None
        return LoginUser(user, sid)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response

    @app.before_request
    def _gate() -> None:
        g.write_token = set_write_intent(request.method not in SAFE_METHODS)
        request_session = kernel.db.session()
        snapshot = kernel.refresh(request_session)
        request_session.commit()  # don't hold SQLite's write lock before the view needs it
        top = request.blueprints[-1] if request.blueprints else ""  # nested: the outermost
        addon = blueprint_addon.get(top)
        if addon and not kernel.is_enabled(addon):
            abort(404)
        if addon in snapshot.read_only and request.method not in SAFE_METHODS:
            raise ReadOnlyAddon(_("This addon is read-only: the licence does not cover it."))

    @app.teardown_request
    def _cleanup(_exc: BaseException | None) -> None:
        kernel.db.end_request()
        token = g.pop("write_token", None)
        if token is not None:
            reset_write_intent(token)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        message = exc.description if isinstance(exc, ReadOnlyAddon) else None
        return render_template("core/error.html", error=exc, message=message), exc.code or 500

    @app.errorhandler(Exception)
    def _server_error(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render_template("core/error.html", error=None), 500

    @app.context_processor
    def _shell() -> dict[str, Any]:
        snap = kernel.snapshot
        read_only = sorted(kernel.available[n].manifest.label for n in snap.read_only)
        return {
            # called by the layout only, so fragments and widgets don't ask the addons
            "menu": lambda: menu_tree(kernel) if current_user.is_authenticated else [],
            "shell_indicators": lambda: shell_indicators(kernel),
            "read_only_addons": read_only,
            "license_state": snap.license,
            "languages": LANGUAGE_CHOICES,
            "current_locale": lambda: str(get_locale()),
        }

    for _addon, command in kernel.hooks.cli_commands(all_addons=True):
        app.cli.add_command(command)
    return app


def _from_json(text: str) -> Any:
    """Template filter for JSON columns (the audit's changes); bad JSON shows as nothing."""
    try:
        return json.loads(text or "{}")
    except ValueError:
        return {}


def _translation_dirs(kernel: Kernel) -> list[str]:
    """The core's catalog and every addon's ``translations/`` folder (Flask-Babel merges them)."""
    dirs = [str(Path(__file__).resolve().parent / "translations")]
    dirs += [
        str(i.path / "translations")
        for i in kernel.available.values()
        if (i.path / "translations").is_dir()
    ]
    return dirs


def _select_locale() -> str:
    """The user's own language; before sign-in the one they picked, or the browser's."""
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return current_user.language  # type: ignore[no-any-return]
    if session.get("lang") in LANGUAGES:
        return session["lang"]  # type: ignore[no-any-return]
    return request.accept_languages.best_match(LANGUAGES) or "uk"


def shell_indicators(kernel: Kernel) -> list[ShellIndicator]:
    """The top bar's icons with a count for the signed-in user (none when signed out).
    Called by the layout only, so fragments rendered for htmx don't ask the addons."""
    if not current_user or not current_user.is_authenticated:
        return []
    return kernel.hooks.shell_indicators(current_user)


def menu_tree(kernel: Kernel) -> list[dict[str, Any]]:
    """The menu of enabled addons, filtered by the user's rights, as nested dicts."""
    routes = current_app.view_functions
    items = [
        i
        for i in kernel.hooks.menu_items()
        if has_permission(i.permission) and (i.endpoint is None or i.endpoint in routes)
    ]  # an item whose page does not exist (yet) is left out, not a broken shell
    children: dict[str | None, list[MenuItem]] = {}
    for item in sorted(items, key=lambda i: (i.order, str(i.label))):
        children.setdefault(item.parent, []).append(item)

    def build(parent: str | None) -> list[dict[str, Any]]:
        return [{"item": i, "children": build(i.id)} for i in children.get(parent, [])]

    return [n for n in build(None) if n["item"].endpoint or n["children"]]
