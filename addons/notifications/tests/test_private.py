"""Private correspondence (NT-2): the list of conversations with unread counts in a fixed
number of queries; nobody reads a conversation they are not in, whatever ids or room names
they guess; inactive users cannot be written to."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from addons.notifications.models import Message, direct_room
from core.models import User
from core.testing.plugin import (
    create_user,
    csrf_token,
    signed_in_client,
)

PRIVATE = "notifications.message.read"
SECRET = "Таємниця Анни й Богдана"


def sign_in(
    app: Flask, db: Session, login: str, perms: tuple[str, ...] = (PRIVATE,)
) -> FlaskClient:
    """A client signed in as a new user ``login`` (English: the tests read English texts)."""
    return signed_in_client(app, db, login, perms, language="en")


def htmx(app: Flask, client: FlaskClient) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": csrf_token(app, client)}


def write(app: Flask, client: FlaskClient, to: int, body: str, fragment: bool = True):  # type: ignore[no-untyped-def]
    url = f"/notifications/conversations/{to}"
    if fragment:
        return client.post(url, data={"body": body}, headers=htmx(app, client))
    return client.post(url, data={"body": body, "csrf_token": csrf_token(app, client)})


def unread_in_list(html: str) -> dict[int, int]:
    """``{other user id: unread}`` from the list of conversations."""
    found: dict[int, int] = {}
    for item in re.findall(r'<a class="list-group-item[^"]*conversation-item.*?</a>', html, re.S):
        user_id = int(re.search(r"/conversations/(\d+)", item).group(1))  # type: ignore[union-attr]
        badge = re.search(r'title="Unread">(\d+)<', item)
        found[user_id] = int(badge.group(1)) if badge else 0
    return found


def private_count(client: FlaskClient) -> int:
    html = client.get("/notifications/badge").get_data(as_text=True)
    return int(re.search(r'data-count-private="(\d+)"', html).group(1))  # type: ignore[union-attr]


# -- tests -------------------------------------------------------------------------------


def test_conversations_list_with_last_message_and_unread(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    vira = sign_in(napp, db, "vira")
    assert write(napp, anna, bohdan.user_id, "Привіт!").status_code == 200
    write(napp, anna, bohdan.user_id, "Як справи?")
    write(napp, anna, vira.user_id, "Віро, звіт готовий?")
    room = direct_room(anna.user_id, bohdan.user_id)
    assert [m.body for m in db.scalars(select(Message).where(Message.room == room))] == [
        "Привіт!",
        "Як справи?",
    ]

    html = bohdan.get("/notifications/conversations").get_data(as_text=True)
    assert unread_in_list(html) == {anna.user_id: 2}
    assert "Anna" in html and "Як справи?" in html and "Віро" not in html
    assert private_count(bohdan) == 2
    html = anna.get("/notifications/conversations").get_data(as_text=True)
    assert unread_in_list(html) == {vira.user_id: 0, bohdan.user_id: 0}  # latest first
    assert "You: Віро, звіт готовий?" in html

    # Bohdan reads and answers: Anna has one unread, Bohdan none.
    page = bohdan.get(f"/notifications/conversations/{anna.user_id}").get_data(as_text=True)
    assert "Привіт!" in page and "Як справи?" in page
    last = int(re.search(r'"last_id": (\d+)', page).group(1))  # type: ignore[union-attr]
    read = bohdan.post(
        f"/notifications/conversations/{anna.user_id}/read",
        data={"last_id": last},
        headers=htmx(napp, bohdan),
    )
    assert read.status_code == 204
    write(napp, bohdan, anna.user_id, "Добре, дякую")
    assert unread_in_list(bohdan.get("/notifications/conversations").get_data(as_text=True)) == {
        anna.user_id: 0
    }
    assert private_count(bohdan) == 0
    assert unread_in_list(anna.get("/notifications/conversations").get_data(as_text=True)) == {
        bohdan.user_id: 1,
        vira.user_id: 0,
    }
    # Polling works as in the chat, keyset on the id.
    poll = anna.get(f"/notifications/conversations/{bohdan.user_id}/messages?after={last}")
    assert "Добре, дякую" in poll.get_data(as_text=True)


def test_a_third_user_never_reads_a_conversation_they_are_not_in(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    chris = sign_in(napp, db, "chris")
    write(napp, anna, bohdan.user_id, SECRET)
    write(napp, bohdan, anna.user_id, SECRET + " (відповідь)")
    top = db.scalar(select(func.max(User.id)))

    # Chris opens /conversations/<Anna> and /<Bohdan>: his own (empty) conversations.
    for other in (anna.user_id, bohdan.user_id):
        page = chris.get(f"/notifications/conversations/{other}")
        assert page.status_code == 200
        assert SECRET not in page.get_data(as_text=True)
        assert (
            chris.get(f"/notifications/conversations/{other}/messages?after=0").status_code == 204
        )
        assert SECRET not in chris.get(f"/notifications/conversations/{other}?q=Таємниця").get_data(
            as_text=True
        )
    # Every id he can guess, page and poll alike.
    for guess in range(0, top + 3):
        for url in (
            f"/notifications/conversations/{guess}",
            f"/notifications/conversations/{guess}/messages?after=0",
        ):
            answer = chris.get(url)
            assert answer.status_code in (200, 204, 404)
            assert SECRET not in answer.get_data(as_text=True)
    # Room names are not routes, nor arguments anyone reads.
    room = direct_room(anna.user_id, bohdan.user_id)
    for url in (
        f"/notifications/conversations/{room}",
        f"/notifications/conversations/{room}/messages?after=0",
        f"/notifications/conversations/{anna.user_id}/messages?after=0&room={room}",
        f"/notifications/chat?room={room}",
        f"/notifications/chat/messages?after=0&room={room}",
    ):
        assert SECRET not in chris.get(url).get_data(as_text=True)
    assert SECRET not in chris.get("/notifications/conversations").get_data(as_text=True)
    assert private_count(chris) == 0

    # What Chris writes to Anna goes to the Anna–Chris room, never into Anna–Bohdan's.
    write(napp, chris, anna.user_id, "Привіт від Кріса", fragment=False)
    theirs = [m.body for m in db.scalars(select(Message).where(Message.room == room))]
    assert theirs == [SECRET, SECRET + " (відповідь)"]
    assert "Привіт від Кріса" not in bohdan.get(
        f"/notifications/conversations/{anna.user_id}"
    ).get_data(as_text=True)
    assert "Привіт від Кріса" in anna.get(f"/notifications/conversations/{chris.user_id}").get_data(
        as_text=True
    )
    # Nor can he move anyone's read mark but his own.
    chris.post(
        f"/notifications/conversations/{anna.user_id}/read",
        data={"last_id": 2**31 - 1, "room": room},
        headers=htmx(napp, chris),
    )
    assert private_count(bohdan) == 0 and private_count(anna) == 2


def test_oneself_unknown_and_absurd_ids_are_not_found(napp, db):
    anna = sign_in(napp, db, "anna")
    for guess in (anna.user_id, 0, 999_999, 2**31, 2**40):
        assert anna.get(f"/notifications/conversations/{guess}").status_code == 404
        assert write(napp, anna, guess, "x").status_code == 404
        assert anna.get(f"/notifications/conversations/{guess}/messages?after=0").status_code == 404
    assert anna.get("/notifications/conversations/-1").status_code == 404
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def test_inactive_users_cannot_be_written_to(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    write(napp, bohdan, anna.user_id, "Я йду у відпустку")
    db.get(User, bohdan.user_id).active = False
    db.commit()

    page = anna.get(f"/notifications/conversations/{bohdan.user_id}").get_data(as_text=True)
    assert "Я йду у відпустку" in page  # the history stays readable
    assert "inactive" in page and 'id="room-form"' not in page
    refused = write(napp, anna, bohdan.user_id, "Ти тут?")
    assert refused.status_code == 200 and "HX-Trigger" not in refused.headers
    assert "they are inactive" in refused.get_data(as_text=True)
    assert write(napp, anna, bohdan.user_id, "Ти тут?", fragment=False).status_code == 400
    assert [m.body for m in db.scalars(select(Message))] == ["Я йду у відпустку"]
    people = anna.get("/notifications/conversations/people?who=").get_data(as_text=True)
    assert f"/conversations/{bohdan.user_id}" not in people
    listed = anna.get("/notifications/conversations").get_data(as_text=True)
    assert "inactive" in listed


def test_the_picker_finds_active_users_by_name_or_login(napp, db):
    anna = sign_in(napp, db, "anna")
    oksana = create_user(db, "o.koval")
    oksana.name = "Оксана Коваль"
    petro = create_user(db, "petro")
    db.commit()
    for who in ("ОКСАНА", "коваль", "o.kov"):
        html = anna.get(f"/notifications/conversations/people?who={who}").get_data(as_text=True)
        assert f"/conversations/{oksana.id}" in html and f"/conversations/{petro.id}" not in html
    everyone = anna.get("/notifications/conversations/people").get_data(as_text=True)
    assert f"/conversations/{petro.id}" in everyone
    assert f"/conversations/{anna.user_id}" not in everyone  # not oneself
    assert "Nobody found." in anna.get("/notifications/conversations/people?who=%25_%25").get_data(
        as_text=True
    )
    # Without JavaScript the list page shows the hits itself.
    page = anna.get("/notifications/conversations?who=оксана").get_data(as_text=True)
    assert "Оксана Коваль" in page and 'hx-trigger="input changed delay:300ms, search"' in page


def test_listing_conversations_takes_the_same_queries_for_2_or_12(napp, db):
    anna = sign_in(napp, db, "anna")
    connection = db.get_bind()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    def queries() -> int:
        statements.clear()
        event.listen(connection, "before_cursor_execute", count)
        try:
            assert anna.get("/notifications/conversations").status_code == 200
        finally:
            event.remove(connection, "before_cursor_execute", count)
        return len(statements)

    def add_conversations(n: int, start: int) -> None:
        for i in range(start, start + n):
            other = create_user(db, f"colleague{i}")
            room = direct_room(anna.user_id, other.id)
            db.add_all(
                [
                    Message(room=room, sender_id=other.id, body=f"від {i}"),
                    Message(room=room, sender_id=anna.user_id, body=f"до {i}"),
                    Message(room=room, sender_id=other.id, body=f"ще від {i}"),
                ]
            )
        db.commit()

    add_conversations(2, 0)
    few = queries()
    add_conversations(10, 2)
    many = queries()
    assert many == few, statements
    html = anna.get("/notifications/conversations").get_data(as_text=True)
    assert len(unread_in_list(html)) == 12 and set(unread_in_list(html).values()) == {2}


def test_older_conversations_by_keyset(napp, db):
    anna = sign_in(napp, db, "anna")
    others = [create_user(db, f"colleague{i}") for i in range(35)]
    for other in others:
        db.add(Message(room=direct_room(anna.user_id, other.id), sender_id=other.id, body="x"))
    db.commit()
    html = anna.get("/notifications/conversations").get_data(as_text=True)
    first = list(unread_in_list(html))
    older = re.search(r'href="(/notifications/conversations\?before=\d+)"', html)
    assert older and len(first) == 30
    rest = list(unread_in_list(anna.get(older.group(1)).get_data(as_text=True)))
    assert first + rest == [o.id for o in reversed(others)]


def test_private_messages_need_their_permission(napp, db):
    anna = sign_in(napp, db, "anna")
    outsider = sign_in(napp, db, "outsider", perms=())
    for url in (
        "/notifications/conversations",
        "/notifications/conversations/people",
        f"/notifications/conversations/{anna.user_id}",
        f"/notifications/conversations/{anna.user_id}/messages?after=0",
    ):
        assert outsider.get(url).status_code == 403
    assert write(napp, outsider, anna.user_id, "x").status_code == 403
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def test_the_person_written_to_is_notified_and_nobody_else(napp, db):
    """NT-2/NT-3: a private message raises ``notifications.private_message`` for its
    recipient only, its pop-up linking to the conversation."""
    from addons.notifications.models import Event, Notification

    anna = sign_in(napp, db, "anna-n")
    bohdan = sign_in(napp, db, "bohdan-n")
    write(napp, anna, bohdan.user_id, "Привіт, Богдане")
    rows = db.execute(
        select(Event.type, Event.body, Event.url, Notification.user_id).join(
            Notification, Notification.event_id == Event.id
        )
    ).all()
    assert rows == [
        (
            "notifications.private_message",
            "Anna-N: Привіт, Богдане",
            f"/notifications/conversations/{anna.user_id}",
            bohdan.user_id,
        )
    ]
