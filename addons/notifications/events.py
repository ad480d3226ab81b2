"""Raising events (NT-3) and turning them into pop-ups, e-mails and SMS per preference (NT-5).

:func:`raise_event` is called by an addon's code in the transaction of the change that
caused the event, so the event, its notifications and its outbox rows commit (or roll
back) with that change. ``(type, key)`` is unique: raising the same event twice (a
birthday scanned every hour) inserts nothing the second time, so nobody is told twice.

:func:`raise_events` is the set-based form the scans use: a few statements for thousands
of events, whatever their number of recipients.

Which channels a user gets for an event type, first match wins:

1. the admin switched the type off (``DefaultPreference.enabled`` false): none;
2. the user's own choice (a ``Preference`` row);
3. the admin's default (a ``DefaultPreference`` row);
4. the type's ``default_channels`` from the ``notification_event_types`` hook
   (``popup`` for a type no enabled addon declares).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.notifications.channels import SMS_MAX_LENGTH, read_settings
from addons.notifications.models import (
    CHANNELS,
    DefaultPreference,
    Event,
    Notification,
    Preference,
)
from addons.notifications.outbox import dialect_insert, enqueue_many
from core.db import utcnow
from core.hooktypes import NotificationEventType
from core.models import User

log = logging.getLogger(__name__)
FALLBACK_CHANNELS: tuple[str, ...] = ("popup",)
PREFERENCES_PATH = "/notifications/preferences"
CHUNK = 1000


@dataclass(frozen=True)
class EventSpec:
    """One event to raise; ``key`` identifies it within its type (``person:7:2025``)."""

    type: str
    key: str
    title: str
    body: str = ""
    url: str = ""
    recipients: tuple[int, ...] = ()


def event_types(hooks: Any = None) -> dict[str, NotificationEventType]:
    """The event types of the enabled addons, by name (from ``kernel().hooks`` by default)."""
    if hooks is None:
        if not has_app_context():
            return {}
        from core.web import kernel

        hooks = kernel().hooks
    return {t.name: t for t in hooks.notification_event_types()}


def parse_channels(text: str) -> tuple[str, ...]:
    """``"popup,email"`` → ``("popup", "email")``; unknown names are dropped."""
    wanted = {part.strip() for part in text.split(",")}
    return tuple(c for c in CHANNELS if c in wanted)


def join_channels(channels: Iterable[str]) -> str:
    wanted = set(channels)
    return ",".join(c for c in CHANNELS if c in wanted)


def type_defaults(
    session: Session, types: Mapping[str, NotificationEventType], names: Iterable[str]
) -> dict[str, tuple[str, ...] | None]:
    """Per type, the channels a user without a preference gets; ``None`` = switched off."""
    names = list(dict.fromkeys(names))
    result: dict[str, tuple[str, ...] | None] = {
        name: tuple(c for c in types[name].default_channels if c in CHANNELS)
        if name in types
        else FALLBACK_CHANNELS
        for name in names
    }
    rows = session.scalars(select(DefaultPreference).where(DefaultPreference.event_type.in_(names)))
    for row in rows:
        result[row.event_type] = parse_channels(row.channels) if row.enabled else None
    return result


def channels_for(
    session: Session,
    pairs: Iterable[tuple[int, str]],
    types: Mapping[str, NotificationEventType],
) -> dict[tuple[int, str], tuple[str, ...]]:
    """The channels of each (user id, event type), in three queries whatever the count."""
    pairs = list(dict.fromkeys(pairs))
    names = {name for _uid, name in pairs}
    defaults = type_defaults(session, types, names)
    own: dict[tuple[int, str], tuple[str, ...]] = {}
    user_ids = sorted({uid for uid, _name in pairs})
    for start in range(0, len(user_ids), CHUNK):
        rows = session.execute(
            select(Preference.user_id, Preference.event_type, Preference.channels).where(
                Preference.user_id.in_(user_ids[start : start + CHUNK]),
                Preference.event_type.in_(names),
            )
        )
        own.update({(uid, name): parse_channels(chans) for uid, name, chans in rows})
    result = {}
    for pair in pairs:
        default = defaults[pair[1]]
        result[pair] = () if default is None else own.get(pair, default)
    return result


# -- the texts of e-mails and SMS -------------------------------------------------------


def _absolute(site_url: str, url: str) -> str:
    if not url or url.startswith(("http://", "https://")):
        return url
    return site_url.rstrip("/") + url if site_url else url


def email_body(spec: EventSpec, site_url: str) -> str:
    """The e-mail text: title, body, link, and where to change what one receives."""
    parts = [spec.title]
    if spec.body:
        parts.append(spec.body)
    link = _absolute(site_url, spec.url)
    if link:
        parts.append(_("Open: %(url)s", url=link))
    footer = _("You receive this e-mail because of your notification settings.")
    if site_url:
        footer += " " + _absolute(site_url, PREFERENCES_PATH)
    parts.append("-- \n" + footer)
    return "\n\n".join(parts) + "\n"


def sms_text(spec: EventSpec) -> str:
    text = f"{spec.title}: {spec.body}" if spec.body else spec.title
    text = " ".join(text.split())
    return text if len(text) <= SMS_MAX_LENGTH else text[: SMS_MAX_LENGTH - 1] + "…"


# -- raising ------------------------------------------------------------------------------


def raise_event(
    session: Session,
    type: str,  # the documented keyword, shadowing the builtin here only
    key: str,
    title: str,
    body: str = "",
    url: str = "",
    recipients: Sequence[int] = (),
    hooks: Any = None,
) -> int | None:
    """Record an event and notify ``recipients`` (user ids) in the caller's transaction.

    Returns the new event's id, or ``None`` when ``(type, key)`` was raised before (then
    nothing at all is written)."""
    spec = EventSpec(type, key, title, body, url, tuple(recipients))
    return raise_events(session, [spec], hooks=hooks).get((type, key))


def _insert_events(session: Session, specs: list[EventSpec]) -> dict[tuple[str, str], int]:
    """Insert the events that do not exist yet; returns (type, key) → id of the new ones."""
    now = utcnow()
    stmt = (
        dialect_insert(session)(Event)
        .on_conflict_do_nothing(index_elements=["type", "key"])
        .returning(Event.id, Event.type, Event.key)
    )
    created: dict[tuple[str, str], int] = {}
    for start in range(0, len(specs), CHUNK):
        rows = [
            {
                "type": s.type,
                "key": s.key[:200],
                "title": " ".join(s.title.split())[:300],
                "body": s.body,
                "url": s.url[:500],
                "created_at": now,
            }
            for s in specs[start : start + CHUNK]
        ]
        for event_id, etype, key in session.execute(stmt, rows):
            created[(etype, key)] = event_id
    return created


def raise_events(
    session: Session,
    specs: Iterable[EventSpec],
    hooks: Any = None,
    types: Mapping[str, NotificationEventType] | None = None,
) -> dict[tuple[str, str], int]:
    """Raise many events at once (a scan); returns (type, key) → id of the new events.

    Statements: one insert per thousand events, three reads for the preferences, one for
    the recipients, then batched inserts of notifications and outbox rows."""
    unique: dict[tuple[str, str], EventSpec] = {}
    for spec in specs:
        unique.setdefault((spec.type, spec.key[:200]), spec)
    if not unique:
        return {}
    created = _insert_events(session, list(unique.values()))
    if not created:
        return created
    types = event_types(hooks) if types is None else types
    fresh = [(event_id, unique[pair]) for pair, event_id in created.items()]
    pairs = {(uid, spec.type) for _eid, spec in fresh for uid in spec.recipients}
    if not pairs:
        return created
    chosen = channels_for(session, pairs, types)
    users = _recipients(session, {uid for uid, _t in pairs})
    wants_email = any("email" in channels for channels in chosen.values())
    site_url = read_settings(session)["notifications.site_url"] if wants_email else ""
    now = utcnow()
    popups: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    for event_id, spec in fresh:
        for uid in dict.fromkeys(spec.recipients):
            user = users.get(uid)
            if user is None:
                continue
            channels = chosen[(uid, spec.type)]
            if "popup" in channels:
                popups.append({"user_id": uid, "event_id": event_id, "created_at": now})
            messages.extend(_messages(event_id, spec, user, channels, site_url))
    for start in range(0, len(popups), CHUNK):
        session.execute(
            dialect_insert(session)(Notification).on_conflict_do_nothing(
                index_elements=["user_id", "event_id"]
            ),
            popups[start : start + CHUNK],
        )
    enqueue_many(session, messages)
    return created


@dataclass(frozen=True)
class _Recipient:
    id: int
    email: str
    phone: str
    language: str


def _recipients(session: Session, user_ids: set[int]) -> dict[int, _Recipient]:
    """Active users among ``user_ids`` (a deactivated user is told nothing)."""
    ids = sorted(user_ids)
    found: dict[int, _Recipient] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(User.id, User.email, User.phone, User.language).where(
                User.id.in_(ids[start : start + CHUNK]), User.active.is_(True)
            )
        )
        found.update({row[0]: _Recipient(*row) for row in rows})
    return found


def _messages(
    event_id: int, spec: EventSpec, user: _Recipient, channels: tuple[str, ...], site_url: str
) -> list[dict[str, Any]]:
    """Outbox rows for one recipient; the key ``event:user:channel`` makes each unique."""
    rows: list[dict[str, Any]] = []
    base = f"{event_id}:{user.id}"
    if "email" in channels and user.email:
        with force_locale(user.language or "uk"):  # the recipient's language
            text = email_body(spec, site_url)
        rows.append(
            {
                "channel": "email",
                "recipient": user.email,
                "subject": " ".join(spec.title.split())[:300],
                "body": text,
                "idempotency_key": f"{base}:email",
            }
        )
    if "sms" in channels and user.phone:
        rows.append(
            {
                "channel": "sms",
                "recipient": user.phone,
                "subject": "",
                "body": sms_text(spec),
                "idempotency_key": f"{base}:sms",
            }
        )
    return rows
