"""The iCalendar feed: a secret, revocable URL per user (``/planner/ical/<token>.ics``)
that Thunderbird, Outlook or a phone subscribe to.

- The token is shown once, right after it is made, and only its SHA-256 is stored
  (:class:`~addons.planner.models.IcalFeed`): a copy of the database opens no feed.
  Making a new one replaces the old one; revoking deletes it, and its URL answers 404.
- The feed needs no session: the token names the user, whose events
  (``FEED_PAST_DAYS`` back, ``FEED_FUTURE_DAYS`` ahead) come from the same
  ``calendar_events`` hook as the calendar page, asked with that user and their rights.
  An unknown or revoked token, an inactive user or one who lost the right: 404.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urljoin, urlsplit

import icalendar
from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from addons.planner.models import IcalFeed
from addons.planner.views import CALENDAR_READ, bp
from core.db import utcnow
from core.hooktypes import CalendarEvent
from core.models import User
from core.security import LoginUser, has_permission, public, require
from core.web import db_session, kernel

FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _own_feed() -> IcalFeed | None:
    return db_session().scalar(select(IcalFeed).where(IcalFeed.user_id == current_user.id))


def _page(feed: IcalFeed | None, new_url: str | None = None) -> Response:
    response = make_response(
        render_template(
            "planner/ical.html",
            feed=feed,
            new_url=new_url,
            breadcrumbs=[
                (_("Planner"), None),
                (_("Calendar"), url_for("planner.calendar")),
                (_("Calendar feed (iCalendar)"), None),
            ],
        )
    )
    response.headers["Cache-Control"] = "no-store"  # the new URL must stay out of caches
    return response


@bp.route("/ical")
@require(CALENDAR_READ)
def ical() -> ResponseReturnValue:
    """Whether the user has a feed, and the buttons to make, replace or revoke it."""
    return _page(_own_feed())


def _new_token() -> tuple[IcalFeed, str]:
    """Store a new token's hash on the user's feed row (made if missing); a second
    click racing the first finds the row the first one made and replaces its token."""
    db = db_session()
    for attempt in (1, 2):
        feed = _own_feed() or IcalFeed(user_id=current_user.id)
        token = secrets.token_urlsafe(32)
        feed.token_hash = token_hash(token)
        feed.created_at = utcnow()
        db.add(feed)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            if attempt == 2:
                raise
            continue
        break
    return feed, token


@bp.route("/ical/new", methods=["POST"])
@require(CALENDAR_READ)
def ical_new() -> ResponseReturnValue:
    """Make the user's feed URL (replacing the previous one) and show it, this once."""
    feed, token = _new_token()
    return _page(feed, url_for("planner.ical_feed", token=token, _external=True))


@bp.route("/ical/revoke", methods=["POST"])
@require(CALENDAR_READ)
def ical_revoke() -> ResponseReturnValue:
    """Delete the user's feed: its URL answers 404 from now on."""
    db = db_session()
    db.execute(delete(IcalFeed).where(IcalFeed.user_id == current_user.id))
    db.commit()
    flash(_("The calendar feed was revoked: its address no longer works."), "success")
    return redirect(url_for("planner.ical"))


@bp.route("/ical/<token>.ics")
@public  # the secret token in the URL is the credential: calendar apps have no session
def ical_feed(token: str) -> ResponseReturnValue:
    """The feed's owner's calendar as an iCalendar file."""
    if len(token) > MAX_TOKEN_LENGTH:
        abort(404)
    owner = db_session().scalar(
        select(User)
        .join(IcalFeed, IcalFeed.user_id == User.id)
        .where(IcalFeed.token_hash == token_hash(token))
    )
    if owner is None or not owner.active:
        abort(404)
    user = LoginUser(owner)
    if not has_permission(CALENDAR_READ, user):
        abort(404)
    now = datetime.now(UTC)
    start = datetime.combine(now.date() - timedelta(days=FEED_PAST_DAYS), time(0), tzinfo=UTC)
    end = datetime.combine(now.date() + timedelta(days=FEED_FUTURE_DAYS), time(0), tzinfo=UTC)
    with force_locale(owner.language or "uk"):
        events = kernel().hooks.calendar_events(user, start, end, (user.id,))
        body = build_calendar(events, _("Vitrylo: %(name)s", name=user.name), request.host_url)
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["Content-Disposition"] = 'inline; filename="vitrylo.ics"'
    return response


# -- the iCalendar file --------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """Aware UTC (a naive datetime is UTC, as Vitrylo stores them), whole seconds."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def ical_times(
    start: date | datetime, end: date | datetime | None
) -> tuple[date | datetime, date | datetime | None]:
    """DTSTART and DTEND: UTC date-times, or DATEs for an all-day event (whose DTEND is
    the day after its last day, as in the hook; one day when the addon gave none)."""
    if isinstance(start, datetime):
        if end is None:
            return _utc(start), None
        if not isinstance(end, datetime):
            end = datetime.combine(end, time(0), tzinfo=UTC)
        return _utc(start), _utc(end)
    if isinstance(end, datetime):
        end = end.date()
    return start, (end if end is not None and end > start else start + timedelta(days=1))


def _vevent(event: CalendarEvent, stamp: datetime, host: str, base_url: str) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("uid", f"{event.id}@{host}")
    vevent.add("dtstamp", stamp)
    start, end = ical_times(event.start, event.end)
    vevent.add("dtstart", start)
    if end is not None:
        vevent.add("dtend", end)
    vevent.add("summary", str(event.title))
    if event.url:
        vevent.add("url", urljoin(base_url, event.url))
    label = str(event.kind_label or event.kind)
    if label:
        vevent.add("categories", [label])
    return vevent


def build_calendar(events: Iterable[CalendarEvent], name: str, base_url: str) -> bytes:
    """An iCalendar (RFC 5545) file of ``events``: one VEVENT each with UID (the event's
    id, stable across reads so clients update rather than duplicate), DTSTAMP,
    DTSTART/DTEND, SUMMARY, an absolute URL and the kind as CATEGORIES."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Vitrylo//Planner//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", name)
    stamp = _utc(datetime.now(UTC))
    host = urlsplit(base_url).hostname or "vitrylo"
    for event in events:
        cal.add_component(_vevent(event, stamp, host, base_url))
    return cal.to_ical()  # type: ignore[no-any-return]
