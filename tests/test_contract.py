"""The addon contract (core.testing.contract): the bundled crm_base keeps it, and it catches
an addon that breaks it."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from core.kernel import Kernel
from core.testing.contract import AddonContract, check_first_revision, check_manifest


class TestCrmBaseContract(AddonContract):
    addon = "crm_base"


def write_addon(
    folder: Path, name: str, *, views: str, depends: str = "", migration: str = ""
) -> None:
    """A small addon in ``folder/name`` with one blueprint (``views``) and one permission."""
    root = folder / name
    root.mkdir(parents=True)
    (root / "addon.toml").write_text(
        f'name = "{name}"\nlabel = "Bad"\nversion = "0.1.0"\ndepends = [{depends}]\n',
        encoding="utf-8",
    )
    (root / "__init__.py").write_text(
        textwrap.dedent(f"""\
            from core import hookimpl
            from core.hooktypes import PermissionDef


            @hookimpl
            def blueprints():
                from {name}.views import bp

                return [bp]


            @hookimpl
            def permissions():
                return [PermissionDef("{name}.thing.read", "Read things")]
            """),
        encoding="utf-8",
    )
    (root / "views.py").write_text(
        textwrap.dedent(f"""\
            from flask import Blueprint

            from core.security import require

            bp = Blueprint("{name}", __name__, url_prefix="/{name}")
            """)
        + textwrap.dedent(views),
        encoding="utf-8",
    )
    if migration:
        (root / "migrations").mkdir()
        (root / "migrations" / f"{name}_0001.py").write_text(
            textwrap.dedent(migration), encoding="utf-8"
        )


def unique(prefix: str) -> str:
    """Addons in folders are imported under their own name: one per test run."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


UNPROTECTED = """

@bp.route("/things")
@require("{name}.thing.read")
def things():
    return "things"


@bp.route("/export")
def export():  # forgot @require: anyone signed in or not could read this
    return "all the things"
"""

WRONG_ORDER = """

@require("{name}.thing.read")  # above @bp.route: the route keeps the unwrapped view
@bp.route("/things")
def things():
    return "things"
"""

UNDECLARED = """

@bp.route("/things")
@require("{name}.thing.delete")  # a permission nobody declares: only superusers get in
def things():
    return "things"
"""


@pytest.mark.parametrize(
    ("views", "problem"),
    [
        (UNPROTECTED, r"without @require\(\.\.\.\) or @public.*/export"),
        (WRONG_ORDER, r"without @require\(\.\.\.\) or @public.*/things"),
        (UNDECLARED, r"need permissions no addon declares.*thing\.delete"),
    ],
    ids=["no-require", "require-above-route", "undeclared-permission"],
)
def test_contract_catches_unprotected_routes(
    tmp_path: Path, make_kernel, views: str, problem: str
) -> None:
    name = unique("badroute")
    write_addon(tmp_path, name, views=views.replace("{name}", name))
    kernel: Kernel = make_kernel(addon_paths=[tmp_path])

    class TestBad(AddonContract):
        addon = name

    contract = TestBad()
    contract.test_manifest(kernel)  # the rest of it is fine
    contract.test_hooks(kernel)
    contract.test_namespaces(kernel)
    with pytest.raises(AssertionError, match=problem):
        contract.test_routes_require_permission(kernel)


def test_contract_catches_a_first_revision_without_depends_on(tmp_path: Path, make_kernel) -> None:
    name = unique("badrev")
    write_addon(
        tmp_path,
        name,
        depends='"crm_base"',
        views=f"""

@bp.route("/things")
@require("{name}.thing.read")
def things():
    return "things"
""",
        migration=f"""\
            revision = "{name}_0001"
            down_revision = None
            branch_labels = ("{name}",)
            depends_on = None  # should be ("crm_base",): its tables may point at crm_base's


            def upgrade():
                pass


            def downgrade():
                pass
            """,
    )
    kernel: Kernel = make_kernel(addon_paths=[tmp_path])
    check_manifest(kernel, name)
    with pytest.raises(AssertionError, match=r"must have depends_on.*missing: crm_base"):
        check_first_revision(kernel, name)


def test_contract_needs_the_addon_to_be_found(make_kernel) -> None:
    kernel: Kernel = make_kernel()
    with pytest.raises(AssertionError, match="was not found"):
        check_manifest(kernel, "no_such_addon")
