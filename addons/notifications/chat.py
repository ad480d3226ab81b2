"""notifications: the chat (NT-1) and private correspondence (NT-2).

Both are rooms of :class:`~addons.notifications.models.Message`: the chat is the room
``general`` (everyone holding the chat permission reads and writes it), a conversation
between two users is the room ``dm:<low id>:<high id>`` (:func:`models.direct_room`).

A room's page shows its latest messages and polls with htmx every few seconds for the ones
after the last id it holds (keyset on the id, never OFFSET); the answer appends them and
swaps in a new poll element carrying the new last id (out of band). Sending posts with
htmx, answers a cleared form and fires ``notifications-sent`` so the poll runs at once.
What the user has seen is kept in :class:`ReadMark` (``last_read_id``); the page advances
it with a POST of its own (``hx-trigger="load"``), so no GET changes anything.

Security: the room of a conversation is always derived from the signed-in user's id and
the other user's id in the URL — never read from the request as a room name — so guessing
ids only ever opens the guesser's own conversation with that person.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.engine import Row
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from addons.notifications.events import raise_event
from addons.notifications.models import GENERAL_ROOM, Message, ReadMark, direct_room
from addons.notifications.outbox import dialect_insert
from addons.notifications.views import bp
from core.models import User
from core.security import require
from core.ui.formview import MAX_ID
from core.ui.htmx import wants_fragment
from core.ui.listview import search_condition
from core.ui.text import clean_text
from core.web import db_session

CHAT_READ = "notifications.chat.read"
MESSAGE_READ = "notifications.message.read"
MAX_MESSAGE_LENGTH = 4000
MAX_QUERY_LENGTH = 200
PAGE_SIZE = 50  # messages on a room page, and per "older messages" step
POLL_LIMIT = 100  # messages per poll answer; the next poll fetches the rest
CONVERSATIONS_PAGE = 30
PEOPLE_LIMIT = 20
# Unread counters stop counting here ("99+"): a new user must not make the badge count the
# whole history of the chat every ten seconds.
UNREAD_CAP = 100
SENT_EVENT = "notifications-sent"
PRIVATE_MESSAGE = "notifications.private_message"
PREVIEW_LENGTH = 200  # of a message, in its notification


# -- messages of a room ------------------------------------------------------------------


class MessageForm(FlaskForm):
    body = TextAreaField(
        _l("Message"),
        filters=[clean_text],
        validators=[
            DataRequired(message=_l("Write a message first.")),
            Length(
                max=MAX_MESSAGE_LENGTH,
                message=_l("A message can be at most %(max)d characters long."),
            ),
        ],
        render_kw={"rows": 2, "maxlength": MAX_MESSAGE_LENGTH},
    )


def _messages(room: str) -> Select[Any]:
    """A room's messages with their sender's name (a deleted sender leaves ``None``)."""
    return (
        select(
            Message.id,
            Message.body,
            Message.created_at,
            Message.sender_id,
            User.name.label("sender_name"),
            User.login.label("sender_login"),
        )
        .outerjoin(User, User.id == Message.sender_id)
        .where(Message.room == room)
    )


def latest_messages(
    room: str, before: int | None = None, query: str = ""
) -> tuple[list[Row[Any]], int | None]:
    """Up to :data:`PAGE_SIZE` messages before ``before`` (all: the latest), oldest first,
    and the id to pass as ``before`` for the page of older ones (``None``: no more).
    ``query`` keeps only messages containing it, case-insensitively."""
    stmt = _messages(room).order_by(Message.id.desc()).limit(PAGE_SIZE + 1)
    if before is not None:
        stmt = stmt.where(Message.id < before)
    if query:
        dialect = db_session().get_bind().dialect.name
        stmt = stmt.where(search_condition([Message.body], query, "contains", dialect))
    rows = list(db_session().execute(stmt))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    rows = rows[:PAGE_SIZE]
    rows.reverse()
    return rows, older


def messages_after(room: str, after: int) -> list[Row[Any]]:
    """The messages a polling page has not got yet (id above ``after``), oldest first."""
    stmt = _messages(room).where(Message.id > after).order_by(Message.id).limit(POLL_LIMIT)
    return list(db_session().execute(stmt))


def last_read_id(user_id: int, room: str) -> int:
    """The id of the last message of ``room`` the user has seen (0: none)."""
    stmt = select(ReadMark.last_read_id).where(ReadMark.user_id == user_id, ReadMark.room == room)
    return db_session().scalar(stmt) or 0


def advance_mark(user_id: int, room: str, newest: int) -> None:
    """Move the read mark forward to ``newest`` (never back), without committing: one
    statement that is safe when two tabs of the same user post at the same moment."""
    db = db_session()
    stmt = dialect_insert(db)(ReadMark).values(user_id=user_id, room=room, last_read_id=newest)
    stmt = stmt.on_conflict_do_update(
        index_elements=[ReadMark.user_id, ReadMark.room],
        set_={"last_read_id": stmt.excluded.last_read_id},
        where=ReadMark.last_read_id < stmt.excluded.last_read_id,
    )
    db.execute(stmt)


def mark_read(user_id: int, room: str, up_to: int) -> None:
    """Advance ``user_id``'s read mark in ``room`` to the last message at or below ``up_to``
    (so a posted id cannot move it past messages that exist), and commit."""
    db = db_session()
    newest = db.scalar(
        select(func.max(Message.id)).where(Message.room == room, Message.id <= up_to)
    )
    if newest:
        advance_mark(user_id, room, newest)
        db.commit()


def _not_mine(user_id: int) -> Any:
    """Messages someone else wrote (one's own are never unread)."""
    return or_(Message.sender_id.is_(None), Message.sender_id != user_id)


def unread_count(user_id: int, room: str, cap: int = UNREAD_CAP) -> int:
    """Messages of ``room`` after the user's read mark, not their own, counted up to ``cap``."""
    mark = (
        select(ReadMark.last_read_id)
        .where(ReadMark.user_id == user_id, ReadMark.room == room)
        .scalar_subquery()
    )
    unread = (
        select(Message.id)
        .where(Message.room == room, Message.id > func.coalesce(mark, 0), _not_mine(user_id))
        .limit(cap)
        .subquery()
    )
    return db_session().scalar(select(func.count()).select_from(unread)) or 0


def my_rooms(user_id: int) -> Any:
    """The condition "a conversation ``user_id`` takes part in" on ``Message.room``.

    Room names are built from integer ids only, so the patterns hold no wildcard of the
    user's making."""
    return or_(Message.room.like(f"dm:{user_id}:%"), Message.room.like(f"dm:%:{user_id}"))


def private_unread_count(user_id: int, cap: int = UNREAD_CAP) -> int:
    """Unread private messages over all the user's conversations, counted up to ``cap``."""
    unread = (
        select(Message.id)
        .outerjoin(ReadMark, and_(ReadMark.room == Message.room, ReadMark.user_id == user_id))
        .where(
            my_rooms(user_id),
            Message.id > func.coalesce(ReadMark.last_read_id, 0),
            _not_mine(user_id),
        )
        .limit(cap)
        .subquery()
    )
    return db_session().scalar(select(func.count()).select_from(unread)) or 0


def other_party(room: str, user_id: int) -> int | None:
    """The other user of a ``dm:<a>:<b>`` room ``user_id`` is in (``None`` otherwise)."""
    parts = room.split(":")
    if len(parts) != 3 or parts[0] != "dm" or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    low, high = int(parts[1]), int(parts[2])
    if user_id == low:
        return high
    return low if user_id == high else None


# -- request helpers -----------------------------------------------------------------------


def id_arg(name: str, source: Any = None) -> int | None:
    """A positive id from the query string (or ``source``); ``None`` when absent or bad."""
    raw = str((request.args if source is None else source).get(name, "")).strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


def query_arg() -> str:
    return clean_text(request.args.get("q", ""))[:MAX_QUERY_LENGTH]


def sender_label(row: Any) -> str:
    return row.sender_name or row.sender_login or _("Deleted user")


@dataclass(frozen=True)
class Room:
    """A room as its templates see it: the messages' room key stays on the server; the
    templates only get the URLs of the endpoints that derive it again."""

    key: str
    title: str
    page_url: str
    poll_url: str
    send_url: str
    read_url: str
    can_send: bool = True
    notice: str = ""
    recipient_id: int | None = None  # the other person of a conversation (not the chat)


def _room_page(template: str, room: Room, status: int = 200, **context: Any) -> Any:
    """A room's page: the latest messages (or older ones, or search hits) and the form."""
    before = id_arg("before")
    query = query_arg()
    rows, older = latest_messages(room.key, before, query)
    last_id = rows[-1].id if rows else 0
    live = before is None and not query
    mark = last_read_id(current_user.id, room.key)
    context.setdefault("form", MessageForm(formdata=None))
    return (
        render_template(
            template,
            room=room,
            messages=rows,
            older_url=_page_url(room, before=older, q=query) if older else "",
            newer_url=room.page_url if not live else "",
            query=query,
            live=live,
            last_id=last_id,
            mark_up_to=last_id if live and last_id > mark else 0,
            sender_label=sender_label,
            max_length=MAX_MESSAGE_LENGTH,
            **context,
        ),
        status,
    )


def _page_url(room: Room, **args: Any) -> str:
    """The room's page with the given query arguments (the empty ones left out)."""
    kept = {k: v for k, v in args.items() if v}
    return f"{room.page_url}?{urlencode(kept)}" if kept else room.page_url


def _poll(room: Room) -> ResponseReturnValue:
    """New messages after ``after`` (required), plus a new poll element and read mark."""
    after = request.args.get("after", "")
    if not after.isdigit() or int(after) > MAX_ID:
        abort(400)
    rows = messages_after(room.key, int(after))
    if not rows:
        return "", 204
    return render_template(
        "notifications/chat_poll.html",
        room=room,
        messages=rows,
        last_id=rows[-1].id,
        mark_up_to=rows[-1].id,
        sender_label=sender_label,
        oob=True,
        first=int(after) == 0,
    )


def _form_fragment(room: Room, form: MessageForm) -> str:
    """The send form alone: htmx swaps it in place of the one that was posted."""
    return render_template(
        "notifications/chat_form.html", room=room, form=form, max_length=MAX_MESSAGE_LENGTH
    )


def _send(room: Room, template: str, **context: Any) -> ResponseReturnValue:
    """Post a message to the room: saved with the sender's read mark moved past it."""
    form = MessageForm()
    refused = "" if room.can_send else _("You cannot write to this user: they are inactive.")
    valid = form.validate_on_submit()
    if refused or not valid:
        if refused:
            form.body.errors = [*form.body.errors, refused]
        if wants_fragment():
            return _form_fragment(room, form)
        return _room_page(template, room, 400, form=form, **context)
    db = db_session()
    message = Message(room=room.key, sender_id=current_user.id, body=form.body.data)
    db.add(message)
    db.flush()
    advance_mark(current_user.id, room.key, message.id)
    if room.recipient_id is not None:
        _notify_recipient(db, message, room.recipient_id)
    db.commit()
    if wants_fragment():
        return _form_fragment(room, MessageForm(formdata=None)), 200, {"HX-Trigger": SENT_EVENT}
    return redirect(room.page_url, 303)


def _notify_recipient(db: Any, message: Message, recipient_id: int) -> None:
    """The ``notifications.private_message`` event for the person written to, in the
    message's own transaction (their preferences choose pop-up, e-mail or SMS)."""
    sender = current_user.name or current_user.login
    raise_event(
        db,
        PRIVATE_MESSAGE,
        f"message:{message.id}",
        _("New private message"),
        f"{sender}: {message.body[:PREVIEW_LENGTH]}",
        url_for("notifications.conversation", user_id=current_user.id),
        recipients=[recipient_id],
    )


def _read(room: Room) -> ResponseReturnValue:
    """Advance the user's read mark to ``last_id`` (posted by the page on load)."""
    if not FlaskForm().validate_on_submit():
        abort(400)
    up_to = id_arg("last_id", request.form)
    if up_to is None:
        abort(400)
    mark_read(current_user.id, room.key, up_to)
    if wants_fragment():
        return "", 204
    return redirect(room.page_url, 303)


# -- the chat (NT-1) -------------------------------------------------------------------


def chat_room() -> Room:
    return Room(
        key=GENERAL_ROOM,
        title=_("Chat"),
        page_url=url_for("notifications.chat"),
        poll_url=url_for("notifications.chat_poll"),
        send_url=url_for("notifications.chat_send"),
        read_url=url_for("notifications.chat_read"),
    )


@bp.get("/chat")
@require(CHAT_READ)
def chat() -> ResponseReturnValue:
    """The chat of every active user: latest messages, live; ``before`` / ``q`` for history."""
    return _room_page("notifications/chat.html", chat_room(), breadcrumbs=[(_("Chat"), None)])


@bp.get("/chat/messages")
@require(CHAT_READ)
def chat_poll() -> ResponseReturnValue:
    return _poll(chat_room())


@bp.post("/chat")
@require(CHAT_READ)
def chat_send() -> ResponseReturnValue:
    return _send(chat_room(), "notifications/chat.html", breadcrumbs=[(_("Chat"), None)])


@bp.post("/chat/read")
@require(CHAT_READ)
def chat_read() -> ResponseReturnValue:
    return _read(chat_room())


# -- private correspondence (NT-2) ---------------------------------------------------------


def _other_user_or_404(user_id: int) -> User:
    """The other person of a conversation: any existing user but oneself."""
    if not 0 < user_id <= MAX_ID or user_id == current_user.id:
        abort(404)
    other = db_session().get(User, user_id)
    if other is None:
        abort(404)
    return other


def conversation_room(other: User) -> Room:
    """The conversation of the signed-in user with ``other``: the room key comes from the
    two ids, so nobody reaches a conversation they are not in."""
    name = other.name or other.login
    return Room(
        key=direct_room(current_user.id, other.id),
        title=_("Conversation with %(name)s", name=name),
        page_url=url_for("notifications.conversation", user_id=other.id),
        poll_url=url_for("notifications.conversation_poll", user_id=other.id),
        send_url=url_for("notifications.conversation_send", user_id=other.id),
        read_url=url_for("notifications.conversation_read", user_id=other.id),
        can_send=other.active,
        notice="" if other.active else _("This user is inactive: you cannot write to them."),
        recipient_id=other.id,
    )


@dataclass(frozen=True)
class Conversation:
    """One line of the list of conversations."""

    user_id: int
    name: str
    active: bool
    last_id: int
    last_body: str
    last_at: datetime | None
    last_mine: bool
    unread: int


def list_conversations(
    user_id: int, before: int | None = None
) -> tuple[list[Conversation], int | None]:
    """The user's conversations, latest activity first, keyset on the last message id.

    Three queries whatever the number of conversations: the rooms with their last id and
    unread count (one GROUP BY), the last messages, the other people's names."""
    db = db_session()
    last = func.max(Message.id)
    unread = func.sum(
        case(
            (
                and_(Message.id > func.coalesce(ReadMark.last_read_id, 0), _not_mine(user_id)),
                1,
            ),
            else_=0,
        )
    )
    stmt = (
        select(Message.room, last.label("last_id"), unread.label("unread"))
        .outerjoin(ReadMark, and_(ReadMark.room == Message.room, ReadMark.user_id == user_id))
        .where(my_rooms(user_id))
        .group_by(Message.room)
        .order_by(last.desc())
        .limit(CONVERSATIONS_PAGE + 1)
    )
    if before is not None:
        stmt = stmt.having(last < before)
    rooms = list(db.execute(stmt))
    more = rooms[CONVERSATIONS_PAGE - 1].last_id if len(rooms) > CONVERSATIONS_PAGE else None
    rooms = rooms[:CONVERSATIONS_PAGE]
    if not rooms:
        return [], None
    lasts = {
        row.id: row
        for row in db.execute(
            select(Message.id, Message.body, Message.created_at, Message.sender_id).where(
                Message.id.in_([r.last_id for r in rooms])
            )
        )
    }
    others = {r.room: other_party(r.room, user_id) for r in rooms}
    people = {
        row.id: row
        for row in db.execute(
            select(User.id, User.name, User.login, User.active).where(
                User.id.in_([o for o in others.values() if o is not None])
            )
        )
    }
    result = []
    for r in rooms:
        other = others[r.room]
        person = people.get(other) if other is not None else None
        if person is None:  # a room of a deleted user (or not a room of two ids)
            continue
        message = lasts[r.last_id]
        result.append(
            Conversation(
                user_id=person.id,
                name=person.name or person.login,
                active=person.active,
                last_id=r.last_id,
                last_body=message.body,
                last_at=message.created_at,
                last_mine=message.sender_id == user_id,
                unread=int(r.unread or 0),
            )
        )
    return result, more


def find_people(query: str, exclude_id: int, limit: int = PEOPLE_LIMIT) -> Sequence[Row[Any]]:
    """Active users (but oneself) whose name or login contains ``query``."""
    stmt = (
        select(User.id, User.name, User.login)
        .where(User.active.is_(True), User.id != exclude_id)
        .order_by(User.name, User.login)
        .limit(limit)
    )
    if query:
        dialect = db_session().get_bind().dialect.name
        stmt = stmt.where(search_condition([User.name, User.login], query, "contains", dialect))
    return list(db_session().execute(stmt))


def _who_arg() -> str:
    return clean_text(request.args.get("who", ""))[:MAX_QUERY_LENGTH]


@bp.get("/conversations")
@require(MESSAGE_READ)
def conversations() -> ResponseReturnValue:
    """The user's conversations (who, last message, unread) and a picker to start one."""
    before = id_arg("before")
    rows, more = list_conversations(current_user.id, before)
    who = _who_arg()
    return render_template(
        "notifications/conversations.html",
        conversations=rows,
        older_url=url_for("notifications.conversations", before=more) if more else "",
        who=who,
        people=find_people(who, current_user.id) if "who" in request.args else None,
        breadcrumbs=[(_("Private messages"), None)],
    )


@bp.get("/conversations/people")
@require(MESSAGE_READ)
def conversation_people() -> ResponseReturnValue:
    """The picker's hits (an htmx fragment): active users by name or login."""
    who = _who_arg()
    return render_template(
        "notifications/conversation_people.html", people=find_people(who, current_user.id), who=who
    )


def _crumbs(room: Room) -> list[tuple[str, str | None]]:
    return [(_("Private messages"), url_for("notifications.conversations")), (room.title, None)]


@bp.get("/conversations/<int:user_id>")
@require(MESSAGE_READ)
def conversation(user_id: int) -> ResponseReturnValue:
    """The signed-in user's conversation with ``user_id`` (empty until someone writes)."""
    room = conversation_room(_other_user_or_404(user_id))
    return _room_page("notifications/conversation.html", room, breadcrumbs=_crumbs(room))


@bp.get("/conversations/<int:user_id>/messages")
@require(MESSAGE_READ)
def conversation_poll(user_id: int) -> ResponseReturnValue:
    return _poll(conversation_room(_other_user_or_404(user_id)))


@bp.post("/conversations/<int:user_id>")
@require(MESSAGE_READ)
def conversation_send(user_id: int) -> ResponseReturnValue:
    room = conversation_room(_other_user_or_404(user_id))
    return _send(room, "notifications/conversation.html", breadcrumbs=_crumbs(room))


@bp.post("/conversations/<int:user_id>/read")
@require(MESSAGE_READ)
def conversation_read(user_id: int) -> ResponseReturnValue:
    return _read(conversation_room(_other_user_or_404(user_id)))
