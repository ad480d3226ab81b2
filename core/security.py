"""Who the user is and what they may do: passwords, rights, record scopes, the view guard.

Every view of the core and of every addon is wrapped in :func:`require` (or marked
:func:`public`); the contract test fails for a route that is neither. Views that show one
record load it with :func:`get_scoped_or_404`, so a record outside the user's scope answers
404 exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, g, has_app_context
from flask_babel import lazy_gettext as _l
from flask_login import UserMixin, current_user
from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.models import SCOPES, GroupImplied, GroupPermission, GroupScope, User, UserGroup

F = TypeVar("F", bound=Callable[..., Any])
MIN_PASSWORD_LENGTH = 10
COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common_passwords.txt"
_hasher = PasswordHasher()


class PasswordError(ValueError):
    """A password that cannot be accepted; the message says why (translated)."""


def _common_passwords() -> frozenset[str]:
    if "_common" not in globals():
        words = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").split()
        globals()["_common"] = frozenset(w.strip().lower() for w in words)
    return globals()["_common"]  # type: ignore[no-any-return]


def check_password_policy(password: str, login: str = "") -> None:
    """At least 10 characters, not one of the most common passwords, not the login."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(
            str(_l("The password must have at least %(n)s characters.", n=MIN_PASSWORD_LENGTH))
        )
    lowered = password.lower()
    if lowered in _common_passwords() or (login and login.lower() in lowered):
        raise PasswordError(str(_l("This password is too easy to guess; choose another.")))


def use_cheap_hashing() -> None:
    """Argon2 with the smallest cost, for test suites only (same algorithm, less memory)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def hash_password(password: str, login: str = "") -> str:
    check_password_policy(password, login)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class LoginUser(UserMixin):
    """The signed-in user as Flask-Login sees it (a plain copy, safe outside a session)."""

    def __init__(self, user: User, session_id: str = "") -> None:
        self.id = user.id
        self.login = user.login
        self.name = user.name or user.login
        self.is_superuser = user.is_superuser
        self.language = user.language
        self.team_id = user.team_id
        self.session_id = session_id
        self._active = user.active

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self._active


@dataclass(frozen=True)
class Rights:
    """A user's rights: permissions and, per subject, the widest record scope."""

    permissions: frozenset[str] = frozenset()
    scopes: dict[str, str] = field(default_factory=dict)
    superuser: bool = False

    def has(self, permission: str | None) -> bool:
        return self.superuser or permission is None or permission in self.permissions

    def scope(self, subject: str) -> str:
        """``all``, ``team`` or ``own`` (the default when no group says otherwise)."""
        return "all" if self.superuser else self.scopes.get(subject, "own")


def group_closure(session: Session, group_ids: set[int]) -> set[int]:
    """The groups plus every group they imply, directly or not (cycles are harmless)."""
    seen = set(group_ids)
    frontier = set(group_ids)
    while frontier:
        implied = set(
            session.scalars(
                select(GroupImplied.implied_id).where(GroupImplied.group_id.in_(frontier))
            )
        )
        frontier = implied - seen
        seen |= frontier
    return seen


def user_rights(session: Session, user_id: int, superuser: bool = False) -> Rights:
    """The union of the rights of the user's groups (and the groups those imply)."""
    direct = set(session.scalars(select(UserGroup.group_id).where(UserGroup.user_id == user_id)))
    groups = group_closure(session, direct)
    if not groups:
        return Rights(superuser=superuser)
    perms = frozenset(
        session.scalars(
            select(GroupPermission.permission).where(GroupPermission.group_id.in_(groups))
        )
    )
    scopes: dict[str, str] = {}
    for subject, scope in session.execute(
        select(GroupScope.subject, GroupScope.scope).where(GroupScope.group_id.in_(groups))
    ):
        if SCOPES.index(scope) > SCOPES.index(scopes.get(subject, "own")):
            scopes[subject] = scope
    return Rights(perms, scopes, superuser)


def rights_of(user: Any) -> Rights:
    """The rights of ``user`` (the signed-in user, or any user a hook is asked about),
    computed once per request or app context."""
    if user is None or not getattr(user, "is_authenticated", True):
        return Rights()
    from core.web import db_session

    cache: dict[int, Rights] = g.setdefault("vitrylo_rights", {}) if has_app_context() else {}
    if user.id not in cache:
        cache[user.id] = user_rights(db_session(), user.id, bool(user.is_superuser))
    return cache[user.id]


def current_rights() -> Rights:
    """The signed-in user's rights."""
    return rights_of(current_user) if current_user else Rights()


def has_permission(permission: str | None, user: Any = None) -> bool:
    """Whether ``user`` (default: the signed-in one) holds ``permission`` (``None`` = any
    signed-in user)."""
    user = current_user if user is None else user
    return (
        bool(user) and getattr(user, "is_authenticated", True) and rights_of(user).has(permission)
    )


def require(permission: str | None) -> Callable[[F], F]:
    """Allow a view only to signed-in users holding ``permission``; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from core.web import login_manager

                return login_manager.unauthorized()
            if not has_permission(permission):
                from core.audit import record_denied

                record_denied(permission)
                abort(403)
            return view(*args, **kwargs)

        wrapper.vitrylo_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark a view that anyone may open (the login page); the contract test accepts it."""
    view.vitrylo_public = True  # type: ignore[attr-defined]
    return view


def scope_filter(
    stmt: Select[Any], subject: str, owner: InstrumentedAttribute[Any], user: Any = None
) -> Select[Any]:
    """Restrict ``stmt`` to the records of ``subject`` that ``user`` (default: the signed-in
    user) may reach. ``owner`` is the column holding the responsible user's id
    (e.g. ``Deal.manager_id``)."""
    user = current_user if user is None else user
    if not user or not getattr(user, "is_authenticated", True):
        return stmt.where(false())
    scope = rights_of(user).scope(subject)
    if scope == "all":
        return stmt
    if scope == "team" and user.team_id is not None:
        members = select(User.id).where(User.team_id == user.team_id)
        return stmt.where(or_(owner.in_(members), owner == user.id))
    return stmt.where(owner == user.id)


def get_scoped_or_404(
    model: type[Any], record_id: Any, subject: str, owner: InstrumentedAttribute[Any] | None
) -> Any:
    """Load one record the current user may reach, or answer 404 (never 403: no probing)."""
    from core.web import db_session

    stmt = select(model).where(model.id == record_id)
    if owner is not None:
        stmt = scope_filter(stmt, subject, owner)
    record = db_session().scalars(stmt).first()
    if record is None:
        abort(404)
    return record


def user_choices(keep: Iterable[int | None] = ()) -> list[tuple[int, str]]:
    """``(id, name)`` (the name, else the login) of the active users by name, for a
    "responsible" or "employee" choice, plus the users in ``keep`` even if deactivated
    since (the stored value: saving the form must not silently drop it). One query."""
    from core.web import db_session

    kept = {i for i in keep if i is not None}
    condition = User.active.is_(True)
    if kept:
        condition = or_(condition, User.id.in_(kept))
    rows = db_session().execute(
        select(User.id, User.name, User.login).where(condition).order_by(User.name, User.login)
    )
    return [(uid, name or login) for uid, name, login in rows]


def user_names(ids: Iterable[Any]) -> dict[int, str]:
    """``{id: name}`` (the name, else the login) for the given user ids, in one query: for
    showing who did something on a page without a query per row."""
    from core.web import db_session

    wanted = {int(i) for i in ids if isinstance(i, int) or (isinstance(i, str) and i.isdigit())}
    if not wanted:
        return {}
    rows = db_session().execute(select(User.id, User.name, User.login).where(User.id.in_(wanted)))
    return {uid: name or login for uid, name, login in rows}
