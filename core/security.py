"""Who the user is and what they may do: password hashing, rights, the view decorator.

Every view of the core and of every addon is wrapped in :func:`require` (or marked
:func:`public`); the contract test fails for a route that is neither.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, g
from flask_login import UserMixin, current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import GroupPermission, User, UserGroup

F = TypeVar("F", bound=Callable[..., Any])
MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


class PasswordError(ValueError):
    """A password that cannot be accepted; the message says why."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class LoginUser(UserMixin):
    """The signed-in user as Flask-Login sees it (a plain copy, safe outside a session)."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.login = user.login
        self.name = user.name or user.login
        self.is_superuser = user.is_superuser
        self.language = user.language
        self._active = user.active

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self._active


def user_permissions(session: Session, user_id: int) -> frozenset[str]:
    """The union of the rights of the user's groups."""
    rows = session.scalars(
        select(GroupPermission.permission)
        .join(UserGroup, UserGroup.group_id == GroupPermission.group_id)
        .where(UserGroup.user_id == user_id)
    )
    return frozenset(rows)


def has_permission(permission: str | None) -> bool:
    """Whether the current user holds ``permission`` (``None`` = any signed-in user)."""
    if not current_user.is_authenticated:
        return False
    if permission is None or current_user.is_superuser:
        return True
    if "vitrylo_permissions" not in g:
        from core.web import db_session

        g.vitrylo_permissions = user_permissions(db_session(), current_user.id)
    return permission in g.vitrylo_permissions


def require(permission: str | None) -> Callable[[F], F]:
    """Allow a view only to signed-in users holding ``permission``; others get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from core.web import login_manager

                return login_manager.unauthorized()
            if not has_permission(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapper.vitrylo_permission = permission  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark a view that anyone may open (the login page); the contract test accepts it."""
    view.vitrylo_public = True  # type: ignore[attr-defined]
    return view
