"""The inbox of notifications (NT-4, pop-up side): one's own notifications only, unread or
all, marked read one by one or all at once; the shell's badge counts notifications, chat
and private messages; the dashboard widget and the bell in the shell's top bar."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from addons.notifications.models import GENERAL_ROOM, Event, Message, Notification, direct_room
from addons.notifications.widgets import bell_indicator, unread_widget
from core.models import User
from core.security import LoginUser
from core.testing.plugin import (
    create_user,
    csrf_token,
    signed_in_client,
)

CHAT = "notifications.chat.read"
PRIVATE = "notifications.message.read"


def sign_in(app: Flask, db: Session, login: str, perms: tuple[str, ...] = ()) -> FlaskClient:
    """A client signed in as a new user ``login`` (English: the tests read English texts)."""
    return signed_in_client(app, db, login, perms, language="en")


def notify(db: Session, user_id: int, title: str, url: str = "", body: str = "") -> Notification:
    """What the outbox's ``raise_event`` leaves for a pop-up: an event and its delivery."""
    count = db.scalar(select(func.count()).select_from(Event)) or 0
    event = Event(type="crm_base.birthday", key=f"k{count}", title=title, url=url, body=body)
    db.add(event)
    db.flush()
    row = Notification(user_id=user_id, event_id=event.id)
    db.add(row)
    db.commit()
    return row


def post(app: Flask, client: FlaskClient, url: str, **data: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": csrf_token(app, client), **data})


def ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="notification-(\d+)"', html)]


def badge(client: FlaskClient) -> dict[str, int]:
    html = client.get("/notifications/badge").get_data(as_text=True)
    return {k: int(v) for k, v in re.findall(r'data-count-(\w+)="(\d+)"', html)}


# -- tests -------------------------------------------------------------------------------


def test_the_inbox_lists_only_ones_own_notifications(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    first = notify(db, anna.user_id, "День народження: Олена Петренко", body="Сьогодні, 40 років")
    second = notify(db, anna.user_id, "Договір № 7 спливає")
    theirs = notify(db, bohdan.user_id, "Повідомлення Богдана")
    first.read_at = datetime.now(UTC)
    db.commit()

    html = anna.get("/notifications/inbox").get_data(as_text=True)
    assert ids(html) == [second.id]  # unread only, by default
    html = anna.get("/notifications/inbox?show=all").get_data(as_text=True)
    assert ids(html) == [second.id, first.id]  # newest first
    assert "Олена Петренко" in html and "Сьогодні, 40 років" in html
    assert "Богдана" not in html and theirs.id not in ids(html)
    assert ids(bohdan.get("/notifications/inbox").get_data(as_text=True)) == [theirs.id]
    assert anna.get("/notifications/inbox?show=bogus&before=x").status_code == 200
    assert napp.test_client().get("/notifications/inbox").status_code == 302


def test_mark_one_and_all_as_read(napp, db):
    anna = sign_in(napp, db, "anna")
    rows = [notify(db, anna.user_id, f"Подія {i}") for i in range(3)]
    answer = post(napp, anna, f"/notifications/inbox/{rows[0].id}/read", show="all")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("show=all")
    assert db.get(Notification, rows[0].id).read_at is not None
    assert ids(anna.get("/notifications/inbox").get_data(as_text=True)) == [rows[2].id, rows[1].id]

    fragment = anna.post(
        f"/notifications/inbox/{rows[1].id}/read",
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(napp, anna)},
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and html.lstrip().startswith("<article")
    assert f'id="notification-{rows[1].id}"' in html and "Mark as read" not in html
    assert badge(anna)["notifications"] == 1

    assert post(napp, anna, "/notifications/inbox/read-all").status_code == 303
    assert badge(anna)["notifications"] == 0
    assert "No unread notifications." in anna.get("/notifications/inbox").get_data(as_text=True)
    assert len(ids(anna.get("/notifications/inbox?show=all").get_data(as_text=True))) == 3
    # A GET changes nothing; a POST without the CSRF token is refused.
    fresh = notify(db, anna.user_id, "Ще одна")
    assert anna.get(f"/notifications/inbox/{fresh.id}/read").status_code == 405
    assert anna.post(f"/notifications/inbox/{fresh.id}/read").status_code == 400
    assert anna.post("/notifications/inbox/read-all").status_code == 400
    assert db.get(Notification, fresh.id).read_at is None


def test_another_users_notification_is_not_found(napp, db):
    anna = sign_in(napp, db, "anna")
    bohdan = sign_in(napp, db, "bohdan")
    theirs = notify(db, bohdan.user_id, "Тільки для Богдана", url="/crm/counterparties/1")
    for guess in (theirs.id, theirs.id + 1000, 0, 2**31, 2**40):
        assert post(napp, anna, f"/notifications/inbox/{guess}/read").status_code == 404
        assert post(napp, anna, f"/notifications/inbox/{guess}/open").status_code == 404
    post(napp, anna, "/notifications/inbox/read-all")
    assert db.get(Notification, theirs.id).read_at is None
    assert badge(bohdan)["notifications"] == 1


def test_opening_a_notification_marks_it_read_and_goes_to_a_local_page_only(napp, db):
    anna = sign_in(napp, db, "anna")
    local = notify(db, anna.user_id, "Місцеве", url="/crm/counterparties/5")
    bad = [
        notify(db, anna.user_id, f"Погане {i}", url=url)
        for i, url in enumerate(("javascript:alert(1)", "//evil.example/", "https://evil.example/"))
    ]
    answer = post(napp, anna, f"/notifications/inbox/{local.id}/open")
    assert answer.status_code == 303 and answer.headers["Location"] == "/crm/counterparties/5"
    assert db.get(Notification, local.id).read_at is not None
    for row in bad:
        answer = post(napp, anna, f"/notifications/inbox/{row.id}/open")
        assert answer.headers["Location"] == "/notifications/inbox?show=all"
    html = anna.get("/notifications/badge").get_data(as_text=True)
    assert "javascript:" not in html and "evil.example" not in html


def test_titles_and_bodies_are_escaped(napp, db):
    anna = sign_in(napp, db, "anna")
    notify(db, anna.user_id, "<script>alert(1)</script>", body='<img src=x onerror="x">')
    for url in ("/notifications/inbox", "/notifications/badge", "/notifications/badge/menu"):
        html = anna.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_older_notifications_by_keyset(napp, db):
    anna = sign_in(napp, db, "anna")
    rows = [notify(db, anna.user_id, f"Подія {i}") for i in range(35)]
    html = anna.get("/notifications/inbox").get_data(as_text=True)
    first = ids(html)
    older = re.search(r'href="(/notifications/inbox\?[^"]*before=\d+[^"]*)"', html)
    assert older and len(first) == 30
    rest = ids(anna.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True))
    assert first + rest == [r.id for r in reversed(rows)]


def test_the_badge_counts_notifications_chat_and_private_messages(napp, db):
    anna = sign_in(napp, db, "anna", (CHAT, PRIVATE))
    bohdan = create_user(db, "bohdan", (CHAT, PRIVATE))
    plain = sign_in(napp, db, "plain")
    notify(db, anna.user_id, "Перша подія")
    notify(db, anna.user_id, "Друга подія")
    notify(db, plain.user_id, "Подія для plain")
    room = direct_room(anna.user_id, bohdan.id)
    db.add_all(
        [
            Message(room=GENERAL_ROOM, sender_id=bohdan.id, body="усім"),
            Message(room=GENERAL_ROOM, sender_id=anna.user_id, body="моє"),
            Message(room=room, sender_id=bohdan.id, body="1"),
            Message(room=room, sender_id=bohdan.id, body="2"),
            Message(room=room, sender_id=anna.user_id, body="3"),
            Message(room=direct_room(bohdan.id, plain.user_id), sender_id=bohdan.id, body="не її"),
        ]
    )
    db.commit()
    assert badge(anna) == {"total": 5, "notifications": 2, "chat": 1, "private": 2}
    html = anna.get("/notifications/badge").get_data(as_text=True)
    assert 'class="badge rounded-pill text-bg-danger nt-badge-count">5<' in html
    assert html.count("data-notify-id=") == 2 and 'data-notify-messages="3"' in html
    menu = anna.get("/notifications/badge/menu").get_data(as_text=True)
    assert "Перша подія" in menu and "/notifications/chat" in menu
    assert "/notifications/conversations" in menu
    # Without the rights, no chat or private counts (and no links to them).
    assert badge(plain) == {"total": 1, "notifications": 1, "chat": 0, "private": 0}
    menu = plain.get("/notifications/badge/menu").get_data(as_text=True)
    assert "/notifications/chat" not in menu and "/notifications/conversations" not in menu
    assert napp.test_client().get("/notifications/badge").status_code == 302


def test_counts_stop_at_99_plus(napp, db):
    anna = sign_in(napp, db, "anna")
    events = [Event(type="t.many", key=str(i), title=f"E{i}") for i in range(120)]
    db.add_all(events)
    db.flush()
    db.add_all(Notification(user_id=anna.user_id, event_id=e.id) for e in events)
    db.commit()
    html = anna.get("/notifications/badge").get_data(as_text=True)
    assert 'nt-badge-count">99+<' in html and html.count("data-notify-id=") == 5


def test_dashboard_widget_and_shell_bell(napp, db):
    anna = sign_in(napp, db, "anna", (CHAT,))
    notify(db, anna.user_id, "Віджет: подія")
    user = LoginUser(db.get(User, anna.user_id))
    with napp.test_request_context("/"):
        assert unread_widget(None) == []
        [widget] = unread_widget(user)
        assert widget.id == "notifications.unread"
        html = str(widget.render())
        assert "Віджет: подія" in html and "/notifications/chat" in html
        assert "/notifications/conversations" not in html
        assert bell_indicator(None) == []  # nobody signed in
        [bell] = bell_indicator(user)
        assert (bell.id, bell.url, bell.count_url, bell.menu_url, bell.every_seconds) == (
            "notifications.bell",
            "/notifications/inbox",
            "/notifications/badge",
            "/notifications/badge/menu",
            10,
        )
    html = anna.get("/notifications/inbox").get_data(as_text=True)
    assert 'id="nt-bell-toggle"' in html and 'hx-trigger="load, every 10s"' in html
    assert 'id="nt-bell-menu" hx-get="/notifications/badge/menu"' in html
