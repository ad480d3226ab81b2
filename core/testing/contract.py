"""The addon contract: the rules every addon keeps, as tests a partner runs on their own.

Subclass :class:`AddonContract` in your addon's tests and name the addon::

    from core.testing.contract import AddonContract


    class TestContract(AddonContract):
        addon = "my_addon"

Each test builds a kernel on a brand-new database with the ``make_kernel`` fixture of
:mod:`core.testing.plugin`, so the addon must be discoverable: pip-installed (its entry
point in the group ``vitrylo.addons``) or in a folder listed by the ``vitrylo_addon_paths``
fixture (or the class attribute ``addon_paths``).

The checks are also plain functions (``check_manifest(kernel, addon)`` and so on), for a
test that wants one of them on a kernel of its own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Table, inspect, select

from core import depgraph, migrate
from core.db import Base, write_intent
from core.facade import CORE_PLUGIN
from core.kernel import Kernel
from core.loader import AddonInfo
from core.manifest import load_manifest
from core.models import Permission

__all__ = [
    "AddonContract",
    "addon_tables",
    "check_first_revision",
    "check_hooks",
    "check_lifecycle",
    "check_manifest",
    "check_migrations",
    "check_namespaces",
    "check_routes",
    "check_tables",
]

MakeKernel = Callable[..., Kernel]


# -- helpers ------------------------------------------------------------------------------


def _info(kernel: Kernel, addon: str) -> AddonInfo:
    info = kernel.available.get(addon)
    assert info is not None, (
        f"addon '{addon}' was not found; found: {', '.join(sorted(kernel.available))}. "
        "Install its package (pip install -e .) or list its folder in the "
        "vitrylo_addon_paths fixture."
    )
    return info


def _belongs(module: str, info: AddonInfo) -> bool:
    return module == info.module or module.startswith(f"{info.module}.")


def _import_models(info: AddonInfo) -> None:
    """Import ``<addon>.models`` if there is one, so its tables are in ``Base.metadata``."""
    name = f"{info.module}.models"
    if importlib.util.find_spec(name) is not None:
        importlib.import_module(name)


def addon_tables(info: AddonInfo) -> dict[str, str]:
    """The tables the addon's code defines: table name → where (class or module)."""
    _import_models(info)
    found: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if _belongs(cls.__module__, info):
            for table in mapper.tables:
                if isinstance(table, Table):
                    found[table.name] = f"{cls.__module__}.{cls.__qualname__}"
    for module_name, module in list(sys.modules.items()):
        if module is None or not _belongs(module_name, info):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Table) and value.metadata is Base.metadata:
                found.setdefault(value.name, module_name)
    return found


def _declared_permissions(kernel: Kernel) -> dict[str, str]:
    return {p.name: p.addon for p in kernel.hooks.permissions(all_addons=True)}


def _own_and_dependencies(kernel: Kernel, addon: str) -> set[str]:
    return {addon, CORE_PLUGIN, *depgraph.all_dependencies(addon, kernel.available)}


def _table_columns(kernel: Kernel) -> dict[str, list[str]]:
    insp = inspect(kernel.db.engine)
    return {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}


def _script(kernel: Kernel) -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config(kernel.available))


def _branch_labels_below(script: ScriptDirectory, revision_ids: Iterable[str]) -> set[str]:
    """Branch labels of the given revisions (or labels) and of everything below them."""
    labels: set[str] = set()
    for rev_id in revision_ids:
        for rev in script.revision_map.get_revisions(rev_id):
            if rev is None:
                continue
            for below in script.iterate_revisions(rev.revision, "base"):
                labels.update(below.branch_labels)
    return labels


# -- the checks ---------------------------------------------------------------------------


def check_manifest(kernel: Kernel, addon: str) -> None:
    """The manifest is valid, names the addon, and its dependencies and entry points resolve."""
    info = _info(kernel, addon)
    manifest = load_manifest(info.path / "addon.toml")
    assert manifest.name == addon, f"addon.toml says name = '{manifest.name}', not '{addon}'"
    if info.source != "entry_point":
        assert info.path.name == addon, (
            f"the folder of addon '{addon}' is named '{info.path.name}': name them the same"
        )
    depgraph.install_order([addon], kernel.available)  # a missing dependency raises
    for key in ("post_install", "pre_uninstall", "demo"):
        dotted = getattr(manifest, key)
        if not dotted:
            continue
        module, _, attr = dotted.replace(":", ".").rpartition(".")
        target = getattr(importlib.import_module(module), attr, None)
        assert callable(target), f"addon.toml: {key} = '{dotted}' is not a function"


def check_hooks(kernel: Kernel, addon: str) -> None:
    """The addon is registered, its hooks match the specs and return what the kernel takes."""
    _info(kernel, addon)
    assert kernel.pm.get_plugin(addon) is not None, f"addon '{addon}' is not registered"
    kernel.pm.check_pending()
    kernel.hooks.validate_all()


def check_namespaces(kernel: Kernel, addon: str) -> None:
    """Every name the addon contributes starts with ``<addon>.`` (``<addon>_`` for
    blueprints); menu parents and permissions refer to things that exist; templates live in
    ``templates/<addon>/``."""
    info = _info(kernel, addon)
    hooks = kernel.hooks
    prefix = f"{addon}."
    named: list[tuple[str, str]] = []
    named += [("permission", p.name) for p in hooks.permissions(True) if p.addon == addon]
    named += [("menu item", m.id) for m in hooks.menu_items(True) if m.addon == addon]
    named += [("scheduled job", j.name) for j in hooks.scheduled_jobs(True) if j.addon == addon]
    named += [
        ("notification event type", e.name)
        for e in hooks.notification_event_types(True)
        if e.addon == addon
    ]
    named += [
        ("printable document", d.name) for d in hooks.printable_documents(True) if d.addon == addon
    ]
    named += [("setting", s.name) for s in hooks.settings(True) if s.addon == addon]
    bad = [f"{kind} '{name}'" for kind, name in named if not name.startswith(prefix)]
    bad += [
        f"blueprint '{bp.name}'"
        for owner, bp in hooks.blueprints(True)
        if owner == addon and bp.name != addon and not bp.name.startswith(f"{addon}_")
    ]
    bad += [
        f"CLI command '{cmd.name}'"
        for owner, cmd in hooks.cli_commands(True)
        if owner == addon and not (cmd.name or "").startswith(addon)
    ]
    assert not bad, f"addon '{addon}': not in its namespace '{addon}': " + ", ".join(bad)

    permissions = _declared_permissions(kernel)
    menu = {m.id: m.addon for m in hooks.menu_items(True)}
    reachable = _own_and_dependencies(kernel, addon)
    for item in hooks.menu_items(True):
        if item.addon != addon:
            continue
        if item.permission is not None:
            assert item.permission in permissions, (
                f"menu item '{item.id}' needs permission '{item.permission}', "
                "which no addon declares"
            )
        if item.parent is not None:
            assert item.parent in menu, f"menu item '{item.id}': no parent '{item.parent}'"
            assert menu[item.parent] in reachable, (
                f"menu item '{item.id}' hangs under '{item.parent}' of addon "
                f"'{menu[item.parent]}', which '{addon}' does not depend on"
            )

    templates = info.path / "templates"
    if templates.is_dir():
        stray = sorted(p.name for p in templates.iterdir() if p.name != addon)
        assert not stray, (
            f"templates of '{addon}' must live in templates/{addon}/ (found: {', '.join(stray)})"
        )


def check_tables(kernel: Kernel, addon: str) -> None:
    """Every table defined by the addon's modules is named ``<addon>_...``."""
    info = _info(kernel, addon)
    bad = {t: where for t, where in addon_tables(info).items() if not t.startswith(f"{addon}_")}
    assert not bad, f"tables of '{addon}' must be named '{addon}_...': " + ", ".join(
        f"{t} ({where})" for t, where in sorted(bad.items())
    )


def check_routes(kernel: Kernel, addon: str) -> None:
    """Every route of the addon's blueprints is wrapped in ``require(...)`` or ``public``,
    and every permission it requires is declared by some addon."""
    from core.app import create_app

    _info(kernel, addon)
    names = {bp.name for owner, bp in kernel.hooks.blueprints(True) if owner == addon}
    if not names:
        return
    app = create_app(kernel.settings, kernel=kernel)
    permissions = _declared_permissions(kernel)
    unprotected, undeclared = [], []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in names or rule.endpoint.endswith(".static"):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "vitrylo_public", False):
            continue
        if not hasattr(view, "vitrylo_permission"):
            unprotected.append(f"{rule.rule} ({rule.endpoint})")
            continue
        needed = view.vitrylo_permission
        if needed is not None and needed not in permissions:
            undeclared.append(f"{rule.rule} needs '{needed}'")
    assert not unprotected, (
        f"routes of '{addon}' without @require(...) or @public (put @require under "
        "@bp.route): " + ", ".join(unprotected)
    )
    assert not undeclared, f"routes of '{addon}' need permissions no addon declares: " + ", ".join(
        undeclared
    )


def check_first_revision(kernel: Kernel, addon: str) -> None:
    """The addon's Alembic branch has one base and one head, and its first revision
    ``depends_on`` the branches of the addons in ``depends``."""
    info = _info(kernel, addon)
    script = _script(kernel)
    revisions = [r for r in script.walk_revisions() if addon in r.branch_labels]
    if not revisions:
        tables = addon_tables(info)
        assert not tables, (
            f"'{addon}' defines tables ({', '.join(sorted(tables))}) but has no migration "
            f"branch labelled '{addon}'"
        )
        pytest.skip(f"'{addon}' has no migrations")
    bases = [r for r in revisions if r.is_base]
    assert len(bases) == 1, (
        f"branch '{addon}' must have one first revision (down_revision = None), found "
        f"{', '.join(r.revision for r in bases) or 'none'}"
    )
    heads = [r for r in revisions if r.is_head]
    assert len(heads) == 1, (
        f"branch '{addon}' has several heads ({', '.join(r.revision for r in heads)}): "
        "add a merge revision"
    )
    first = bases[0]
    cfg = migrate.alembic_config(kernel.available)
    wanted = {d for d in info.manifest.depend_names if migrate.has_branch(cfg, d)}
    dependencies = first.dependencies or ()
    if isinstance(dependencies, str):
        dependencies = (dependencies,)
    covered = _branch_labels_below(script, dependencies)
    missing = sorted(wanted - covered)
    assert not missing, (
        f"the first revision of '{addon}' ({first.revision}) must have depends_on covering "
        f"its dependencies' branches; missing: {', '.join(missing)} "
        f"(write depends_on = {tuple(sorted(wanted))!r})"
    )


def check_migrations(kernel: Kernel, addon: str) -> None:
    """On a database with only the core and the addon's dependencies, the addon's branch
    goes up, down and up again; it creates exactly its own tables (all ``<addon>_...``),
    the ones its models define, and leaves the other addons' tables alone."""
    info = _info(kernel, addon)
    if not migrate.has_branch(migrate.alembic_config(kernel.available), addon):
        pytest.skip(f"'{addon}' has no migrations")
    engine = kernel.db.engine
    dependencies = [n for n in depgraph.install_order([addon], kernel.available) if n != addon]

    def run(step: Callable[..., None], label: str) -> None:
        with write_intent(), engine.connect() as conn, conn.begin():
            step(conn, kernel.available, label)

    for dep in dependencies:
        run(migrate.upgrade_branch, dep)
    before = _table_columns(kernel)

    run(migrate.upgrade_branch, addon)
    after = _table_columns(kernel)
    created = sorted(set(after) - set(before))
    stray = [t for t in created if not t.startswith(f"{addon}_")]
    assert not stray, f"migrations of '{addon}' create tables without its prefix: {stray}"
    changed = [t for t in before if after.get(t) != before[t] and t != "alembic_version"]
    assert not changed, f"migrations of '{addon}' change other tables: {changed}"
    model_tables = addon_tables(info)
    missing = sorted(set(model_tables) - set(after))
    assert not missing, f"tables of '{addon}' its migrations do not create: {missing}"
    columns = {t: sorted(c.name for c in Base.metadata.tables[t].columns) for t in model_tables}
    drift = [t for t in model_tables if t in Base.metadata.tables and after[t] != columns[t]]
    assert not drift, "models and migrations of '{}' differ in columns: {}".format(
        addon, "; ".join(f"{t}: db {after[t]} vs model {columns[t]}" for t in drift)
    )

    run(migrate.downgrade_branch, addon)
    assert _table_columns(kernel) == before, (
        f"downgrading '{addon}' to base must drop exactly its tables "
        f"(left: {sorted(set(_table_columns(kernel)) - set(before))})"
    )
    with engine.connect() as conn:
        assert addon not in migrate.applied_branches(conn, kernel.available)

    run(migrate.upgrade_branch, addon)
    assert _table_columns(kernel) == after, f"upgrading '{addon}' again gives another schema"


def check_lifecycle(kernel: Kernel, addon: str) -> None:
    """Install (dependencies first, permissions synced), uninstall (data kept), purge."""
    info = _info(kernel, addon)
    done = kernel.manager.install([addon])
    expected = depgraph.install_order([addon], kernel.available)
    assert done[: len(expected)] == expected, f"install order {done}, expected {expected}"
    kernel.refresh()
    assert kernel.is_enabled(addon)
    declared = {p.name for p in kernel.hooks.permissions(True) if p.addon == addon}
    with kernel.db.session_factory() as session:
        stored = set(session.scalars(select(Permission.name).where(Permission.addon == addon)))
    assert stored == declared, f"permissions in the database {stored} != declared {declared}"

    tables = list(addon_tables(info))
    removed = kernel.manager.uninstall([addon], with_dependents=True)
    kernel.refresh()
    assert not kernel.is_enabled(addon)
    existing = set(inspect(kernel.db.engine).get_table_names())
    assert set(tables) <= existing, "uninstalling must keep the data (purge drops it)"

    kernel.manager.purge(removed)
    left = set(inspect(kernel.db.engine).get_table_names()) & set(tables)
    assert not left, f"purging '{addon}' left tables: {sorted(left)}"


# -- the test class -----------------------------------------------------------------------


class AddonContract:
    """The contract tests; subclass it as ``TestContract`` and set ``addon``.

    ``addon_paths``: folders with addons to discover (``None``: the ``vitrylo_addon_paths``
    fixture, which pip-installed addons do not need).
    """

    addon: str = ""
    addon_paths: Sequence[Path] | None = None

    @pytest.fixture
    def contract_kernel(self, make_kernel: MakeKernel) -> Kernel:
        """A kernel on a new database with the core only (and a test licence, for commercial
        addons): the addon found, not installed."""
        assert self.addon, f'{type(self).__name__}: set `addon = "<name>"`'
        return make_kernel((), addon_paths=self.addon_paths, licensed=True)

    def test_manifest(self, contract_kernel: Kernel) -> None:
        check_manifest(contract_kernel, self.addon)

    def test_hooks(self, contract_kernel: Kernel) -> None:
        check_hooks(contract_kernel, self.addon)

    def test_namespaces(self, contract_kernel: Kernel) -> None:
        check_namespaces(contract_kernel, self.addon)

    def test_tables_are_prefixed(self, contract_kernel: Kernel) -> None:
        check_tables(contract_kernel, self.addon)

    def test_routes_require_permission(self, contract_kernel: Kernel) -> None:
        check_routes(contract_kernel, self.addon)

    def test_first_revision_depends_on(self, contract_kernel: Kernel) -> None:
        check_first_revision(contract_kernel, self.addon)

    def test_migrations_up_down_up(self, contract_kernel: Kernel) -> None:
        check_migrations(contract_kernel, self.addon)

    def test_install_uninstall_purge(self, contract_kernel: Kernel) -> None:
        check_lifecycle(contract_kernel, self.addon)
