"""The core's blueprint, shared by the sign-in pages and the shell pages."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("core", __name__)
