"""Raising events (NT-3): idempotent by (type, key), written in the caller's transaction,
delivered per preference (NT-5): the user's own, else the admin's default, else the type's."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import func, select

from addons.notifications import models as m
from addons.notifications.events import (
    EventSpec,
    channels_for,
    email_body,
    event_types,
    raise_event,
    raise_events,
    sms_text,
)
from addons.notifications.tests.helpers import configure, make_user
from core.kernel import Kernel

PM = "notifications.private_message"  # declared by the addon, default: popup


def _count(kernel: Kernel, model: type) -> int:
    with kernel.db.session_factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _outbox(kernel: Kernel) -> list[tuple[str, str, str]]:
    with kernel.db.session_factory() as session:
        rows = session.execute(
            select(
                m.OutboxMessage.channel, m.OutboxMessage.recipient, m.OutboxMessage.idempotency_key
            ).order_by(m.OutboxMessage.id)
        )
        return [tuple(r) for r in rows]


def _popups(kernel: Kernel) -> list[int]:
    with kernel.db.session_factory() as session:
        return sorted(session.scalars(select(m.Notification.user_id)))


def test_the_addon_declares_its_event_types(nk: Kernel):
    types = event_types()
    assert types[PM].default_channels == ("popup",)
    assert types[PM].addon == "notifications"


def test_raising_the_same_event_twice_is_a_no_op(nk: Kernel):
    uid = make_user(nk, "ev-twice", email="twice@example.com")
    with nk.db.transaction() as session:
        first = raise_event(session, PM, "msg:1", "Нове повідомлення", recipients=[uid])
    with nk.db.transaction() as session:
        again = raise_event(session, PM, "msg:1", "Нове повідомлення", recipients=[uid])
    assert isinstance(first, int) and again is None
    assert _count(nk, m.Event) == 1
    assert _popups(nk) == [uid]


def test_the_event_is_part_of_the_callers_transaction(nk: Kernel):
    uid = make_user(nk, "ev-rollback", email="rb@example.com")
    with nk.db.session_factory() as session:
        session.add(m.Preference(user_id=uid, event_type=PM, channels="popup,email"))
        assert raise_event(session, PM, "msg:2", "Title", recipients=[uid]) is not None
        session.rollback()
    assert (_count(nk, m.Event), _count(nk, m.Notification), _count(nk, m.OutboxMessage)) == (
        0,
        0,
        0,
    )


def test_preferences_are_respected(nk: Kernel):
    popup_only = make_user(nk, "ev-popup", email="p@example.com", phone="+380501111111")
    email_only = make_user(nk, "ev-email", email="e@example.com", phone="+380502222222")
    everything = make_user(nk, "ev-all", email="a@example.com", phone="+380503333333")
    no_address = make_user(nk, "ev-none")
    by_default = make_user(nk, "ev-default", email="d@example.com")
    with nk.db.transaction() as session:
        session.add_all(
            [
                m.Preference(user_id=popup_only, event_type=PM, channels="popup"),
                m.Preference(user_id=email_only, event_type=PM, channels="email"),
                m.Preference(user_id=everything, event_type=PM, channels="popup,email,sms"),
                m.Preference(user_id=no_address, event_type=PM, channels="email,sms"),
            ]
        )
    users = [popup_only, email_only, everything, no_address, by_default]
    with nk.db.transaction() as session:
        event_id = raise_event(session, PM, "msg:3", "Привіт", "Текст", recipients=users)

    assert _popups(nk) == sorted([popup_only, everything, by_default])
    assert _outbox(nk) == [
        ("email", "e@example.com", f"{event_id}:{email_only}:email"),
        ("email", "a@example.com", f"{event_id}:{everything}:email"),
        ("sms", "+380503333333", f"{event_id}:{everything}:sms"),
    ]


def test_the_admins_default_applies_to_users_without_a_choice(nk: Kernel):
    chose = make_user(nk, "ev-chose", email="c@example.com")
    other = make_user(nk, "ev-other", email="o@example.com")
    with nk.db.transaction() as session:
        session.add(m.DefaultPreference(event_type=PM, channels="email", enabled=True))
        session.add(m.Preference(user_id=chose, event_type=PM, channels="popup"))
    with nk.db.transaction() as session:
        event_id = raise_event(session, PM, "msg:4", "Привіт", recipients=[chose, other])
    assert _popups(nk) == [chose]
    assert _outbox(nk) == [("email", "o@example.com", f"{event_id}:{other}:email")]


def test_a_type_switched_off_by_the_admin_reaches_nobody(nk: Kernel):
    uid = make_user(nk, "ev-off", email="off@example.com")
    with nk.db.transaction() as session:
        session.add(m.DefaultPreference(event_type=PM, channels="popup", enabled=False))
        session.add(m.Preference(user_id=uid, event_type=PM, channels="popup,email"))
    with nk.db.transaction() as session:
        assert raise_event(session, PM, "msg:5", "Привіт", recipients=[uid]) is not None
    assert _count(nk, m.Event) == 1  # recorded, but nobody is told
    assert (_popups(nk), _outbox(nk)) == ([], [])


def test_inactive_and_unknown_users_are_skipped(nk: Kernel):
    gone = make_user(nk, "ev-gone", email="g@example.com", active=False)
    with nk.db.transaction() as session:
        raise_event(session, PM, "msg:6", "Привіт", recipients=[gone, 987654])
    assert _popups(nk) == []


def test_an_undeclared_type_falls_back_to_a_popup(nk: Kernel):
    uid = make_user(nk, "ev-undeclared")
    with nk.db.session_factory() as session:
        chosen = channels_for(session, [(uid, "nobody.thing")], event_types())
    assert chosen == {(uid, "nobody.thing"): ("popup",)}


def test_many_events_at_once(nk: Kernel):
    users = [make_user(nk, f"ev-bulk{i}", email=f"b{i}@example.com") for i in range(3)]
    with nk.db.transaction() as session:
        session.add(m.Preference(user_id=users[0], event_type=PM, channels="popup,email"))
    specs = [EventSpec(PM, f"bulk:{i}", f"Подія {i}", recipients=tuple(users)) for i in range(1500)]
    with nk.db.transaction() as session:
        created = raise_events(session, specs + specs[:10])
    assert len(created) == 1500
    assert _count(nk, m.Notification) == 4500
    assert _count(nk, m.OutboxMessage) == 1500
    with nk.db.transaction() as session:
        assert raise_events(session, specs) == {}
    assert _count(nk, m.Notification) == 4500


def test_texts_of_the_messages(nk: Kernel):
    configure(nk, site_url="https://crm.example.com/")
    spec = EventSpec(PM, "k", "День народження: Іван", "Йому 40.", "/crm/counterparties/5")
    with force_locale("uk"):
        body = email_body(spec, "https://crm.example.com/")
    assert body.startswith("День народження: Іван\n\nЙому 40.\n\n")
    assert "https://crm.example.com/crm/counterparties/5" in body
    assert "https://crm.example.com/notifications/preferences" in body
    assert sms_text(spec) == "День народження: Іван: Йому 40."
    assert len(sms_text(EventSpec(PM, "k", "Д" * 1000))) == 480
    uid = make_user(nk, "ev-text", email="t@example.com")
    with nk.db.transaction() as session:
        session.add(m.Preference(user_id=uid, event_type=PM, channels="email"))
    with nk.db.transaction() as session:
        raise_event(session, PM, "txt", "Заголовок\nз переносом", "Тіло", "/x", recipients=[uid])
    with nk.db.session_factory() as session:
        row = session.scalars(select(m.OutboxMessage)).one()
    assert row.subject == "Заголовок з переносом"
    assert "https://crm.example.com/x" in row.body
