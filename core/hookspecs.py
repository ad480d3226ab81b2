"""Every hook an addon can implement. Pluggy project name: ``vitrylo``.

Hooks return plain data (see :mod:`core.hooktypes`); the typed facade in
:mod:`core.facade` checks it and fails naming the addon. Hooks evolve by gaining keyword
arguments, never by being renamed. Each spec is documented in ``docs/hooks.md``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from flask import Blueprint

    from core import hooktypes as t

PROJECT = "vitrylo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def blueprints() -> list[Blueprint]:
    """Flask blueprints of the addon, registered once at start-up.

    Called when the app is created, for every addon found (installed or not); requests to
    the routes of an addon that is not installed answer 404. The blueprint's name must be
    the addon's name (or start with ``<addon>_``); its views check a permission.

    Example: ``return [Blueprint("sales", __name__, url_prefix="/sales")]``
    """


@hookspec
def permissions() -> list[t.PermissionDef]:
    """Rights the addon declares, named ``<addon>.<object>.<action>``.

    Synced into the database when the addon is installed or upgraded.

    Example: ``return [PermissionDef("sales.deal.read", _l("Read deals"))]``
    """


@hookspec
def menu_items() -> list[t.MenuItem]:
    """Entries of the main menu tree; each is shown only if the user holds its permission.

    Ids are namespaced (``sales.deals``); ``parent`` may name another addon's item.

    Example: ``return [MenuItem("sales.deals", _l("Deals"), "sales.deals",
    permission="sales.deal.read")]``
    """


@hookspec
def cli_commands() -> list[click.Command]:
    """Click commands or groups added under ``vitrylo``; names must start with the addon name.

    Example: ``return [click.Group("sales", help="Sales tools")]``
    """


@hookspec
def jinja_setup() -> t.JinjaExtras:
    """Template filters and globals; called once when the app is created.

    Example: ``return JinjaExtras(filters={"uah": format_uah})``
    """


@hookspec
def scheduled_jobs() -> list[t.ScheduledJob]:
    """Periodic jobs the ``vitrylo worker`` process runs for enabled addons.

    Example: ``return [ScheduledJob("crm_base.birthdays", scan_birthdays, every_seconds=3600)]``
    """


@hookspec
def reminders(user: Any, day: date) -> list[t.Reminder]:
    """Rows of ``user``'s reminders table as of ``day`` (only what the user may see).

    Example: ``return [Reminder("sales.contact", "Call Ivan", due=day, url="/sales/contacts/7")]``
    """


@hookspec
def calendar_events(
    user: Any, start: datetime, end: datetime, owner_ids: tuple[int, ...]
) -> list[t.CalendarEvent]:
    """Events that overlap ``[start, end)`` for the planner calendar: those of the users
    ``owner_ids`` (the signed-in ``user``'s own id unless a manager chose others), and only
    what ``user`` may see.

    Example: ``return [CalendarEvent("sales.contact.7", "Meeting", start=..., end=...)]``
    """


@hookspec
def reminder_action(user: Any, key: str, action: str, until: date | None) -> bool | None:
    """Snooze (``action="snooze"``, to the day ``until``) or mark done (``"done"``) the
    reminder ``key`` that this addon gave; called only on the addon ``key`` is named after.

    Returns ``True`` when saved, ``False`` when ``user`` may not (answered 403), ``None``
    when the key is unknown or gone (404). The addon checks its own rights.

    Example: ``return snooze(user, key, until) if action == "snooze" else done(user, key)``
    """


@hookspec
def move_calendar_event(
    user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
) -> bool | None:
    """Save a calendar event dragged to ``start``-``end`` (UTC); called only on the addon
    ``event_id`` is named after. ``True`` saved, ``False`` refused (403), ``None`` unknown
    (404). The addon checks its own rights and rules (e.g. no moving a done contact).

    Example: ``return move_contact(user, int(event_id.rsplit(".", 1)[1]), start, end)``
    """


@hookspec
def timeline_entries(subject: str, subject_id: int, user: Any) -> list[t.TimelineEntry]:
    """Chronology entries for the record ``subject``/``subject_id`` visible to ``user``.

    ``subject`` is a namespaced kind such as ``crm_base.counterparty``.

    Example: ``return [TimelineEntry(when, "sales.contact", "Call done")]``
    """


@hookspec
def card_tabs(subject: str, subject_id: int, user: Any) -> list[t.CardTab]:
    """Tabs to add to the card of ``subject``/``subject_id`` (e.g. purchase history).

    Example: ``return [CardTab("sales.contracts", "Contracts", url_for(...))]``
    """


@hookspec
def global_search(user: Any, query: str, limit: int) -> list[t.SearchResult]:
    """At most ``limit`` hits for ``query`` among records ``user`` may read.

    Example: ``return [SearchResult("crm_base.counterparty", "TOV Romashka", "/crm/5")]``
    """


@hookspec
def dashboard_widgets(user: Any) -> list[t.DashboardWidget]:
    """Blocks of ``user``'s home dashboard (only those the user may see).

    Example: ``return [DashboardWidget("planner.today", "Today", render=render_today)]``
    """


@hookspec
def shell_indicators(user: Any) -> list[t.ShellIndicator]:
    """Icons with a count in the shell's top bar for the signed-in ``user`` (only those the
    user may see). Called on every page: the count itself is loaded by htmx from
    ``count_url`` after the page, never computed here.

    Example: ``return [ShellIndicator("chat.unread", _l("Chat"), "chat-dots",
    url_for("chat.index"), count_url=url_for("chat.badge"), every_seconds=30)]``
    """


@hookspec
def notification_event_types() -> list[t.NotificationEventType]:
    """Kinds of events users can subscribe to, named ``<addon>.<event>``.

    Example: ``return [NotificationEventType("crm_base.birthday", "Birthday")]``
    """


@hookspec
def printable_documents() -> list[t.PrintableDocument]:
    """Documents printable to PDF, named ``<addon>.<document>``.

    Example: ``return [PrintableDocument("sales.invoice", "Invoice", "sales.deal", ...)]``
    """


@hookspec
def settings() -> list[t.SettingDef]:
    """Settings an admin can change, named ``<addon>.<setting>``.

    Example: ``return [SettingDef("notifications.smtp_host", "SMTP host")]``
    """


@hookspec
def merge_records(subject: str, source_id: int, target_id: int, session: Any) -> int:
    """Move everything of this addon that points at record ``source_id`` of ``subject`` to
    ``target_id``: called when a user merges a duplicate into the record it duplicates
    (e.g. two counterparties), in the merge's own transaction, before the duplicate is
    deleted. Returns how many rows were moved (for the audit entry).

    Example: ``return session.execute(update(Deal).where(Deal.counterparty_id == source_id)
    .values(counterparty_id=target_id)).rowcount if subject == "crm_base.counterparty"
    else 0``
    """


@hookspec
def sms_gateways() -> list[t.SmsGateway]:
    """Ways to send SMS, named ``<addon>.<gateway>``, that an admin can choose on the
    notifications settings page. Called when the notifications addon sends SMS or shows
    its settings.

    Example: ``return [SmsGateway("turbosms.api", "TurboSMS", make_sender, is_configured)]``
    """
