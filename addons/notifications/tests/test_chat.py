"""The chat (NT-1): two signed-in users talk through the polling partial; bad messages are
refused; bodies are escaped; history search and "older messages" use keysets; unread
counts follow the read marks."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.notifications.chat import MAX_MESSAGE_LENGTH, PAGE_SIZE
from addons.notifications.models import GENERAL_ROOM, Message, ReadMark
from core.models import User
from core.testing.plugin import (
    csrf_token,
    signed_in_client,
)

CHAT = "notifications.chat.read"


def sign_in(app: Flask, db: Session, login: str, perms: tuple[str, ...] = (CHAT,)) -> FlaskClient:
    """A client signed in as a new user ``login`` (English: the tests read English texts)."""
    return signed_in_client(app, db, login, perms, language="en")


def htmx(app: Flask, client: FlaskClient) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": csrf_token(app, client)}


def send(app: Flask, client: FlaskClient, body: str, fragment: bool = True):  # type: ignore[no-untyped-def]
    if fragment:
        return client.post("/notifications/chat", data={"body": body}, headers=htmx(app, client))
    return client.post(
        "/notifications/chat", data={"body": body, "csrf_token": csrf_token(app, client)}
    )


def poll_after(html: str) -> int:
    """The ``after`` id of the poll element in a page or poll answer."""
    found = re.search(r'id="room-poll" hx-get="[^"]*\?after=(\d+)"', html)
    assert found, html
    return int(found.group(1))


def chat_count(app: Flask, client: FlaskClient) -> int:
    html = client.get("/notifications/badge").get_data(as_text=True)
    found = re.search(r'data-count-chat="(\d+)"', html)
    assert found, html
    return int(found.group(1))


def messages(db: Session) -> list[Message]:
    return list(
        db.scalars(select(Message).where(Message.room == GENERAL_ROOM).order_by(Message.id))
    )


# -- tests -------------------------------------------------------------------------------


def test_a_message_reaches_the_other_user_by_polling(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    page = bohdan.get("/notifications/chat").get_data(as_text=True)
    assert 'hx-trigger="every 3s, notifications-sent from:body"' in page
    assert 'hx-swap="beforeend"' in page and 'hx-target="#room-log"' in page
    after = poll_after(page)
    assert after == 0
    assert bohdan.get(f"/notifications/chat/messages?after={after}").status_code == 204

    sent = send(napp, anna, "Привіт, Богдане!")
    assert sent.status_code == 200
    assert sent.headers["HX-Trigger"] == "notifications-sent"
    assert 'id="room-form"' in sent.get_data(as_text=True)  # a cleared form to swap in

    answer = bohdan.get(f"/notifications/chat/messages?after={after}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Привіт, Богдане!" in html and "Anna" in html
    assert 'hx-swap-oob="true"' in html  # the next poll carries the new last id
    first = messages(db)[-1].id
    assert poll_after(html) == first
    # The next poll gets only what came after, keyset on the id.
    assert bohdan.get(f"/notifications/chat/messages?after={first}").status_code == 204
    send(napp, anna, "Друге повідомлення")
    html = bohdan.get(f"/notifications/chat/messages?after={first}").get_data(as_text=True)
    assert "Друге повідомлення" in html and "Привіт, Богдане!" not in html
    # The sender sees it too, and a fresh page shows both.
    page = anna.get("/notifications/chat").get_data(as_text=True)
    assert "Привіт, Богдане!" in page and "Друге повідомлення" in page
    assert poll_after(page) == messages(db)[-1].id


def test_without_javascript_the_form_posts_and_redirects(napp, db):
    anna = sign_in(napp, db, "anna")
    answer = send(napp, anna, "Без JavaScript", fragment=False)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/notifications/chat")
    assert [m.body for m in messages(db)] == ["Без JavaScript"]
    assert messages(db)[0].sender_id == anna.user_id


def test_empty_or_too_long_messages_are_refused(napp, db):
    anna = sign_in(napp, db, "anna")
    for body in ("", "   \n  ", "\x00"):
        answer = send(napp, anna, body)
        assert answer.status_code == 200 and "HX-Trigger" not in answer.headers
        assert "Write a message first." in answer.get_data(as_text=True)
        assert send(napp, anna, body, fragment=False).status_code == 400
    too_long = "я" * (MAX_MESSAGE_LENGTH + 1)
    answer = send(napp, anna, too_long)
    assert "at most 4000 characters" in answer.get_data(as_text=True)
    page = send(napp, anna, too_long, fragment=False)
    assert page.status_code == 400 and "at most 4000 characters" in page.get_data(as_text=True)
    assert messages(db) == []
    assert send(napp, anna, "я" * MAX_MESSAGE_LENGTH).status_code == 200
    assert len(messages(db)) == 1


def test_messages_are_escaped_and_links_stay_text(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    send(napp, anna, '<script>alert("x")</script> see https://evil.example/\n<b>bold</b>')
    for html in (
        bohdan.get("/notifications/chat").get_data(as_text=True),
        bohdan.get("/notifications/chat/messages?after=0").get_data(as_text=True),
        bohdan.get("/notifications/chat?q=script").get_data(as_text=True),
    ):
        assert "<script>alert" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert 'href="https://evil.example' not in html
        assert "see https://evil.example/<br>&lt;b&gt;bold&lt;/b&gt;" in html


def test_history_search_and_older_pages_use_keysets(napp, db):
    anna = sign_in(napp, db, "anna")
    user = db.get(User, anna.user_id)
    bodies = [f"повідомлення {i}" for i in range(PAGE_SIZE * 2 + 10)]
    bodies[7] = "Зустріч у РОМАШЦІ о 10:00"
    bodies[-3] = "ромашці — букет"
    db.add_all(Message(room=GENERAL_ROOM, sender_id=user.id, body=b) for b in bodies)
    db.add(Message(room="dm:1:2", sender_id=user.id, body="Ромашці не з цієї кімнати"))
    db.commit()
    ids = [m.id for m in messages(db)]

    # Latest page, then "older messages" by keyset until the start.
    seen: list[int] = []
    url = "/notifications/chat"
    while url:
        html = anna.get(url).get_data(as_text=True)
        page_ids = [int(i) for i in re.findall(r'id="message-(\d+)"', html)]
        assert page_ids == sorted(page_ids) and len(page_ids) <= PAGE_SIZE
        seen = page_ids + seen
        older = re.search(r'href="([^"]*before=(\d+)[^"]*)" rel="prev"', html)
        if older:
            assert int(older.group(2)) == page_ids[0]
            assert "offset" not in older.group(1).lower()
        url = older.group(1).replace("&amp;", "&") if older else ""
    assert seen == ids
    history = anna.get(f"/notifications/chat?before={ids[-1]}").get_data(as_text=True)
    assert 'id="room-poll"' not in history  # history pages don't poll

    # Search: case-insensitive "contains", this room only, newest last.
    html = anna.get("/notifications/chat?q=ромашці").get_data(as_text=True)
    found = re.findall(r'id="message-(\d+)"', html)
    assert [int(i) for i in found] == [ids[7], ids[-3]]
    assert "не з цієї кімнати" not in html
    assert "Зустріч у РОМАШЦІ" in anna.get("/notifications/chat?q=зустріч").get_data(as_text=True)
    assert "No messages found." in anna.get("/notifications/chat?q=100%25_").get_data(as_text=True)


def test_unread_counter_follows_read_marks(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    send(napp, anna, "перше")
    send(napp, anna, "друге")
    assert chat_count(napp, bohdan) == 2
    assert chat_count(napp, anna) == 0  # one's own messages are never unread

    page = bohdan.get("/notifications/chat").get_data(as_text=True)
    last = messages(db)[-1].id
    assert f"hx-vals='{{\"last_id\": {last}}}'" in page and 'hx-trigger="load"' in page
    assert chat_count(napp, bohdan) == 2  # looking (GET) changes nothing by itself
    read = bohdan.post(
        "/notifications/chat/read", data={"last_id": last}, headers=htmx(napp, bohdan)
    )
    assert read.status_code == 204
    assert chat_count(napp, bohdan) == 0
    assert 'hx-trigger="load"' not in bohdan.get("/notifications/chat").get_data(as_text=True)

    send(napp, anna, "третє")
    assert chat_count(napp, bohdan) == 1
    # A mark never goes back, nor past the messages that exist.
    bohdan.post("/notifications/chat/read", data={"last_id": 1}, headers=htmx(napp, bohdan))
    assert chat_count(napp, bohdan) == 1
    bohdan.post("/notifications/chat/read", data={"last_id": 2**31 - 1}, headers=htmx(napp, bohdan))
    mark = db.scalar(
        select(ReadMark.last_read_id).where(
            ReadMark.user_id == bohdan.user_id, ReadMark.room == GENERAL_ROOM
        )
    )
    assert mark == messages(db)[-1].id
    assert chat_count(napp, bohdan) == 0
    # The poll answer also posts the read mark of what it appended.
    send(napp, anna, "четверте")
    html = bohdan.get(f"/notifications/chat/messages?after={mark}").get_data(as_text=True)
    assert f'"last_id": {messages(db)[-1].id}' in html
    # Without JavaScript: a plain form post, redirected back.
    plain = bohdan.post(
        "/notifications/chat/read",
        data={"last_id": messages(db)[-1].id, "csrf_token": csrf_token(napp, bohdan)},
    )
    assert plain.status_code == 303 and chat_count(napp, bohdan) == 0


def test_bad_requests_answer_cleanly(napp, db):
    anna = sign_in(napp, db, "anna")
    for after in ("", "abc", "-1", str(2**40)):
        assert anna.get(f"/notifications/chat/messages?after={after}").status_code == 400
    assert anna.get("/notifications/chat?before=abc&q=" + "x" * 5000).status_code == 200
    for last_id in ("", "0", "x"):
        answer = anna.post(
            "/notifications/chat/read", data={"last_id": last_id}, headers=htmx(napp, anna)
        )
        assert answer.status_code == 400
    # No CSRF token: refused, nothing saved.
    assert anna.post("/notifications/chat", data={"body": "x"}).status_code == 400
    assert db.scalar(select(func.count()).select_from(Message)) == 0


def test_the_chat_needs_its_permission(napp, db):
    outsider = sign_in(napp, db, "outsider", perms=())
    for url in ("/notifications/chat", "/notifications/chat/messages?after=0"):
        assert outsider.get(url).status_code == 403
    assert send(napp, outsider, "hello").status_code == 403
    answer = outsider.post(
        "/notifications/chat/read", data={"last_id": 1}, headers=htmx(napp, outsider)
    )
    assert answer.status_code == 403
    anonymous = napp.test_client()
    assert anonymous.get("/notifications/chat").status_code == 302
    assert db.scalar(select(func.count()).select_from(Message)) == 0
