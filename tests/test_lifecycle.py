"""Install, upgrade, uninstall, reinstall and purge, per database (issue 2, items 6-7)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import inspect, select, text

from core.addons import AddonError
from core.app import create_app
from core.models import InstalledAddon, Permission
from core.testing.plugin import create_user, csrf_token
from tests.addon_factory import add_upgrade, unique, write_addon


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "addons"
    path.mkdir()
    return path


def tables(kernel):
    return set(inspect(kernel.db.engine).get_table_names())


def states(kernel):
    with kernel.db.session_factory() as s:
        return {r.name: (r.state, r.version) for r in s.scalars(select(InstalledAddon))}


def test_install_pulls_in_dependencies_in_order(make_kernel, root):
    a, b, c = unique("a"), unique("b"), unique("c")
    write_addon(root, a)
    write_addon(root, b, depends=(a,))
    write_addon(root, c, depends=(b,))
    kernel = make_kernel(addon_paths=[root])
    assert kernel.manager.install([c]) == [a, b, c]
    assert {f"{a}_item", f"{b}_item", f"{c}_item"} <= tables(kernel)
    assert states(kernel)[c] == ("installed", "0.1.0")
    with kernel.db.session_factory() as s:
        assert s.get(Permission, f"{c}.item.read").addon == c
    assert kernel.manager.install([c]) == []


def test_cycle_missing_and_version_conflict_are_refused_naming_the_addons(make_kernel, root):
    x, y = unique("x"), unique("y")
    write_addon(root, x, depends=(y,))
    write_addon(root, y, depends=(x,))
    old, needs_new = unique("old"), unique("nn")
    write_addon(root, old, version="1.0")
    write_addon(root, needs_new, depends=(f"{old}>=2.0",))
    orphan = unique("orphan")
    write_addon(root, orphan, depends=("nowhere",))
    kernel = make_kernel(addon_paths=[root])
    with pytest.raises(AddonError, match=f"cycle: {x} -> {y} -> {x}"):
        kernel.manager.install([x])
    with pytest.raises(AddonError, match=f"'{needs_new}' needs {old}>=2.0 but version 1.0"):
        kernel.manager.install([needs_new])
    with pytest.raises(AddonError, match=f"'nowhere' is not available \\(needed by '{orphan}'\\)"):
        kernel.manager.install([orphan])
    assert states(kernel) == {}


def test_uninstall_refuses_while_dependents_remain_and_keeps_data(make_kernel, root):
    a, b = unique("a"), unique("b")
    write_addon(root, a)
    write_addon(root, b, depends=(a,))
    kernel = make_kernel([b], addon_paths=[root])
    with kernel.db.transaction() as s:
        s.execute(text(f"INSERT INTO {a}_item (title) VALUES ('kept')"))
    with pytest.raises(AddonError, match=f"{b} depend\\(s\\) on {a}"):
        kernel.manager.uninstall([a])
    assert kernel.manager.uninstall([a], with_dependents=True) == [b, a]
    assert states(kernel)[a][0] == "uninstalled"
    kernel.refresh()
    assert kernel.snapshot.enabled == frozenset()
    assert f"{a}_item" in tables(kernel)
    kernel.manager.install([a])
    with kernel.db.session_factory() as s:
        assert s.execute(text(f"SELECT title FROM {a}_item")).scalar_one() == "kept"


def test_glue_addon_installs_itself_when_its_dependencies_are_present(make_kernel, root):
    a, b, glue = unique("a"), unique("b"), unique("glue")
    write_addon(root, a)
    write_addon(root, b)
    write_addon(root, glue, depends=(a, b), auto_install=True)
    kernel = make_kernel([a], addon_paths=[root])
    assert glue not in states(kernel)
    assert kernel.manager.install([b]) == [b, glue]
    assert states(kernel)[glue][0] == "installed"


def test_upgrade_runs_new_migrations_and_syncs_permissions(make_kernel, root):
    a = unique("a")
    write_addon(root, a, extra_perms=("item.old",))
    kernel = make_kernel([a], addon_paths=[root])
    write_addon(root, a, version="0.2.0", extra_perms=("item.export",))
    add_upgrade(root, a, "0.2.0")
    sys.modules.pop(a)  # a new process would import the new code
    newer = make_kernel(addon_paths=[root], url=kernel.db.url)
    with newer.db.session_factory() as s:
        assert newer.manager.pending_upgrades(s) == {a: ("0.1.0", "0.2.0")}
    assert newer.manager.upgrade() == [a]
    columns = {c["name"] for c in inspect(newer.db.engine).get_columns(f"{a}_item")}
    assert "note" in columns
    assert states(newer)[a] == ("installed", "0.2.0")
    with newer.db.session_factory() as s:
        names = set(s.scalars(select(Permission.name).where(Permission.addon == a)))
    assert names == {f"{a}.item.read", f"{a}.item.export"}


def test_purge_shows_what_it_drops_then_drops_it(make_kernel, root):
    a = unique("a")
    write_addon(root, a)
    kernel = make_kernel([a], addon_paths=[root])
    with kernel.db.transaction() as s:
        s.execute(text(f"INSERT INTO {a}_item (title) VALUES ('one'), ('two')"))
    with pytest.raises(AddonError, match="uninstall before purging"):
        kernel.manager.plan_purge([a])
    kernel.manager.uninstall([a])
    plan = kernel.manager.plan_purge([a])
    assert plan.tables == {a: [f"{a}_item"]}
    assert plan.rows == {f"{a}_item": 2}
    assert f"{a}_item (2 rows)" in plan.describe()
    assert f"{a}_item" in tables(kernel)  # planning drops nothing
    kernel.manager.purge([a])
    assert f"{a}_item" not in tables(kernel)
    assert a not in states(kernel)
    with kernel.db.session_factory() as s:
        assert s.scalars(select(Permission).where(Permission.addon == a)).all() == []
    kernel.manager.install([a])
    with kernel.db.session_factory() as s:
        assert s.execute(text(f"SELECT COUNT(*) FROM {a}_item")).scalar_one() == 0


def test_failing_post_install_leaves_nothing_half_installed(make_kernel, root, tmp_path):
    a = unique("a")
    write_addon(root, a, extra_manifest=f'post_install = "{a}.lifecycle:boom"\n')
    (root / a / "lifecycle.py").write_text("def boom(session):\n    raise RuntimeError('no')\n")
    kernel = make_kernel(addon_paths=[root])
    with pytest.raises(RuntimeError):
        kernel.manager.install([a])
    assert a not in states(kernel)
    assert f"{a}_item" not in tables(kernel)


def _signed_in_client(app, kernel, permissions):
    with kernel.db.session_factory() as s:
        create_user(s, "worker", permissions)
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "login": "worker",
            "password": "correct-horse-battery",
            "csrf_token": csrf_token(app, client),
        },
    )
    assert response.status_code == 302
    return client


def test_running_app_sees_an_uninstall_by_another_process(make_kernel, root):
    a = unique("a")
    write_addon(root, a)
    kernel = make_kernel([a], addon_paths=[root])
    app = create_app(kernel.settings, kernel=kernel)
    client = _signed_in_client(app, kernel, [f"{a}.item.read"])
    assert client.get(f"/{a}/items").status_code == 200
    assert f"/{a}/items" in client.get("/").get_data(as_text=True)
    env = {
        **os.environ,
        "VITRYLO_DATABASE_URL": kernel.db.url,
        "VITRYLO_ADDONS_PATH": str(root),
        "VITRYLO_INSTANCE_PATH": str(kernel.settings.instance_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "core", "addons", "uninstall", a],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert client.get(f"/{a}/items").status_code == 404
    assert f"/{a}/items" not in client.get("/").get_data(as_text=True)
    done = subprocess.run(
        [sys.executable, "-m", "core", "addons", "install", a],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert client.get(f"/{a}/items").status_code == 200


def test_an_addon_whose_code_is_gone_can_be_switched_off_but_not_purged(
    make_kernel, root, tmp_path
):
    a = unique("gone")
    write_addon(root, a)
    kernel = make_kernel([a], addon_paths=[root])
    env = {
        **os.environ,
        "VITRYLO_DATABASE_URL": kernel.db.url,
        "VITRYLO_ADDONS_PATH": "",
        "VITRYLO_INSTANCE_PATH": str(kernel.settings.instance_path),
    }

    def vitrylo(*args):
        return subprocess.run(
            [sys.executable, "-m", "core", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    listing = vitrylo("addons", "list")
    assert listing.returncode == 0, listing.stderr
    assert f"{a}" in listing.stdout and "missing" in listing.stdout
    assert vitrylo("addons", "uninstall", a).returncode == 0
    refused = vitrylo("addons", "purge", a, "--yes")
    assert refused.returncode == 1 and "needs the code" in refused.stderr
    assert f"{a}_item" in tables(kernel)


def test_a_renamed_permission_keeps_its_grants(make_kernel, root):
    from core.models import Group, GroupPermission

    a = unique("ren")
    write_addon(root, a, extra_perms=("item.export",))
    kernel = make_kernel([a], addon_paths=[root])
    with kernel.db.transaction() as s:
        group = Group(name="exporters")
        s.add(group)
        s.flush()
        s.add(GroupPermission(group_id=group.id, permission=f"{a}.item.export"))
    init = root / a / "__init__.py"
    init.write_text(
        init.read_text().replace(
            f'PermissionDef("{a}.item.export", "item.export")',
            f'PermissionDef("{a}.item.download", "Download", replaces=("{a}.item.export",))',
        )
    )
    add_upgrade(root, a, "0.2.0")
    sys.modules.pop(a)
    newer = make_kernel(addon_paths=[root], url=kernel.db.url)
    newer.manager.upgrade()
    with newer.db.session_factory() as s:
        granted = set(s.scalars(select(GroupPermission.permission)))
        names = set(s.scalars(select(Permission.name).where(Permission.addon == a)))
    assert granted == {f"{a}.item.download"}
    assert names == {f"{a}.item.read", f"{a}.item.download"}
