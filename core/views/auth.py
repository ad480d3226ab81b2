"""Sign-in, two-factor step, sign-out and the user's own account page (AD-1)."""

from __future__ import annotations

import time

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core import audit, sessions, throttle, twofactor
from core.models import User
from core.security import (
    LoginUser,
    PasswordError,
    hash_password,
    public,
    require,
    verify_password,
)
from core.views.base import bp
from core.web import db_session

PENDING_2FA_SECONDS = 300


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from the app, or a recovery code"), validators=[DataRequired(), Length(max=20)]
    )


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("new", message=_l("The passwords differ."))],
    )


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired()])


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else default


def _client_ip() -> str:
    return (request.remote_addr or "")[:64]


def _too_many(wait: int):  # type: ignore[no-untyped-def]
    message = _("Too many failed attempts. Try again in %(n)s seconds.", n=wait)
    response = render_template("core/message.html", title=_("Please wait"), message=message)
    return response, 429, {"Retry-After": str(wait)}


def _complete_login(user: User):  # type: ignore[no-untyped-def]
    """The password (and code) were right: a new server-side session, a new cookie."""
    db = db_session()
    throttle.clear(db, user.login)
    sid = sessions.start(db, user.id, _client_ip(), request.user_agent.string or "")
    session.clear()
    session["sid"] = sid
    login_user(LoginUser(user, sid))
    audit.record(db, "login", "core_user", str(user.id))
    db.commit()
    return redirect(_safe_next(url_for("core.index")))


def _fail(login: str, form_template: str, form: FlaskForm):  # type: ignore[no-untyped-def]
    db = db_session()
    throttle.record_failure(db, login, _client_ip())
    audit.record(db, "login_failed", "core_user", "", login=login)
    db.commit()
    flash(_("Wrong login or password."), "danger")
    return render_template(form_template, form=form), 200


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("core/login.html", form=form), 400 if form.errors else 200
    db = db_session()
    login_name = (form.login.data or "").strip()
    wait = throttle.retry_after(db, login_name, _client_ip())
    if wait:
        return _too_many(wait)
    user = db.scalar(select(User).where(User.login == login_name))
    if (
        user is None
        or not user.active
        or not verify_password(user.password_hash, form.password.data or "")
    ):
        return _fail(login_name, "core/login.html", form)
    if user.totp_secret:
        session.clear()
        session["pending_2fa"] = {"user": user.id, "at": time.time()}
        return redirect(url_for("core.login_code", next=request.args.get("next", "")))
    return _complete_login(user)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():  # type: ignore[no-untyped-def]
    pending = session.get("pending_2fa")
    if not pending or time.time() - pending["at"] > PENDING_2FA_SECONDS:
        session.pop("pending_2fa", None)
        return redirect(url_for("core.login"))
    db = db_session()
    user = db.get(User, pending["user"])
    if user is None or not user.active or not user.totp_secret:
        return redirect(url_for("core.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        return render_template("core/login_code.html", form=form)
    wait = throttle.retry_after(db, user.login, _client_ip())
    if wait:
        return _too_many(wait)
    code = form.code.data or ""
    if twofactor.verify_code(user.totp_secret, code) or twofactor.use_recovery_code(
        db, user.id, code
    ):
        return _complete_login(user)
    return _fail(user.login, "core/login_code.html", form)


@bp.route("/logout", methods=["POST"])
@require(None)
def logout():  # type: ignore[no-untyped-def]
    db = db_session()
    sessions.revoke(db, current_user.session_id)
    audit.record(db, "logout", "core_user", str(current_user.id))
    db.commit()
    logout_user()
    session.clear()
    return redirect(url_for("core.login"))


@bp.route("/account", methods=["GET", "POST"])
@require(None)
def account():  # type: ignore[no-untyped-def]
    db = db_session()
    user = db.get(User, current_user.id)
    if user is None:
        abort(404)
    form = PasswordForm()
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current.data or ""):
            form.current.errors.append(_("This is not your current password."))
        else:
            try:
                user.password_hash = hash_password(form.new.data or "", user.login)
            except PasswordError as exc:
                form.new.errors.append(str(exc))
            else:
                sessions.revoke_all(db, user.id)  # every other browser is signed out
                db.commit()
                flash(_("Password changed. Other sessions were signed out."), "success")
                return _complete_login(user)
    return render_template(
        "core/account.html", user=user, form=form, disable_form=ConfirmPasswordForm()
    ), 400 if form.errors else 200


@bp.route("/account/2fa", methods=["GET", "POST"])
@require(None)
def account_2fa():  # type: ignore[no-untyped-def]
    db = db_session()
    user = db.get(User, current_user.id)
    if user is None:
        abort(404)
    if user.totp_secret:
        return redirect(url_for("core.account"))
    secret = session.get("totp_setup") or twofactor.new_secret()
    session["totp_setup"] = secret
    form = CodeForm()
    if form.validate_on_submit():
        codes = twofactor.enable(db, user, secret, form.code.data or "")
        if codes is not None:
            db.commit()
            session.pop("totp_setup", None)
            return render_template("core/recovery_codes.html", codes=codes)
        form.code.errors.append(_("The code is not right; check the clock of your phone."))
    return render_template(
        "core/account_2fa.html",
        form=form,
        secret=secret,
        uri=twofactor.provisioning_uri(secret, user.login),
    )


@bp.route("/account/2fa/disable", methods=["POST"])
@require(None)
def account_2fa_disable():  # type: ignore[no-untyped-def]
    db = db_session()
    user = db.get(User, current_user.id)
    form = ConfirmPasswordForm()
    if user is None or not form.validate_on_submit():
        abort(400)
    if not verify_password(user.password_hash, form.password.data or ""):
        flash(_("This is not your current password."), "danger")
    else:
        twofactor.disable(db, user)
        db.commit()
        flash(_("Two-factor sign-in is off."), "success")
    return redirect(url_for("core.account"))
