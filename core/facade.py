"""The typed facade over the hooks: the only way code calls addons.

It calls each addon's implementation separately, so every returned item can be checked and
stamped with the addon's name, and a wrong return fails naming the addon. Only the enabled
addons' hooks are called (the core's own plugin is always enabled).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import click
import pluggy
from flask import Blueprint

from core import hooktypes as t

CORE_PLUGIN = "core"


class HookError(Exception):
    """An addon's hook returned something the kernel cannot use."""

    def __init__(self, addon: str, hook: str, problem: str) -> None:
        super().__init__(f"addon '{addon}': hook '{hook}' {problem}")
        self.addon = addon
        self.hook = hook


def _namespaced(addon: str, name: str) -> bool:
    return addon == CORE_PLUGIN or name.startswith(f"{addon}.")


class Hooks:
    """Typed access to every hook, restricted to the addons ``enabled()`` returns."""

    def __init__(self, pm: pluggy.PluginManager, enabled: Callable[[], Iterable[str]]) -> None:
        self._pm = pm
        self._enabled = enabled

    # -- plumbing -----------------------------------------------------------------------

    def _call(self, hook: str, all_addons: bool = False, **kwargs: Any) -> list[tuple[str, Any]]:
        caller = getattr(self._pm.hook, hook)
        allowed = None if all_addons else {*self._enabled(), CORE_PLUGIN}
        results = []
        for impl in reversed(caller.get_hookimpls()):
            if allowed is not None and impl.plugin_name not in allowed:
                continue
            value = impl.function(*[kwargs[name] for name in impl.argnames])
            if value is not None:
                results.append((impl.plugin_name, value))
        return results

    def _items(
        self, hook: str, kind: type, key: str | None, all_addons: bool = False, **kwargs: Any
    ) -> list[Any]:
        """Call ``hook``; every addon must return a list of ``kind`` (namespaced by ``key``)."""
        items: list[Any] = []
        seen: dict[str, str] = {}
        for addon, value in self._call(hook, all_addons, **kwargs):
            if not isinstance(value, list | tuple):
                raise HookError(addon, hook, f"must return a list, not {type(value).__name__}")
            for item in value:
                if not isinstance(item, kind):
                    raise HookError(
                        addon, hook, f"returned {type(item).__name__}, expected {kind.__name__}"
                    )
                if dataclasses.is_dataclass(item):
                    item = dataclasses.replace(item, addon=addon)
                if key is not None:
                    name = getattr(item, key)
                    if not isinstance(name, str) or not name:
                        raise HookError(
                            addon,
                            hook,
                            f"returned a {kind.__name__} whose {key} "
                            f"is {name!r}, not a non-empty str",
                        )
                    if not _namespaced(addon, name):
                        raise HookError(addon, hook, f"returned '{name}', not named '{addon}.…'")
                    if name in seen:
                        raise HookError(
                            addon, hook, f"returned '{name}' already given by '{seen[name]}'"
                        )
                    seen[name] = addon
                items.append(item)
        return items

    def validate_all(self) -> None:
        """Call every registration hook of every loaded addon once: fail fast at start-up."""
        self.blueprints(all_addons=True)
        self.permissions(all_addons=True)
        self.menu_items(all_addons=True)
        self.cli_commands(all_addons=True)
        self.jinja_setup(all_addons=True)
        self.scheduled_jobs(all_addons=True)
        self.notification_event_types(all_addons=True)
        self.printable_documents(all_addons=True)
        self.settings(all_addons=True)
        self.sms_gateways(all_addons=True)

    # -- registration hooks (data that does not depend on the user) ---------------------

    def blueprints(self, all_addons: bool = False) -> list[tuple[str, Blueprint]]:
        result = []
        seen: dict[str, str] = {}
        for addon, value in self._call("blueprints", all_addons):
            for bp in value if isinstance(value, list | tuple) else [value]:
                if not isinstance(bp, Blueprint):
                    raise HookError(addon, "blueprints", f"returned {type(bp).__name__}")
                if (
                    addon != CORE_PLUGIN
                    and bp.name != addon
                    and not bp.name.startswith(f"{addon}_")
                ):
                    raise HookError(
                        addon, "blueprints", f"blueprint '{bp.name}' not named '{addon}'"
                    )
                if bp.name in seen:
                    raise HookError(
                        addon,
                        "blueprints",
                        f"blueprint '{bp.name}' already given by '{seen[bp.name]}'",
                    )
                seen[bp.name] = addon
                result.append((addon, bp))
        return result

    def permissions(self, all_addons: bool = False) -> list[t.PermissionDef]:
        return self._items("permissions", t.PermissionDef, "name", all_addons)

    def menu_items(self, all_addons: bool = False) -> list[t.MenuItem]:
        return self._items("menu_items", t.MenuItem, "id", all_addons)

    def cli_commands(self, all_addons: bool = False) -> list[tuple[str, click.Command]]:
        result = []
        seen: dict[str, str] = {}
        for addon, value in self._call("cli_commands", all_addons):
            if not isinstance(value, list | tuple):
                raise HookError(
                    addon, "cli_commands", f"must return a list, not {type(value).__name__}"
                )
            for cmd in value:
                if not isinstance(cmd, click.Command):
                    raise HookError(addon, "cli_commands", f"returned {type(cmd).__name__}")
                name = cmd.name or ""
                if addon != CORE_PLUGIN and not (
                    name == addon or name.startswith((f"{addon}-", f"{addon}_"))
                ):
                    raise HookError(
                        addon, "cli_commands", f"command '{cmd.name}' must start with '{addon}'"
                    )
                if cmd.name in seen:
                    raise HookError(
                        addon,
                        "cli_commands",
                        f"command '{cmd.name}' already given by '{seen[cmd.name]}'",
                    )
                seen[cmd.name or ""] = addon
                result.append((addon, cmd))
        return result

    def jinja_setup(self, all_addons: bool = False) -> list[t.JinjaExtras]:
        result = []
        seen: dict[tuple[str, str], str] = {}
        for addon, value in self._call("jinja_setup", all_addons):
            if not isinstance(value, t.JinjaExtras):
                raise HookError(addon, "jinja_setup", "must return JinjaExtras")
            for kind, names in (("filter", value.filters), ("global", value.globals)):
                for name in names:
                    other = seen.setdefault((kind, name), addon)
                    if other != addon:
                        raise HookError(
                            addon, "jinja_setup", f"{kind} '{name}' already given by '{other}'"
                        )
            bad = [name for name, func in value.filters.items() if not callable(func)]
            if bad:
                raise HookError(addon, "jinja_setup", f"filter '{bad[0]}' is not callable")
            result.append(dataclasses.replace(value, addon=addon))
        return result

    def scheduled_jobs(self, all_addons: bool = False) -> list[t.ScheduledJob]:
        jobs = self._items("scheduled_jobs", t.ScheduledJob, "name", all_addons)
        for job in jobs:
            if not callable(job.func) or job.every_seconds < 1:
                raise HookError(job.addon, "scheduled_jobs", f"job '{job.name}' is not runnable")
        return jobs

    def notification_event_types(self, all_addons: bool = False) -> list[t.NotificationEventType]:
        return self._items("notification_event_types", t.NotificationEventType, "name", all_addons)

    def printable_documents(self, all_addons: bool = False) -> list[t.PrintableDocument]:
        return self._items("printable_documents", t.PrintableDocument, "name", all_addons)

    def settings(self, all_addons: bool = False) -> list[t.SettingDef]:
        defs = self._items("settings", t.SettingDef, "name", all_addons)
        for d in defs:
            if d.type not in t.SETTING_TYPES:
                raise HookError(d.addon, "settings", f"setting '{d.name}' has type '{d.type}'")
        return defs

    def sms_gateways(self, all_addons: bool = False) -> list[t.SmsGateway]:
        gateways = self._items("sms_gateways", t.SmsGateway, "name", all_addons)
        for gw in gateways:
            if not (callable(gw.factory) and callable(gw.configured)):
                raise HookError(gw.addon, "sms_gateways", f"gateway '{gw.name}' is not callable")
        return gateways

    # -- per-user hooks (called on each page that shows them) ---------------------------

    def reminders(self, user: Any, day: date) -> list[t.Reminder]:
        return self._items("reminders", t.Reminder, None, user=user, day=day)

    def calendar_events(
        self,
        user: Any,
        start: datetime,
        end: datetime,
        owner_ids: tuple[int, ...] | None = None,
    ) -> list[t.CalendarEvent]:
        if owner_ids is None:
            owner_ids = (user.id,) if getattr(user, "id", None) is not None else ()
        owners = tuple(owner_ids)
        return self._items(
            "calendar_events",
            t.CalendarEvent,
            "id",
            user=user,
            start=start,
            end=end,
            owner_ids=owners,
        )

    def _owner_call(self, hook: str, name: str, **kwargs: Any) -> bool | None:
        """Call ``hook`` on the one enabled addon ``name`` (``<addon>.…``) belongs to: an
        action on a reminder or event is saved by the addon that gave it, nobody else."""
        addon = name.split(".", 1)[0]
        if addon not in set(self._enabled()):
            return None
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == addon:
                value = impl.function(*[kwargs[arg] for arg in impl.argnames])
                if value is not None and not isinstance(value, bool):
                    raise HookError(addon, hook, "must return True, False or None")
                return value  # type: ignore[no-any-return]
        return None

    def reminder_action(
        self, user: Any, key: str, action: str, until: date | None = None
    ) -> bool | None:
        """Snooze or mark done a reminder through the addon that gave it (``None``: unknown)."""
        return self._owner_call(
            "reminder_action", key, user=user, key=key, action=action, until=until
        )

    def move_calendar_event(
        self, user: Any, event_id: str, start: datetime, end: datetime | None, all_day: bool
    ) -> bool | None:
        """Save a dragged event through the addon that gave it (``None``: unknown)."""
        return self._owner_call(
            "move_calendar_event",
            event_id,
            user=user,
            event_id=event_id,
            start=start,
            end=end,
            all_day=all_day,
        )

    def timeline_entries(self, subject: str, subject_id: int, user: Any) -> list[t.TimelineEntry]:
        entries = self._items(
            "timeline_entries",
            t.TimelineEntry,
            None,
            subject=subject,
            subject_id=subject_id,
            user=user,
        )
        # An addon may give naive datetimes: they are taken as UTC, so all compare.
        return sorted(
            entries,
            key=lambda e: e.when if e.when.tzinfo else e.when.replace(tzinfo=UTC),
            reverse=True,
        )

    def card_tabs(self, subject: str, subject_id: int, user: Any) -> list[t.CardTab]:
        tabs = self._items(
            "card_tabs", t.CardTab, "id", subject=subject, subject_id=subject_id, user=user
        )
        return sorted(tabs, key=lambda tab: (tab.order, tab.label))

    def global_search(self, user: Any, query: str, limit: int = 10) -> list[t.SearchResult]:
        hits: dict[str, list[t.SearchResult]] = {}
        for hit in self._items(
            "global_search", t.SearchResult, None, user=user, query=query, limit=limit
        ):
            hits.setdefault(hit.addon, []).append(hit)
        return [hit for per_addon in hits.values() for hit in per_addon[:limit]]

    def merge_records(
        self, subject: str, source_id: int, target_id: int, session: Any
    ) -> dict[str, int]:
        """Every enabled addon moves its rows from the duplicate; returns rows per addon."""
        moved: dict[str, int] = {}
        for addon, value in self._call(
            "merge_records",
            subject=subject,
            source_id=source_id,
            target_id=target_id,
            session=session,
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise HookError(addon, "merge_records", "must return a count of moved rows")
            moved[addon] = value
        return moved

    def dashboard_widgets(self, user: Any) -> list[t.DashboardWidget]:
        widgets = self._items("dashboard_widgets", t.DashboardWidget, "id", user=user)
        return sorted(widgets, key=lambda w: (w.order, w.title))

    def shell_indicators(self, user: Any) -> list[t.ShellIndicator]:
        indicators = self._items("shell_indicators", t.ShellIndicator, "id", user=user)
        for ind in indicators:
            seconds = ind.every_seconds
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise HookError(
                    ind.addon, "shell_indicators", f"'{ind.id}': every_seconds must be an int ≥ 0"
                )
            if seconds and not ind.count_url:
                raise HookError(
                    ind.addon, "shell_indicators", f"'{ind.id}': every_seconds needs a count_url"
                )
        return sorted(indicators, key=lambda i: (i.order, str(i.label)))
