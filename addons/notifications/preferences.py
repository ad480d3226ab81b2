"""Each user's notification preferences (NT-5): event types × channels.

Only choices that differ from the default are stored, so when an admin changes a default
later it still reaches every user who never chose otherwise. Types the admin switched off
are not offered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from addons.notifications.events import event_types, join_channels, parse_channels, type_defaults
from addons.notifications.models import CHANNELS, Preference
from addons.notifications.views import bp
from core.models import User
from core.security import require
from core.web import db_session

CHANNEL_LABELS = {"popup": _l("In the application"), "email": _l("E-mail"), "sms": _l("SMS")}


@dataclass(frozen=True)
class Row:
    """One event type on the page: what the user gets, and whether it is their own choice."""

    name: str
    label: Any
    description: Any
    addon: str
    channels: tuple[str, ...]
    default: tuple[str, ...]
    own: bool


def preference_rows(session: Session, user_id: int) -> list[Row]:
    """The event types of the enabled addons the admin has not switched off."""
    types = event_types()
    defaults = type_defaults(session, types, types)
    own = {
        p.event_type: parse_channels(p.channels)
        for p in session.scalars(select(Preference).where(Preference.user_id == user_id))
    }
    rows = []
    for name, etype in types.items():
        default = defaults[name]
        if default is None:
            continue
        rows.append(
            Row(
                name,
                etype.label,
                etype.description,
                etype.addon,
                own.get(name, default),
                default,
                name in own,
            )
        )
    return sorted(rows, key=lambda r: (r.addon, str(r.label)))


@bp.get("/preferences")
@require(None)
def preferences() -> ResponseReturnValue:
    db = db_session()
    user = db.get(User, current_user.id)
    return render_template(
        "notifications/preferences.html",
        rows=preference_rows(db, current_user.id),
        channels=CHANNELS,
        channel_labels=CHANNEL_LABELS,
        has_email=bool(user and user.email),
        has_phone=bool(user and user.phone),
    )


@bp.post("/preferences")
@require(None)
def preferences_save() -> ResponseReturnValue:
    """Save the whole table: a row per type whose choice differs from the default."""
    db = db_session()
    rows = preference_rows(db, current_user.id)
    reset = request.form.get("action") == "reset"
    offered = [row.name for row in rows]
    if offered:
        db.execute(
            delete(Preference).where(
                Preference.user_id == current_user.id, Preference.event_type.in_(offered)
            )
        )
    if not reset:
        ticked = set(request.form.getlist("choice"))
        for row in rows:
            wanted = tuple(c for c in CHANNELS if f"{row.name}|{c}" in ticked)
            if wanted != row.default:
                db.add(
                    Preference(
                        user_id=current_user.id, event_type=row.name, channels=join_channels(wanted)
                    )
                )
    db.commit()
    flash(
        _("Back to the default settings.") if reset else _("Notification settings saved."),
        "success",
    )
    return redirect(url_for("notifications.preferences"))
