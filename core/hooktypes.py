"""What hooks return: small frozen dataclasses the facade checks and stamps with the addon.

An addon never sets ``addon`` itself; the facade fills it in, so every item can be traced
back to the addon that contributed it (for namespacing checks, licences and error messages).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class PermissionDef:
    """A right an addon declares, e.g. ``PermissionDef("sales.deal.read", "Read deals")``.

    ``replaces`` names the right's former names: on upgrade the groups that held an old
    name hold the new one, so renaming a right never silently takes it away.
    """

    name: str
    label: str = ""
    replaces: tuple[str, ...] = ()
    addon: str = ""


@dataclass(frozen=True)
class MenuItem:
    """An entry of the menu tree. ``parent`` is another item's id; ``None`` is the top level."""

    id: str
    label: str
    endpoint: str | None = None
    parent: str | None = None
    permission: str | None = None
    order: int = 100
    icon: str = ""
    addon: str = ""


@dataclass(frozen=True)
class ScheduledJob:
    """A function the worker runs every ``every_seconds``; ``func(app)`` gets the Flask app."""

    name: str
    func: Callable[[Any], None]
    every_seconds: int = 3600
    addon: str = ""


@dataclass(frozen=True)
class JinjaExtras:
    """Filters and globals an addon adds to the template environment."""

    filters: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    globals: Mapping[str, Any] = field(default_factory=dict)
    addon: str = ""


@dataclass(frozen=True)
class Reminder:
    """One row of a user's reminders table (planner), grouped by ``kind``.

    ``key`` (named ``<addon>.…``) identifies the row for ``reminder_action`` when
    ``can_snooze`` or ``can_mark_done`` is set."""

    kind: str
    title: str
    due: date
    url: str = ""
    key: str = ""
    can_snooze: bool = False
    can_mark_done: bool = False
    kind_label: str = ""  # the group's heading; ``kind`` when empty
    detail: str = ""  # a second line: the counterparty, the time…
    addon: str = ""


@dataclass(frozen=True)
class CalendarEvent:
    """An event for the planner calendar; ``editable`` lets the user drag it (the move is
    saved by the addon through ``move_calendar_event``)."""

    id: str
    title: str
    start: datetime | date
    end: datetime | date | None = None
    kind: str = ""
    url: str = ""
    editable: bool = False
    kind_label: str = ""  # shown in the calendar's filter; ``kind`` when empty
    owner_id: int | None = None  # the user whose event it is (filter by employee)
    addon: str = ""


@dataclass(frozen=True)
class TimelineEntry:
    """One entry of a record's chronology (a counterparty's timeline, for example)."""

    when: datetime
    kind: str
    title: str
    body: str = ""
    url: str = ""
    addon: str = ""


@dataclass(frozen=True)
class CardTab:
    """A tab another addon adds to a record's card; ``url`` loads its content (htmx)."""

    id: str
    label: str
    url: str
    order: int = 100
    count: int | None = None
    addon: str = ""


@dataclass(frozen=True)
class SearchResult:
    """One hit of the global search box."""

    kind: str
    title: str
    url: str
    snippet: str = ""
    addon: str = ""


@dataclass(frozen=True)
class DashboardWidget:
    """A block of the home dashboard; ``render()`` returns ``Markup`` (a rendered template
    wrapped in ``markupsafe.Markup``): a plain ``str`` is escaped."""

    id: str
    title: str
    render: Callable[[], str]
    order: int = 100
    addon: str = ""


@dataclass(frozen=True)
class ShellIndicator:
    """An icon with a count in the shell's top bar (the notifications bell, the reminders
    badge). ``url`` is where the icon leads. ``count_url`` answers an HTML fragment that
    htmx puts inside the link after the page has loaded (the icon, a visually hidden label
    and the count badge), again every ``every_seconds`` when > 0: the count is never
    computed for the page itself. ``menu_url`` makes the icon a dropdown whose content
    htmx loads each time it opens. ``content`` is that fragment when this request already
    knows it (then ``count_url`` is not loaded at once). ``dom_id`` is the link's HTML id
    (with a menu: ``<dom_id>-toggle`` and ``<dom_id>-menu``); the id, dots made dashes,
    when empty."""

    id: str
    label: str
    icon: str
    url: str
    count_url: str = ""
    menu_url: str = ""
    every_seconds: int = 0
    order: int = 100
    dom_id: str = ""
    content: str = ""
    addon: str = ""


@dataclass(frozen=True)
class NotificationEventType:
    """A kind of event users can be notified of (``crm_base.birthday``)."""

    name: str
    label: str
    description: str = ""
    default_channels: tuple[str, ...] = ("popup",)
    addon: str = ""


@dataclass(frozen=True)
class PrintableDocument:
    """A document that can be printed to PDF for a record of ``subject``.

    ``context(record_id)`` returns the template variables; ``template`` is a Jinja path.
    """

    name: str
    label: str
    subject: str
    template: str
    context: Callable[[int], Mapping[str, Any]]
    permission: str | None = None
    addon: str = ""


SETTING_TYPES = ("str", "int", "bool", "secret")


@dataclass(frozen=True)
class SettingDef:
    """A setting an admin can change on the settings page; ``secret`` is never shown back."""

    name: str
    label: str
    type: str = "str"
    default: str | int | bool | None = None
    help: str = ""
    addon: str = ""


@dataclass(frozen=True)
class SmsGateway:
    """A way to send SMS an admin can choose (notifications settings): ``factory(settings)``
    returns a sender with ``send(message)`` and ``close()``; ``configured(settings)`` says
    whether the settings are complete enough to try (else SMS wait in the outbox)."""

    name: str
    label: Any
    factory: Callable[[Mapping[str, str]], Any]
    configured: Callable[[Mapping[str, str]], bool] = lambda settings: True
    addon: str = ""
