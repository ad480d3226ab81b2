"""Administration of users, teams, groups and rights (AD-1, AD-2).

Every view is guarded by :func:`core.security.require`; GET never changes anything and every
POST carries a CSRF token. A user's card uses optimistic locking on ``User.version`` so two
admins editing one card never silently overwrite each other. Changes go through the ORM so
the audit listener records each of them in the same transaction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp

try:  # WTForms 3.3 deprecates (value, label) tuples as choices
    from wtforms.fields import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None

from core import sessions
from core.audit import history
from core.licenses import active_users
from core.models import (
    SCOPES,
    AuditEntry,
    Group,
    GroupImplied,
    GroupPermission,
    GroupScope,
    Permission,
    Team,
    User,
    UserGroup,
    UserSession,
)
from core.security import PasswordError, has_permission, hash_password, require
from core.ui.formview import display, is_stale, plain
from core.ui.text import clean_text
from core.web import db_session, kernel

bp = Blueprint("core_users", __name__, url_prefix="/admin")

PAGE_SIZE = 50
MAX_ID = 2**31 - 1  # larger ids would overflow PostgreSQL's integer, so they cannot exist
LOGIN_RE = r"^[\w.@-]+$"
PHONE_RE = r"^[0-9+()\-. ]*$"
ACTIONS = ("read", "create", "update", "delete", "export", "print")
ACTION_LABELS = {
    "read": _l("Read"),
    "create": _l("Create"),
    "update": _l("Editing"),
    "delete": _l("Delete"),
    "export": _l("Export"),
    "print": _l("Print"),
}
SCOPE_LABELS = {"own": _l("Own records"), "team": _l("Team's records"), "all": _l("All records")}
HISTORY_ACTIONS = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "login": _l("signed in"),
    "logout": _l("signed out"),
    "denied": _l("refused"),
}


def _choice(value: Any, label: str) -> Any:
    return SelectChoice(value, label) if SelectChoice is not None else (value, label)


def _choice_parts(choice: Any) -> tuple[Any, str]:
    return (choice.value, choice.label) if hasattr(choice, "value") else (choice[0], choice[1])


LANGUAGES = [_choice("uk", "Українська"), _choice("en", "English")]


# -- forms ------------------------------------------------------------------------------


def _email_validator() -> Any:
    """WTForms' Email needs the ``email-validator`` package; without it, a plain shape check."""
    try:
        import email_validator  # noqa: F401
    except ImportError:
        return Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid e-mail address."))
    from wtforms.validators import Email

    return Email(message=_l("Enter a valid e-mail address."))


class ActionForm(FlaskForm):
    """A form with nothing but the CSRF token, for buttons that only POST."""


class UserForm(FlaskForm):
    login = StringField(
        _l("Login"),
        filters=[clean_text],
        validators=[
            DataRequired(),
            Length(max=80),
            Regexp(LOGIN_RE, message=_l("Use letters, digits and . _ - @ only.")),
        ],
    )
    name = StringField(_l("Name"), filters=[clean_text], validators=[Length(max=200)])
    email = StringField(
        _l("E-mail"),
        filters=[clean_text],
        validators=[Optional(), Length(max=254), _email_validator()],
    )
    phone = StringField(
        _l("Phone"),
        filters=[clean_text],
        validators=[
            Length(max=32),
            Regexp(PHONE_RE, message=_l("Use digits, spaces and + ( ) - only.")),
        ],
    )
    language = SelectField(_l("Language"), choices=LANGUAGES, default="uk")
    team_id = SelectField(_l("Team"), coerce=int, default=0)
    active = BooleanField(_l("Active (may sign in)"), default=True)
    is_superuser = BooleanField(_l("Superuser (every right)"))
    groups = SelectMultipleField(_l("Groups"), coerce=int, default=list)


class UserCreateForm(UserForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class UserEditForm(UserForm):
    version = HiddenField()


class SetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])


class GroupForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )
    description = TextAreaField(
        _l("Description"), filters=[clean_text], validators=[Length(max=500)]
    )
    implied = SelectMultipleField(_l("Also grants the rights of"), coerce=int, default=list)
    members = SelectMultipleField(_l("Members"), coerce=int, default=list)


class TeamForm(FlaskForm):
    name = StringField(
        _l("Name"), filters=[clean_text], validators=[DataRequired(), Length(max=120)]
    )


# -- helpers ----------------------------------------------------------------------------


def _get_or_404(db: Session, model: type[Any], obj_id: int) -> Any:
    """Load a row by id or answer 404 (also for ids too big to exist)."""
    obj = db.get(model, obj_id) if 0 < obj_id <= MAX_ID else None
    if obj is None:
        abort(404)
    return obj


def _arg(name: str, max_length: int) -> str:
    return clean_text(request.args.get(name, ""))[:max_length]


def _has_errors(form: FlaskForm) -> bool:
    return any(f.errors for f in form)


def _add_error(form_field: Any, message: str) -> None:
    form_field.errors = [*form_field.errors, message]


# -- users list -------------------------------------------------------------------------


def _user_page(db: Session, q: str, status: str, after: str) -> list[Any]:
    """One page of users (plus one row telling whether a next page exists), by login."""
    stmt = select(User, Team.name.label("team")).outerjoin(Team, User.team_id == Team.id)
    if q:
        stmt = stmt.where(
            or_(
                User.login.icontains(q, autoescape=True),
                User.name.icontains(q, autoescape=True),
                User.email.icontains(q, autoescape=True),
            )
        )
    if status in ("active", "inactive"):
        stmt = stmt.where(User.active.is_(status == "active"))
    if after:
        stmt = stmt.where(User.login > after)
    return list(db.execute(stmt.order_by(User.login).limit(PAGE_SIZE + 1)).all())


def _group_names(db: Session, user_ids: list[int]) -> dict[int, list[str]]:
    """The group names of many users in one query (no query per row)."""
    names: dict[int, list[str]] = defaultdict(list)
    if user_ids:
        rows = db.execute(
            select(UserGroup.user_id, Group.name)
            .join(Group, Group.id == UserGroup.group_id)
            .where(UserGroup.user_id.in_(user_ids))
            .order_by(Group.name)
        )
        for user_id, name in rows:
            names[user_id].append(name)
    return names


@bp.get("/users")
@require("core.user.read")
def users() -> ResponseReturnValue:
    db = db_session()
    q, status, after = _arg("q", 100), _arg("status", 10), _arg("after", 80)
    rows = _user_page(db, q, status, after)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return render_template(
        "core/admin/users.html",
        rows=rows,
        q=q,
        status=status,
        after=after,
        groups=_group_names(db, [r.User.id for r in rows]),
        next_after=rows[-1].User.login if more else None,
        can_create=has_permission("core.user.create"),
    )


# -- user create / edit -----------------------------------------------------------------


def _fill_user_choices(db: Session, form: UserForm) -> None:
    teams = db.execute(select(Team.id, Team.name).order_by(Team.name))
    form.team_id.choices = [_choice(0, "—"), *(_choice(t.id, t.name) for t in teams)]
    groups = db.execute(select(Group.id, Group.name).order_by(Group.name))
    form.groups.choices = [_choice(g.id, g.name) for g in groups]


def _user_group_ids(db: Session, user_id: int) -> set[int]:
    return set(db.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user_id)))


def _check_user_rules(db: Session, form: UserForm, user: User | None) -> None:
    """Rules the form's validators cannot know: unique login, who may grant what."""
    taken = db.scalar(
        select(User.id).where(
            func.lower(User.login) == (form.login.data or "").lower(),
            User.id != (user.id if user else 0),
        )
    )
    if taken is not None:
        _add_error(form.login, _("This login is already taken."))
    was_super = bool(user and user.is_superuser)
    if form.is_superuser.data != was_super and not current_user.is_superuser:
        _add_error(form.is_superuser, _("Only a superuser may grant or remove this."))
    if user is not None and user.id == current_user.id:
        if not form.active.data:
            _add_error(form.active, _("You cannot deactivate your own account."))
        if was_super and not form.is_superuser.data:
            _add_error(form.is_superuser, _("You cannot remove your own superuser flag."))


def _over_licence(db: Session) -> int | None:
    """The licence's user limit if the active users (flushed so far) exceed it."""
    limit = kernel().snapshot.license.max_users
    if limit is None:
        return None
    return limit if active_users(db) > limit else None


def _licence_message(limit: int) -> str:
    return _("The licence allows %(n)s active users; deactivate someone first.", n=limit)


def _set(obj: Any, name: str, value: Any) -> None:
    """Assign only a real change (reading first), so the audit shows no empty changes."""
    if getattr(obj, name) != value:
        setattr(obj, name, value)


def _apply_user(user: User, form: UserForm) -> None:
    _set(user, "login", form.login.data or "")
    _set(user, "name", form.name.data or "")
    _set(user, "email", form.email.data or "")
    _set(user, "phone", form.phone.data or "")
    _set(user, "language", form.language.data or "uk")
    _set(user, "team_id", form.team_id.data or None)
    _set(user, "active", bool(form.active.data))
    if current_user.is_superuser:
        _set(user, "is_superuser", bool(form.is_superuser.data))


def _sync_rows(db: Session, key: Any, other: Any, owner: int, wanted: Iterable[int]) -> bool:
    """Make the link rows of ``owner`` exactly ``wanted``, row by row so each is audited.

    ``key`` and ``other`` are the two columns of a link table (``UserGroup.user_id``, ...).
    """
    model = key.class_
    wanted = set(wanted)
    rows = {getattr(r, other.key): r for r in db.scalars(select(model).where(key == owner))}
    for value in rows.keys() - wanted:
        db.delete(rows[value])
    db.add_all(model(**{key.key: owner, other.key: v}) for v in wanted - rows.keys())
    return rows.keys() != wanted


def _sync_user_groups(db: Session, user_id: int, wanted: Iterable[int]) -> bool:
    return _sync_rows(db, UserGroup.user_id, UserGroup.group_id, user_id, wanted)


def _render_new(form: UserCreateForm, status: int = 200) -> ResponseReturnValue:
    return render_template("core/admin/user_new.html", form=form), status


@bp.route("/users/new", methods=["GET", "POST"])
@require("core.user.create")
def user_new() -> ResponseReturnValue:
    db = db_session()
    form = UserCreateForm()
    _fill_user_choices(db, form)
    if not form.is_submitted():
        return _render_new(form)
    valid = form.validate()  # then every other check too, so all problems show at once
    _check_user_rules(db, form, None)
    password_hash = _password_hash(form) if form.password.data else ""
    if not valid or _has_errors(form):
        return _render_new(form, 400)
    user = User(password_hash=password_hash)
    _apply_user(user, form)
    return _save_new_user(db, user, form)


def _password_hash(form: UserCreateForm) -> str:
    """The hash, or "" with the policy's message put next to the field."""
    try:
        return hash_password(form.password.data or "", form.login.data or "")
    except PasswordError as exc:
        _add_error(form.password, str(exc))
        return ""


def _save_new_user(db: Session, user: User, form: UserCreateForm) -> ResponseReturnValue:
    """Insert the user and their groups, or nothing at all."""
    try:
        db.add(user)
        db.flush()
        _sync_user_groups(db, user.id, form.groups.data or [])
        limit = _over_licence(db) if user.active else None
        if limit is not None:
            db.rollback()
            _add_error(form.active, _licence_message(limit))
            return _render_new(form, 400)
        db.commit()
    except IntegrityError:
        db.rollback()
        _add_error(form.login, _("This login is already taken."))
        return _render_new(form, 400)
    flash(_("User %(login)s created.", login=user.login), "success")
    if not has_permission("core.user.read"):  # may create but not look: another new one
        return redirect(url_for("core_users.user_new"))
    return redirect(url_for("core_users.user", user_id=user.id))


@dataclass(frozen=True)
class HistoryRow:
    """One line of a user's history, ready to show."""

    at: datetime
    actor: str
    action: str
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    note: str = ""


def _changes(entry: AuditEntry) -> dict[str, Any]:
    try:
        data = json.loads(entry.changes or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _history_entries(db: Session, user_id: int) -> list[AuditEntry]:
    """The user's own entries plus changes of their group memberships, newest first."""
    own = history(db, "core_user", user_id, limit=100)
    memberships = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject == "core_user_group", AuditEntry.subject_id.like(f"{user_id}/%"))
        .order_by(AuditEntry.id.desc())
        .limit(100)
    )
    return sorted([*own, *memberships], key=lambda e: e.id, reverse=True)[:100]


def _user_history(db: Session, user_id: int) -> list[HistoryRow]:
    entries = _history_entries(db, user_id)
    actor_ids = {e.user_id for e in entries if e.user_id is not None}
    actors = dict(db.execute(select(User.id, User.login).where(User.id.in_(actor_ids))).all())
    group_ids = {
        int(e.subject_id.split("/")[-1])
        for e in entries
        if e.subject == "core_user_group" and e.subject_id.split("/")[-1].isdigit()
    }
    group_names = dict(
        db.execute(select(Group.id, Group.name).where(Group.id.in_(group_ids))).all()
    )
    rows = []
    for e in entries:
        actor = actors.get(e.user_id, "") if e.user_id is not None else ""
        action = str(HISTORY_ACTIONS.get(e.action, e.action))
        if e.subject == "core_user_group":
            gid = e.subject_id.split("/")[-1]
            name = group_names.get(int(gid), f"#{gid}") if gid.isdigit() else gid
            note = (
                _("added to group %(name)s", name=name)
                if e.action == "create"
                else _("removed from group %(name)s", name=name)
            )
            rows.append(HistoryRow(e.at, actor, action, note=note))
            continue
        changes = [
            (k, *(v if isinstance(v, list) and len(v) == 2 else ("", v)))
            for k, v in sorted(_changes(e).items())
        ]
        rows.append(HistoryRow(e.at, actor, action, changes))
    return rows


def _open_sessions(db: Session, user_id: int) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        )
        or 0
    )


def _edit_form(db: Session, user: User) -> UserEditForm:
    """The card's form filled from the stored user (never from the request)."""
    form = UserEditForm(formdata=None, obj=user)
    _fill_user_choices(db, form)
    form.team_id.data = user.team_id or 0
    form.groups.data = sorted(_user_group_ids(db, user.id))
    form.version.data = str(user.version)
    return form


def _conflicts(db: Session, form: UserEditForm, user: User) -> list[tuple[str, str, str]]:
    """Fields whose stored value differs from what the admin typed: (label, stored, typed)."""
    stored = _edit_form(db, user)
    out = []
    for name in (
        "login",
        "name",
        "email",
        "phone",
        "language",
        "team_id",
        "active",
        "is_superuser",
        "groups",
    ):
        mine, theirs = getattr(form, name), getattr(stored, name)
        if plain(mine.data) != plain(theirs.data):
            out.append((str(mine.label.text), display(theirs), display(mine)))
    return out


def _may_edit(user: User) -> bool:
    """Only a superuser may change a superuser's account (or take it over)."""
    return current_user.is_superuser or not user.is_superuser


def _render_card(
    db: Session,
    user: User,
    form: UserEditForm | None = None,
    password_form: SetPasswordForm | None = None,
    conflicts: list[tuple[str, str, str]] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    team = db.get(Team, user.team_id) if user.team_id else None
    can_update = has_permission("core.user.update") and _may_edit(user)
    return render_template(
        "core/admin/user_card.html",
        user=user,
        team=team,
        form=form or _edit_form(db, user),
        password_form=password_form or SetPasswordForm(formdata=None),
        action_form=ActionForm(formdata=None),
        history=_user_history(db, user.id),
        open_sessions=_open_sessions(db, user.id),
        can_update=can_update,
        can_grant_superuser=bool(current_user.is_superuser),
        conflicts=conflicts,
    ), status


@bp.get("/users/<int:user_id>")
@require("core.user.read")
def user(user_id: int) -> ResponseReturnValue:
    db = db_session()
    return _render_card(db, _get_or_404(db, User, user_id))


def _editable_user_or_abort(db: Session, user_id: int) -> User:
    user: User = _get_or_404(db, User, user_id)
    if not _may_edit(user):
        abort(403)
    return user


def _conflict(db: Session, user: User, form: UserEditForm) -> ResponseReturnValue:
    """Keep what the admin typed, show what is stored now; saving again overwrites it."""
    db.rollback()
    conflicts = _conflicts(db, form, user)
    form.version.data = str(user.version)
    return _render_card(db, user, form, conflicts=conflicts, status=409)


@bp.post("/users/<int:user_id>")
@require("core.user.update")
def user_save(user_id: int) -> ResponseReturnValue:
    db = db_session()
    user = _editable_user_or_abort(db, user_id)
    form = UserEditForm()
    _fill_user_choices(db, form)
    valid = form.validate_on_submit()
    if is_stale(form.version.data, user):
        return _conflict(db, user, form)
    _check_user_rules(db, form, user)
    if not valid or _has_errors(form):
        return _render_card(db, user, form, status=400)
    return _save_user(db, user, form)


def _save_user(db: Session, user: User, form: UserEditForm) -> ResponseReturnValue:
    """Write the card in one transaction; deactivation ends the user's sessions."""
    activating = form.active.data and not user.active
    deactivating = user.active and not form.active.data
    try:
        with db.no_autoflush:  # one UPDATE of the user, whatever changed
            _apply_user(user, form)
            if _sync_user_groups(db, user.id, form.groups.data or []):
                user.version = user.version + 1  # memberships are part of the card
        db.flush()
        limit = _over_licence(db) if activating else None
        if limit is not None:
            db.rollback()
            _add_error(form.active, _licence_message(limit))
            return _render_card(db, user, form, status=400)
        if deactivating:
            sessions.revoke_all(db, user.id)
        db.commit()
    except StaleDataError:
        return _conflict(db, user, form)
    except IntegrityError:
        db.rollback()
        _add_error(form.login, _("This login is already taken."))
        return _render_card(db, user, form, status=400)
    flash(_("Saved."), "success")
    return redirect(url_for("core_users.user", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@require("core.user.update")
def user_password(user_id: int) -> ResponseReturnValue:
    """An admin sets a new password; every session of the user ends at once."""
    db = db_session()
    user = _editable_user_or_abort(db, user_id)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user.password_hash = hash_password(form.new_password.data or "", user.login)
        except PasswordError as exc:
            _add_error(form.new_password, str(exc))
        else:
            sessions.revoke_all(db, user.id)
            db.commit()
            flash(_("Password set. The user's sessions were ended."), "success")
            return redirect(url_for("core_users.user", user_id=user.id))
    return _render_card(db, user, password_form=form, status=400)


@bp.post("/users/<int:user_id>/sessions/end")
@require("core.user.update")
def user_end_sessions(user_id: int) -> ResponseReturnValue:
    db = db_session()
    user = _editable_user_or_abort(db, user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    count = sessions.revoke_all(db, user.id)
    db.commit()
    flash(_("Sessions ended: %(n)s.", n=count), "success")
    return redirect(url_for("core_users.user", user_id=user.id))


# -- teams ------------------------------------------------------------------------------


def _name_taken(db: Session, model: type[Team] | type[Group], name: str, own_id: int) -> bool:
    return (
        db.scalar(
            select(model.id).where(func.lower(model.name) == name.lower(), model.id != own_id)
        )
        is not None
    )


def _render_teams(
    db: Session,
    form: TeamForm | None = None,
    errors: dict[int, str] | None = None,
    typed: dict[int, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    members = dict(
        db.execute(
            select(User.team_id, func.count())
            .where(User.team_id.is_not(None))
            .group_by(User.team_id)
        ).all()
    )
    teams = db.scalars(select(Team).order_by(Team.name)).all()
    return render_template(
        "core/admin/teams.html",
        teams=teams,
        members=members,
        form=form or TeamForm(formdata=None),
        action_form=ActionForm(formdata=None),
        errors=errors or {},
        typed=typed or {},
        can_update=has_permission("core.user.update"),
    ), status


@bp.get("/teams")
@require("core.user.read")
def teams() -> ResponseReturnValue:
    return _render_teams(db_session())


@bp.post("/teams")
@require("core.user.update")
def team_new() -> ResponseReturnValue:
    db = db_session()
    form = TeamForm()
    valid = form.validate_on_submit()
    if valid and _name_taken(db, Team, form.name.data or "", 0):
        _add_error(form.name, _("A team with this name already exists."))
    if not valid or _has_errors(form):
        return _render_teams(db, form, status=400)
    db.add(Team(name=form.name.data))
    db.commit()
    flash(_("Team created."), "success")
    return redirect(url_for("core_users.teams"))


@bp.post("/teams/<int:team_id>")
@require("core.user.update")
def team_rename(team_id: int) -> ResponseReturnValue:
    db = db_session()
    team: Team = _get_or_404(db, Team, team_id)
    form = TeamForm()
    error = ""
    if not form.validate_on_submit():
        error = "; ".join(str(e) for e in form.name.errors) or _("The form has expired.")
    elif _name_taken(db, Team, form.name.data or "", team.id):
        error = _("A team with this name already exists.")
    if error:
        return _render_teams(
            db, errors={team.id: error}, typed={team.id: form.name.data or ""}, status=400
        )
    team.name = form.name.data or ""
    db.commit()
    flash(_("Team renamed."), "success")
    return redirect(url_for("core_users.teams"))


# -- groups -----------------------------------------------------------------------------


@bp.get("/groups")
@require("core.group.read")
def groups() -> ResponseReturnValue:
    db = db_session()
    rows = db.scalars(select(Group).order_by(Group.name)).all()
    members = dict(
        db.execute(select(UserGroup.group_id, func.count()).group_by(UserGroup.group_id)).all()
    )
    implied: dict[int, list[str]] = defaultdict(list)
    for group_id, name in db.execute(
        select(GroupImplied.group_id, Group.name)
        .join(Group, Group.id == GroupImplied.implied_id)
        .order_by(Group.name)
    ):
        implied[group_id].append(name)
    return render_template(
        "core/admin/groups.html",
        groups=rows,
        members=members,
        implied=implied,
        can_update=has_permission("core.group.update"),
    )


def _fill_group_choices(db: Session, form: GroupForm) -> None:
    groups = db.execute(select(Group.id, Group.name).order_by(Group.name))
    form.implied.choices = [_choice(g.id, g.name) for g in groups]
    users = db.execute(select(User.id, User.login, User.name).order_by(User.login))
    form.members.choices = [
        _choice(u.id, f"{u.login} ({u.name})" if u.name else u.login) for u in users
    ]


def _group_form(db: Session, group: Group) -> GroupForm:
    form = GroupForm(formdata=None, obj=group)
    _fill_group_choices(db, form)
    form.implied.data = sorted(
        db.scalars(select(GroupImplied.implied_id).where(GroupImplied.group_id == group.id))
    )
    form.members.data = sorted(
        db.scalars(select(UserGroup.user_id).where(UserGroup.group_id == group.id))
    )
    return form


def _render_group(form: GroupForm, group: Group | None, status: int = 200) -> ResponseReturnValue:
    if group is not None:  # a group cannot imply itself: don't offer it
        form.implied.choices = [
            c for c in form.implied.choices or [] if _choice_parts(c)[0] != group.id
        ]
    return render_template(
        "core/admin/group_form.html",
        form=form,
        group=group,
        can_update=has_permission("core.group.update"),
    ), status


def _check_group_rules(db: Session, form: GroupForm, group: Group | None) -> None:
    if _name_taken(db, Group, form.name.data or "", group.id if group else 0):
        _add_error(form.name, _("A group with this name already exists."))
    if group is not None and group.id in (form.implied.data or []):
        _add_error(form.implied, _("A group cannot imply itself."))


def _save_group(db: Session, group: Group, form: GroupForm, new: bool) -> ResponseReturnValue:
    try:
        group.name = form.name.data or ""
        group.description = form.description.data or ""
        db.add(group)
        db.flush()
        _sync_rows(
            db, GroupImplied.group_id, GroupImplied.implied_id, group.id, form.implied.data or []
        )
        _sync_rows(db, UserGroup.group_id, UserGroup.user_id, group.id, form.members.data or [])
        db.commit()
    except IntegrityError:
        db.rollback()
        _add_error(form.name, _("A group with this name already exists."))
        return _render_group(form, None if new else group, 400)
    flash(_("Saved."), "success")
    return redirect(url_for("core_users.group", group_id=group.id))


@bp.route("/groups/new", methods=["GET", "POST"])
@require("core.group.update")
def group_new() -> ResponseReturnValue:
    db = db_session()
    form = GroupForm()
    _fill_group_choices(db, form)
    if not form.validate_on_submit():
        return _render_group(form, None, 400 if form.errors else 200)
    _check_group_rules(db, form, None)
    if _has_errors(form):
        return _render_group(form, None, 400)
    return _save_group(db, Group(), form, new=True)


@bp.get("/groups/<int:group_id>")
@require("core.group.read")
def group(group_id: int) -> ResponseReturnValue:
    db = db_session()
    found: Group = _get_or_404(db, Group, group_id)
    return _render_group(_group_form(db, found), found)


@bp.post("/groups/<int:group_id>")
@require("core.group.update")
def group_save(group_id: int) -> ResponseReturnValue:
    db = db_session()
    found: Group = _get_or_404(db, Group, group_id)
    form = GroupForm()
    _fill_group_choices(db, form)
    valid = form.validate_on_submit()
    _check_group_rules(db, form, found)
    if not valid or _has_errors(form):
        return _render_group(form, found, 400)
    return _save_group(db, found, form, new=False)


# -- rights matrix ----------------------------------------------------------------------


@dataclass
class Section:
    """One row of the matrix: an object of an addon (``crm_base.counterparty``)."""

    key: str
    actions: dict[str, Permission] = field(default_factory=dict)
    others: list[Permission] = field(default_factory=list)

    @property
    def permissions(self) -> list[Permission]:
        return [*self.actions.values(), *self.others]


@dataclass
class AddonRights:
    """The sections of one installed addon (or of the core), under the addon's label."""

    addon: str
    label: str
    sections: list[Section] = field(default_factory=list)


def _addon_label(addon: str) -> str:
    if addon == "core":
        return _("Core")
    info = kernel().available.get(addon)
    return info.manifest.label if info else addon


def _matrix(db: Session) -> list[AddonRights]:
    """Sections of the core and every installed addon, from the permissions table."""
    k = kernel()
    by_addon: dict[str, dict[str, Section]] = defaultdict(dict)
    for perm in db.scalars(select(Permission).order_by(Permission.name)):
        section_key, dot, action = perm.name.rpartition(".")
        if not dot or not k.is_enabled(perm.addon):
            continue
        section = by_addon[perm.addon].setdefault(section_key, Section(section_key))
        if action in ACTIONS:
            section.actions[action] = perm
        else:
            section.others.append(perm)
    addons = [AddonRights(a, _addon_label(a), list(s.values())) for a, s in by_addon.items()]
    return sorted(addons, key=lambda a: (a.addon != "core", a.label.lower()))


def _granted(db: Session, group_id: int) -> tuple[set[str], dict[str, str]]:
    perms = set(
        db.scalars(select(GroupPermission.permission).where(GroupPermission.group_id == group_id))
    )
    scopes = dict(
        db.execute(
            select(GroupScope.subject, GroupScope.scope).where(GroupScope.group_id == group_id)
        ).all()
    )
    return perms, scopes


def _render_matrix(
    db: Session,
    group: Group,
    matrix: list[AddonRights],
    granted: set[str],
    scopes: dict[str, str],
    error: str = "",
    status: int = 200,
) -> ResponseReturnValue:
    return render_template(
        "core/admin/matrix.html",
        group=group,
        matrix=matrix,
        granted=granted,
        scopes=scopes,
        actions=ACTIONS,
        action_labels=ACTION_LABELS,
        scope_labels=SCOPE_LABELS,
        scope_choices=SCOPES,
        form=ActionForm(formdata=None),
        error=error,
        can_update=has_permission("core.group.update"),
    ), status


@bp.get("/groups/<int:group_id>/rights")
@require("core.group.read")
def group_rights(group_id: int) -> ResponseReturnValue:
    db = db_session()
    found: Group = _get_or_404(db, Group, group_id)
    return _render_matrix(db, found, _matrix(db), *_granted(db, found.id))


def _replace_rights(
    db: Session, group_id: int, matrix: list[AddonRights], chosen: set[str], scopes: dict[str, str]
) -> None:
    """Make the group's rights over the shown sections exactly the submitted ones.

    Rows of addons that are not installed are kept, so reinstalling one restores them.
    """
    shown = {p.name for a in matrix for s in a.sections for p in s.permissions}
    stored = {
        r.permission: r
        for r in db.scalars(
            select(GroupPermission).where(
                GroupPermission.group_id == group_id, GroupPermission.permission.in_(shown)
            )
        )
    }
    for name in stored.keys() - chosen:
        db.delete(stored[name])
    db.add_all(GroupPermission(group_id=group_id, permission=n) for n in chosen - stored.keys())
    rows = {
        r.subject: r
        for r in db.scalars(
            select(GroupScope).where(
                GroupScope.group_id == group_id, GroupScope.subject.in_(list(scopes))
            )
        )
    }
    for subject, scope in scopes.items():
        row = rows.get(subject)
        if scope == "own" and row is not None:
            db.delete(row)  # "own" is the default: no row needed
        elif scope != "own" and row is None:
            db.add(GroupScope(group_id=group_id, subject=subject, scope=scope))
        elif row is not None and row.scope != scope:
            row.scope = scope


@bp.post("/groups/<int:group_id>/rights")
@require("core.group.update")
def group_rights_save(group_id: int) -> ResponseReturnValue:
    db = db_session()
    found: Group = _get_or_404(db, Group, group_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    matrix = _matrix(db)
    shown = {p.name for a in matrix for s in a.sections for p in s.permissions}
    chosen = set(request.form.getlist("perm"))
    scopes = {s.key: request.form.get(f"scope-{s.key}", "own") for a in matrix for s in a.sections}
    if not chosen <= shown or not set(scopes.values()) <= set(SCOPES):
        error = _(
            "The form holds unknown rights or scopes (was an addon just removed?). "
            "Nothing was saved."
        )
        return _render_matrix(db, found, matrix, *_granted(db, found.id), error=error, status=400)
    _replace_rights(db, found.id, matrix, chosen, scopes)
    db.commit()
    flash(_("Rights saved."), "success")
    return redirect(url_for("core_users.group_rights", group_id=found.id))
