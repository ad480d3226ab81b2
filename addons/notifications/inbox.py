"""notifications: the inbox of event notifications and the shell's badge (NT-4, pop-up).

A :class:`Notification` is an :class:`Event` as delivered to one user (rows written by the
outbox's ``raise_event``); here the user reads them — unread ones by default, or all —
newest first with keyset pagination, and marks one or all as read (POST only). Only the
user's own rows are ever looked up: another user's notification id answers 404, exactly
like one that does not exist.

The badge in the shell polls :func:`badge` every ten seconds: one number for unread
notifications, chat and private messages, plus the latest unread notifications as data
attributes for ``core/static/ui/notify.js`` (the browser notification, when allowed). Its
dropdown loads :func:`badge_menu` when opened. Counts stop at :data:`chat.UNREAD_CAP`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import Row

from addons.notifications.chat import (
    CHAT_READ,
    MESSAGE_READ,
    UNREAD_CAP,
    id_arg,
    private_unread_count,
    unread_count,
)
from addons.notifications.models import GENERAL_ROOM, Event, Notification
from addons.notifications.views import bp
from core.db import utcnow
from core.security import has_permission, require
from core.ui.formview import MAX_ID
from core.ui.htmx import wants_fragment
from core.web import db_session

INBOX_PAGE = 30
MENU_SIZE = 5  # notifications in the badge's dropdown and the dashboard widget
SHOWS = ("unread", "all")


def local_url(url: str) -> str:
    """An event's link if it is a path of this site (never ``javascript:`` or ``//host``)."""
    url = (url or "").strip()
    if url.startswith("/") and not url.startswith(("//", "/\\")):
        return url
    return ""


def _rows(user_id: int) -> Select[Any]:
    """The user's notifications with their event (only ever the user's own)."""
    return (
        select(
            Notification.id,
            Notification.read_at,
            Notification.created_at,
            Event.type,
            Event.title,
            Event.body,
            Event.url,
        )
        .join(Event, Event.id == Notification.event_id)
        .where(Notification.user_id == user_id)
    )


def inbox_rows(
    user_id: int, unread_only: bool, before: int | None = None, size: int = INBOX_PAGE
) -> tuple[list[Row[Any]], int | None]:
    """One page of notifications, newest first (keyset on the id), and the id to continue
    before (``None``: last page)."""
    stmt = _rows(user_id).order_by(Notification.id.desc()).limit(size + 1)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = list(db_session().execute(stmt))
    more = rows[size - 1].id if len(rows) > size else None
    return rows[:size], more


def unread_notifications(user_id: int, cap: int = UNREAD_CAP) -> int:
    """Unread notifications of the user, counted up to ``cap``."""
    unread = (
        select(Notification.id)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .limit(cap)
        .subquery()
    )
    return db_session().scalar(select(func.count()).select_from(unread)) or 0


@dataclass(frozen=True)
class Counts:
    """What the badge shows: unread notifications, chat and private messages."""

    notifications: int = 0
    chat: int = 0
    private: int = 0
    can_chat: bool = False
    can_message: bool = False

    @property
    def messages(self) -> int:
        return self.chat + self.private

    @property
    def total(self) -> int:
        return self.notifications + self.messages


def unread_counts(user: Any) -> Counts:
    """The unread counts of ``user``; chat and private messages only with the rights."""
    can_chat = has_permission(CHAT_READ, user)
    can_message = has_permission(MESSAGE_READ, user)
    return Counts(
        notifications=unread_notifications(user.id),
        chat=unread_count(user.id, GENERAL_ROOM) if can_chat else 0,
        private=private_unread_count(user.id) if can_message else 0,
        can_chat=can_chat,
        can_message=can_message,
    )


def shown_count(count: int) -> str:
    """A count as the badge writes it: ``99+`` past 99."""
    return "99+" if count > UNREAD_CAP - 1 else str(count)


def _show_arg(source: Any) -> str:
    show = source.get("show", "unread")
    return show if show in SHOWS else "unread"


def _own_or_404(notification_id: int) -> Notification:
    """One of the signed-in user's notifications; anyone else's answers 404."""
    if not 0 < notification_id <= MAX_ID:
        abort(404)
    found = db_session().scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == current_user.id
        )
    )
    if found is None:
        abort(404)
    return found  # type: ignore[no-any-return]


def _checked_post() -> None:
    if not FlaskForm().validate_on_submit():
        abort(400)


def _back(show: str) -> ResponseReturnValue:
    return redirect(url_for("notifications.inbox", show=show), 303)


@bp.get("/inbox")
@require(None)
def inbox() -> ResponseReturnValue:
    """The user's notifications: unread ones (default) or all, newest first."""
    show = _show_arg(request.args)
    rows, more = inbox_rows(current_user.id, show == "unread", id_arg("before"))
    return render_template(
        "notifications/inbox.html",
        notifications=rows,
        show=show,
        older_url=url_for("notifications.inbox", show=show, before=more) if more else "",
        unread=unread_notifications(current_user.id),
        shown_count=shown_count,
        local_url=local_url,
        breadcrumbs=[(_("Notifications"), None)],
    )


@bp.post("/inbox/<int:notification_id>/read")
@require(None)
def inbox_mark_read(notification_id: int) -> ResponseReturnValue:
    """Mark one of one's notifications read (htmx: answer the updated item)."""
    notification = _own_or_404(notification_id)
    _checked_post()
    if notification.read_at is None:
        notification.read_at = utcnow()
        db_session().commit()
    if wants_fragment():
        row = db_session().execute(_rows(current_user.id).where(Notification.id == notification.id))
        return render_template(
            "notifications/inbox_item.html",
            n=row.one(),
            show=_show_arg(request.form),
            local_url=local_url,
        )
    return _back(_show_arg(request.form))


@bp.post("/inbox/<int:notification_id>/open")
@require(None)
def inbox_open(notification_id: int) -> ResponseReturnValue:
    """Mark a notification read and go to what it is about (the inbox if nothing)."""
    notification = _own_or_404(notification_id)
    _checked_post()
    if notification.read_at is None:
        notification.read_at = utcnow()
        db_session().commit()
    event = db_session().get(Event, notification.event_id)
    target = local_url(event.url) if event is not None else ""
    return redirect(target or url_for("notifications.inbox", show="all"), 303)


@bp.post("/inbox/read-all")
@require(None)
def inbox_mark_all_read() -> ResponseReturnValue:
    """Mark every unread notification of the user read."""
    _checked_post()
    db = db_session()
    db.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.commit()
    return _back(_show_arg(request.form))


def _badge_context() -> dict[str, Any]:
    counts = unread_counts(current_user)
    latest, _more = inbox_rows(current_user.id, True, size=MENU_SIZE)
    if counts.chat:
        messages_url = url_for("notifications.chat")
    elif counts.can_message:
        messages_url = url_for("notifications.conversations")
    else:
        messages_url = ""
    return {
        "counts": counts,
        "latest": latest,
        "messages_url": messages_url,
        "shown_count": shown_count,
        "local_url": local_url,
    }


@bp.get("/badge")
@require(None)
def badge() -> ResponseReturnValue:
    """The shell's bell: the unread count (notifications + chat + private messages) and
    the latest unread notifications for the browser notification (notify.js)."""
    return render_template("notifications/_badge.html", **_badge_context())


@bp.get("/badge/menu")
@require(None)
def badge_menu() -> ResponseReturnValue:
    """The bell's dropdown: the latest unread notifications and links with counts."""
    return render_template("notifications/_badge_menu.html", **_badge_context())
