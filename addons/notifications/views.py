"""The notifications blueprint; the pages live in the area modules (see AREAS)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications", template_folder="templates")
