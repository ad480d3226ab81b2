"""The typed facade's failure modes: each error names the addon at fault.

The broken addons are written into ``tmp_path`` by each test, each under a unique name (so
Python's module cache never hands one test another test's addon), next to the well-behaved
``hooktest`` addon, which must never be blamed.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from core.facade import HookError
from core.kernel import Kernel
from core.plugins import AddonLoadError
from core.testing.databases import drop_database, fresh_database_url

TEST_ADDONS = Path(__file__).resolve().parent / "addons"

HEADER = """\
import click
from flask import Blueprint

from core import hookimpl
from core.hooktypes import *  # noqa: F403
"""


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "addons"
    folder.mkdir()
    return folder


def write_addon(root: Path, name: str, code: str) -> str:
    """An addon folder ``root/name``; ``ADDON`` in ``code`` stands for its name."""
    folder = root / name
    folder.mkdir()
    (folder / "addon.toml").write_text(
        f'name = "{name}"\nlabel = "Broken {name}"\nversion = "0.1.0"\n', encoding="utf-8"
    )
    body = HEADER + textwrap.dedent(code).replace("ADDON", name)
    (folder / "__init__.py").write_text(body, encoding="utf-8")
    return name


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A new database, dropped at the end even when the kernel failed to start."""
    url = fresh_database_url(tmp_path)
    yield url
    drop_database(url)


@pytest.fixture
def start(db_url: str, make_kernel, root: Path) -> Callable[..., Kernel]:
    """``start(addons)``: a kernel over the broken addons of ``root`` and hooktest."""

    def make(addons: tuple[str, ...] = (), **settings: object) -> Kernel:
        return make_kernel(addons, addon_paths=[TEST_ADDONS, root], url=db_url, **settings)

    return make


def assert_blames(error: pytest.ExceptionInfo, addon: str, *fragments: str) -> None:
    message = str(error.value)
    assert f"addon '{addon}'" in message, message
    assert "hooktest" not in message, message
    for fragment in fragments:
        assert fragment in message, message


# -- wrong types ------------------------------------------------------------------------

WRONG_TYPES = {
    "not a list": (
        """
        @hookimpl
        def permissions():
            return PermissionDef("ADDON.x.read")
        """,
        "permissions",
        "must return a list, not PermissionDef",
    ),
    "wrong item type": (
        """
        @hookimpl
        def permissions():
            return [MenuItem("ADDON.x", "X")]
        """,
        "permissions",
        "returned MenuItem, expected PermissionDef",
    ),
    "name not a str": (
        """
        @hookimpl
        def menu_items():
            return [MenuItem(None, "X")]
        """,
        "menu_items",
        "not a non-empty str",
    ),
    "jinja not JinjaExtras": (
        """
        @hookimpl
        def jinja_setup():
            return {"filters": {}}
        """,
        "jinja_setup",
        "must return JinjaExtras",
    ),
    "jinja filter not callable": (
        """
        @hookimpl
        def jinja_setup():
            return JinjaExtras(filters={"ADDON_f": "not callable"})
        """,
        "jinja_setup",
        "filter 'ADDON_f' is not callable",
    ),
    "cli command not in a list": (
        """
        @hookimpl
        def cli_commands():
            return click.Group("ADDON")
        """,
        "cli_commands",
        "must return a list, not Group",
    ),
    "cli item not a command": (
        """
        @hookimpl
        def cli_commands():
            return ["ADDON"]
        """,
        "cli_commands",
        "returned str",
    ),
    "blueprint not a blueprint": (
        """
        @hookimpl
        def blueprints():
            return ["ADDON"]
        """,
        "blueprints",
        "returned str",
    ),
    "job not runnable": (
        """
        @hookimpl
        def scheduled_jobs():
            return [ScheduledJob("ADDON.job", print, every_seconds=0)]
        """,
        "scheduled_jobs",
        "job 'ADDON.job' is not runnable",
    ),
    "setting type unknown": (
        """
        @hookimpl
        def settings():
            return [SettingDef("ADDON.ratio", "Ratio", type="float")]
        """,
        "settings",
        "setting 'ADDON.ratio' has type 'float'",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_wrong_type_from_a_registration_hook_stops_the_start(start, root, case):
    code, hook, problem = WRONG_TYPES[case]
    name = write_addon(root, unique("wrongtype"), code)
    with pytest.raises(HookError) as error:  # found, not even installed: still checked
        start()
    assert (error.value.addon, error.value.hook) == (name, hook)
    assert_blames(error, name, f"hook '{hook}'", problem.replace("ADDON", name))


def test_wrong_type_from_a_per_user_hook_fails_when_called(start, root):
    name = write_addon(
        root,
        unique("wrongtype"),
        """
        @hookimpl
        def reminders(user, day):
            return Reminder("ADDON.call", "Call", due=day)

        @hookimpl
        def calendar_events(user, start, end):
            return [SearchResult("ADDON.x", "X", "/x")]
        """,
    )
    kernel = start(["hooktest"])
    assert kernel.hooks.reminders(None, date.today())  # not installed: not called
    kernel.manager.install([name])
    kernel.refresh()
    with pytest.raises(HookError) as error:
        kernel.hooks.reminders(None, date.today())
    assert_blames(error, name, "hook 'reminders'", "must return a list, not Reminder")
    with pytest.raises(HookError) as error:
        kernel.hooks.calendar_events(None, datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert_blames(error, name, "returned SearchResult, expected CalendarEvent")


# -- namespacing ------------------------------------------------------------------------

NOT_NAMESPACED = {
    "permissions": 'PermissionDef("other.x.read")',
    "menu_items": 'MenuItem("other.menu", "Other")',
    "scheduled_jobs": 'ScheduledJob("other.job", print)',
    "notification_event_types": 'NotificationEventType("other.event", "Event")',
    "printable_documents": 'PrintableDocument("other.doc", "Doc", "x.y", "d.html", dict)',
    "settings": 'SettingDef("other.setting", "Setting")',
    "prefix without a dot": 'PermissionDef("ADDONx.read")',
}


@pytest.mark.parametrize("case", sorted(NOT_NAMESPACED))
def test_name_not_namespaced_stops_the_start(start, root, case):
    hook = "permissions" if case == "prefix without a dot" else case
    item = NOT_NAMESPACED[case]
    name = write_addon(root, unique("nons"), f"\n@hookimpl\ndef {hook}():\n    return [{item}]\n")
    bad = item.split('"')[1].replace("ADDON", name)
    with pytest.raises(HookError) as error:
        start()
    assert_blames(error, name, f"hook '{hook}'", f"returned '{bad}', not named '{name}.…'")


def test_per_user_id_not_namespaced_fails_when_called(start, root):
    name = write_addon(
        root,
        unique("nons"),
        """
        @hookimpl
        def card_tabs(subject, subject_id, user):
            return [CardTab("crm_base.stolen", "Stolen", "/x")]

        @hookimpl
        def dashboard_widgets(user):
            return [DashboardWidget("hooktest.hello", "Not mine", render=str)]
        """,
    )
    kernel = start(["hooktest", name])
    with pytest.raises(HookError) as error:
        kernel.hooks.card_tabs("crm_base.counterparty", 1, None)
    assert_blames(error, name, "returned 'crm_base.stolen'")
    with pytest.raises(HookError) as error:
        kernel.hooks.dashboard_widgets(None)
    assert str(error.value).startswith(f"addon '{name}': hook 'dashboard_widgets'")


# -- uniqueness -------------------------------------------------------------------------


def test_same_name_twice_from_one_addon(start, root):
    name = write_addon(
        root,
        unique("twice"),
        """
        @hookimpl
        def permissions():
            return [PermissionDef("ADDON.x.read"), PermissionDef("ADDON.x.read")]
        """,
    )
    with pytest.raises(HookError) as error:
        start()
    assert_blames(error, name, f"'{name}.x.read' already given by '{name}'")


@pytest.mark.parametrize(
    ("hook", "code"),
    [
        ("blueprints", 'return [Blueprint("SHARED", __name__)]'),
        ("cli_commands", 'return [click.Command("SHARED")]'),
        ("jinja_setup", 'return JinjaExtras(filters={"SHARED": str})'),
    ],
)
def test_same_name_from_two_addons(start, root, hook, code):
    # ``shop`` may name its blueprints ``shop_*`` and its commands ``shop*``, so ``shop_x``
    # (another addon) giving ``shop_x`` too must be caught, naming both addons.
    first = unique("shop")
    second = f"{first}_x"
    body = f"\n@hookimpl\ndef {hook}():\n    {code.replace('SHARED', second)}\n"
    write_addon(root, first, body)
    write_addon(root, second, body)
    with pytest.raises(HookError) as error:
        start()
    message = str(error.value)
    assert f"hook '{hook}'" in message and "already given by" in message
    assert f"'{first}'" in message and f"'{second}'" in message
    assert error.value.addon in (first, second)


# -- loading --------------------------------------------------------------------------------


def test_misspelled_hook_stops_the_start(start, root):
    name = write_addon(
        root,
        unique("typo"),
        """
        @hookimpl
        def menu_itemz():
            return []
        """,
    )
    with pytest.raises(AddonLoadError) as error:
        start()
    assert_blames(error, name, "menu_itemz")


def test_hook_argument_that_does_not_exist_stops_the_start(start, root):
    name = write_addon(
        root,
        unique("badarg"),
        """
        @hookimpl
        def reminders(usr, day):
            return []
        """,
    )
    with pytest.raises(AddonLoadError) as error:
        start()
    assert_blames(error, name, "usr")


def test_addon_whose_import_raises_stops_the_start(start, root):
    name = write_addon(root, unique("boom"), 'raise RuntimeError("kaboom at import")\n')
    with pytest.raises(AddonLoadError) as error:
        start()
    assert_blames(error, name, "failed to import", "kaboom at import")
    kernel = start(["crm_base"], safe_mode=True)  # safe mode: bundled addons only
    assert name not in kernel.available and "crm_base" in kernel.snapshot.enabled


@pytest.mark.parametrize("blueprint", ["sales", "other_WRONG", "WRONGother"])
def test_blueprint_named_wrongly_stops_the_start(start, root, blueprint):
    name = unique("bpname")
    bp_name = blueprint.replace("WRONG", name)
    write_addon(
        root,
        name,
        f"""
        @hookimpl
        def blueprints():
            return [Blueprint("{bp_name}", __name__, url_prefix="/{name}")]
        """,
    )
    with pytest.raises(HookError) as error:
        start()
    assert_blames(error, name, f"blueprint '{bp_name}' not named '{name}'")


def test_blueprint_named_after_the_addon_is_accepted(start, root):
    name = unique("bpok")
    write_addon(
        root,
        name,
        """
        @hookimpl
        def blueprints():
            return [Blueprint("ADDON", __name__), Blueprint("ADDON_api", __name__)]
        """,
    )
    kernel = start()
    names = [bp.name for addon, bp in kernel.hooks.blueprints(all_addons=True) if addon == name]
    assert names == [name, f"{name}_api"]
