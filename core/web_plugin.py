"""The core's own plugin: sign-in, the home page, and the core's rights and menu.

The core uses its own hooks, so the menu and the rights of the core come through exactly
the same path as any addon's.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.hookspecs import hookimpl
from core.hooktypes import MenuItem, PermissionDef
from core.models import User
from core.security import LoginUser, public, require, verify_password
from core.web import db_session, kernel

bp = Blueprint("core", __name__, template_folder="templates")


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
@public
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if form.validate_on_submit():
        user = db_session().scalar(select(User).where(User.login == form.login.data))
        if user and user.active and verify_password(user.password_hash, form.password.data):
            login_user(LoginUser(user))
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("core.index")
            return redirect(target)
        flash(_("Wrong login or password."), "danger")
    return render_template("core/login.html", form=form), 200 if not form.errors else 400


@bp.route("/logout", methods=["POST"])
@require(None)
def logout():  # type: ignore[no-untyped-def]
    logout_user()
    return redirect(url_for("core.login"))


@bp.route("/")
@require(None)
def index():  # type: ignore[no-untyped-def]
    k = kernel()
    addons = [k.available[name] for name in sorted(k.snapshot.enabled)]
    return render_template("core/index.html", addons=addons)


@hookimpl
def blueprints() -> list[Blueprint]:
    return [bp]


@hookimpl
def permissions() -> list[PermissionDef]:
    return [
        PermissionDef("core.addon.read", _l("See installed addons")),
        PermissionDef("core.addon.update", _l("Install and uninstall addons")),
        PermissionDef("core.user.read", _l("See users")),
        PermissionDef("core.user.update", _l("Manage users and groups")),
    ]


@hookimpl
def menu_items() -> list[MenuItem]:
    return [MenuItem("core.home", _l("Home"), "core.index", order=0)]
