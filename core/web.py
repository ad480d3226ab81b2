"""Flask extensions and accessors shared by the core's and the addons' views."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from core.kernel import Kernel

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def kernel() -> Kernel:
    """The kernel of the running app."""
    return current_app.extensions["vitrylo"]  # type: ignore[no-any-return]


def db_session() -> Session:
    """The request's database session (removed at the end of the request)."""
    return kernel().db.session()
