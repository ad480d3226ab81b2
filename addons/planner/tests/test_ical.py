"""The iCalendar feed (PN-1): a secret URL per user, shown once, stored hashed; the feed
parses and carries the user's events from the same hooks; regenerate and revoke make the
old URL answer 404."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime

import icalendar
import pytest
from sqlalchemy import select

from addons.planner.ical import build_calendar, ical_times
from addons.planner.models import IcalFeed
from core.hooktypes import CalendarEvent
from core.models import GroupPermission, User, UserGroup

READ = "planner.calendar.read"
TASKS = "plannertest.task.read"
FEED_URL = re.compile(r'value="(http://localhost/planner/ical/([A-Za-z0-9_-]+)\.ics)"')


@pytest.fixture
def reader(plogin, feeder):
    return plogin([READ, TASKS])


def make_feed(client, post) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Press "Make the address": the page shows the URL; returns (url, token)."""
    answer = post(client, "/planner/ical/new")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    found = FEED_URL.search(answer.get_data(as_text=True))
    assert found, answer.get_data(as_text=True)
    return found.group(1), found.group(2)


def read_feed(papp, url: str):  # type: ignore[no-untyped-def]
    """The feed as a calendar app reads it: no session, no cookie."""
    return papp.test_client().get(url.removeprefix("http://localhost"))


def test_feed_url_shown_once_and_stored_hashed(reader, post, pdb):
    page = reader.get("/planner/ical").get_data(as_text=True)
    assert "You have no calendar feed." in page
    _url, token = make_feed(reader, post)
    [row] = pdb.scalars(select(IcalFeed).where(IcalFeed.user_id == reader.user_id)).all()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in row.token_hash
    page = reader.get("/planner/ical").get_data(as_text=True)
    assert token not in page and "Your calendar feed is on since" in page


def test_feed_content_parses(papp, reader, post):
    url, _token = make_feed(reader, post)
    answer = read_feed(papp, url)
    assert answer.status_code == 200
    assert answer.mimetype == "text/calendar"
    cal = icalendar.Calendar.from_ical(answer.data)
    assert str(cal["version"]) == "2.0" and "Vitrylo" in str(cal["prodid"])
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    me = reader.user_id
    meeting = events[f"plannertest.meeting.{me}@localhost"]
    holiday = events[f"plannertest.holiday.{me}@localhost"]
    assert str(meeting["summary"]) == f"Meeting of {me}"
    assert str(meeting["url"]) == f"http://localhost/plannertest/meetings/{me}"
    start = meeting.decoded("dtstart")
    assert isinstance(start, datetime) and start.utcoffset().total_seconds() == 0
    assert meeting.decoded("dtend") > start
    assert isinstance(meeting.decoded("dtstamp"), datetime)
    assert [str(c) for c in meeting["categories"].cats] == ["Meetings"]
    day = holiday.decoded("dtstart")
    assert type(day) is date and (holiday.decoded("dtend") - day).days == 1  # all day


def test_regenerate_and_revoke(papp, reader, post):
    first, _ = make_feed(reader, post)
    second, _ = make_feed(reader, post)
    assert first != second
    assert read_feed(papp, first).status_code == 404  # replaced
    assert read_feed(papp, second).status_code == 200
    answer = post(reader, "/planner/ical/revoke")
    assert answer.status_code == 302
    assert "The calendar feed was revoked" in reader.get(answer.location).get_data(as_text=True)
    assert read_feed(papp, second).status_code == 404


@pytest.mark.parametrize("token", ["nope", "a" * 43, "x" * 500, "..%2F..%2Fetc"])
def test_unknown_token_is_404(papp, pdb, token):
    assert papp.test_client().get(f"/planner/ical/{token}.ics").status_code == 404


def test_feed_of_a_user_who_lost_the_right_or_left(papp, reader, post, pdb):
    url, _ = make_feed(reader, post)
    group_id = pdb.scalar(select(UserGroup.group_id).where(UserGroup.user_id == reader.user_id))
    pdb.execute(
        GroupPermission.__table__.delete().where(
            GroupPermission.group_id == group_id, GroupPermission.permission == READ
        )
    )
    pdb.commit()
    assert read_feed(papp, url).status_code == 404
    pdb.add(GroupPermission(group_id=group_id, permission=READ))
    pdb.commit()
    assert read_feed(papp, url).status_code == 200
    user = pdb.get(User, reader.user_id)
    user.active = False
    pdb.commit()
    assert read_feed(papp, url).status_code == 404


def test_feed_shows_only_what_the_user_may_see(papp, plogin, post, feeder):
    client = plogin([READ])  # no right in the test addon: its events stay out
    url, _ = make_feed(client, post)
    cal = icalendar.Calendar.from_ical(read_feed(papp, url).data)
    assert list(cal.walk("VEVENT")) == []


def test_management_needs_the_right_and_csrf(plogin, post, reader):
    other = plogin([TASKS])
    assert other.get("/planner/ical").status_code == 403
    assert post(other, "/planner/ical/new").status_code == 403
    assert post(other, "/planner/ical/revoke").status_code == 403
    assert reader.post("/planner/ical/new").status_code == 400  # no CSRF token


def test_ical_times() -> None:
    naive = datetime(2025, 5, 6, 10, 30, 15, 999)
    assert ical_times(naive, None) == (datetime(2025, 5, 6, 10, 30, 15, tzinfo=UTC), None)
    assert ical_times(date(2025, 5, 6), None) == (date(2025, 5, 6), date(2025, 5, 7))
    assert ical_times(date(2025, 5, 6), date(2025, 5, 9)) == (date(2025, 5, 6), date(2025, 5, 9))
    assert ical_times(date(2025, 5, 6), date(2025, 5, 6))[1] == date(2025, 5, 7)
    mixed = ical_times(datetime(2025, 5, 6, 9, tzinfo=UTC), date(2025, 5, 7))
    assert mixed[1] == datetime(2025, 5, 7, tzinfo=UTC)


def test_build_calendar_escapes_text():
    event = CalendarEvent(
        "x.1", "Line; with, commas\nand a newline", start=date(2025, 1, 1), url="/a?b=1"
    )
    cal = icalendar.Calendar.from_ical(build_calendar([event], "Me", "https://crm.example/"))
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["summary"]) == "Line; with, commas\nand a newline"
    assert str(vevent["uid"]) == "x.1@crm.example"
    assert str(vevent["url"]) == "https://crm.example/a?b=1"
