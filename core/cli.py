"""The ``vitrylo`` command: set up, serve, run the worker, manage addons, licences, users.

Every command answers bad input with a clear message and a non-zero exit status.
"""

from __future__ import annotations

import secrets
import sys
from datetime import date, timedelta
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from core.addons import AddonError, bump_counter
from core.config import ConfigError, Settings, write_instance_config
from core.depgraph import DependencyError
from core.facade import HookError
from core.kernel import Kernel
from core.licenses import active_users, install_license
from core.licensing import LicenseError, generate_keypair, issue, verify
from core.loader import DiscoveryError
from core.manifest import ManifestError
from core.migrate import MigrationError
from core.models import ADDON_INSTALLED, User
from core.plugins import AddonLoadError
from core.security import PasswordError, hash_password

DEMO_KEY = "demo-license-key"
# What can go wrong while starting the kernel, each with a message fit for the console.
KERNEL_ERRORS = (
    AddonLoadError,
    ArgumentError,
    DependencyError,
    DiscoveryError,
    HookError,
    LicenseError,
    ManifestError,
    MigrationError,
    NoSuchModuleError,
    OperationalError,
)


class Context:
    """Builds the kernel lazily, so ``--help`` and ``license issue`` need no database."""

    def __init__(self) -> None:
        self._kernel: Kernel | None = None

    @property
    def settings(self) -> Settings:
        try:
            return Settings.from_env()
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc

    @property
    def kernel(self) -> Kernel:
        if self._kernel is None:
            try:
                self._kernel = Kernel(self.settings)
                self._kernel.manager.init_core()
            except KERNEL_ERRORS as exc:
                raise click.ClickException(str(exc)) from exc
        return self._kernel


pass_ctx = click.make_pass_decorator(Context, ensure=True)


class VitryloGroup(click.Group):
    """Adds the CLI commands contributed by enabled addons (cli_commands hook)."""

    def _addon_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        settings = Settings.from_env()
        if not settings.instance_path.is_dir():  # not set up yet: only the core's commands
            return {}
        try:
            kernel = ctx.ensure_object(Context).kernel
            kernel.refresh()
            return {cmd.name or "": cmd for _, cmd in kernel.hooks.cli_commands()}
        except Exception:  # a broken database must not hide the core's own commands
            return {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._addon_commands(ctx)})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return super().get_command(ctx, name) or self._addon_commands(ctx).get(name)


def _fail_on(*errors: type[Exception]):  # type: ignore[no-untyped-def]
    """Turn the kernel's own errors into a clean message and exit status 1."""

    def decorate(func):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            try:
                return func(*args, **kwargs)
            except errors as exc:
                raise click.ClickException(str(exc)) from exc

        wrapper.__name__ = func.__name__
        wrapper.__doc__ = func.__doc__
        return wrapper

    return decorate


@click.group(cls=VitryloGroup)
def main() -> None:
    """Vitrylo CRM. Settings come from VITRYLO_* environment variables (see the README)."""


# -- set-up and running -----------------------------------------------------------------


@main.command()
@click.option("--demo", is_flag=True, help="Demo data and a local demo licence for every addon.")
@click.option("--admin", "admin_login", default="admin", show_default=True)
@pass_ctx
@_fail_on(AddonError, LicenseError, PasswordError)
def init(ctx: Context, demo: bool, admin_login: str) -> None:
    """Create the database, install the bundled addons and an admin account."""
    settings = ctx.settings
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    if demo:
        _demo_licence(ctx, settings)
    kernel = ctx.kernel
    kernel.manager.init_core()
    # The admin comes first: demo data can then give the admin a day's work of their own.
    _ensure_admin(kernel, admin_login)
    bundled = [n for n, i in kernel.available.items() if i.bundled]
    with kernel.db.session_factory() as session:
        state = kernel.license_state(session)
    wanted = [n for n in bundled if not kernel.available[n].manifest.commercial or state.covers(n)]
    done = kernel.manager.install(wanted, demo=demo)
    click.echo(f"Installed: {', '.join(done) or 'nothing new'}")


def _ensure_admin(kernel: Kernel, admin_login: str) -> None:
    """Create the superuser ``admin_login`` with a random password shown once."""
    with kernel.db.transaction() as session:
        if session.scalar(select(User).where(User.login == admin_login)) is None:
            password = secrets.token_urlsafe(12)
            session.add(
                User(
                    login=admin_login,
                    name="Administrator",
                    is_superuser=True,
                    password_hash=hash_password(password, admin_login),
                )
            )
            click.echo(
                f"Admin account: login '{admin_login}', password '{password}' "
                "(shown once: write it down)"
            )
        else:
            click.echo(
                f"Admin account '{admin_login}' exists (its password was shown when it "
                "was created)."
            )


def _demo_licence(ctx: Context, settings: Settings) -> None:
    """A local key trusted by this instance only, and a clearly marked demo licence."""
    private = settings.instance_path / f"{DEMO_KEY}.pem"
    public = settings.instance_path / f"{DEMO_KEY}.pub"
    if not private.exists():
        generate_keypair(private, public)
        write_instance_config(settings.instance_path, {"trusted_keys": [public.name]})
    kernel = ctx.kernel
    with kernel.db.transaction() as session:
        if kernel.license_state(session).state != "valid":
            content = issue(
                private,
                customer="DEMO — not for production use",
                addons=["*"],
                max_users=10,
                expires=date.today() + timedelta(days=365),
                demo=True,
            )
            install_license(session, content, kernel.trusted_keys())
            bump_counter(session)
            click.echo("Installed a demo licence for every addon (local key, this instance only).")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True, help="Debug mode (also VITRYLO_DEBUG=1).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, debug: bool) -> None:
    """Serve the web app (development server; use gunicorn core.wsgi:app in production)."""
    from core.app import create_app

    app = create_app(kernel=ctx.kernel, settings=ctx.kernel.settings)
    debug = debug or ctx.kernel.settings.debug
    click.echo(f"Vitrylo on http://{host}:{port}")
    app.run(host=host, port=port, debug=debug, use_reloader=False, threaded=True)


@main.command()
@click.option("--once", is_flag=True, help="Run every due job once and stop.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
def worker(once: bool, interval: float) -> None:
    """Run scheduled jobs of the enabled addons (and, later, the outbox)."""
    from core.app import create_app
    from core.worker import Worker

    Worker(create_app()).run(once=once, interval=interval)


# -- addons -----------------------------------------------------------------------------


@main.group()
def addons() -> None:
    """List, install, upgrade, uninstall and purge addons in this database."""


@addons.command("list")
@pass_ctx
def addons_list(ctx: Context) -> None:
    """Every addon found, with its state in this database."""
    kernel = ctx.kernel
    with kernel.db.session_factory() as session:
        rows = kernel.manager.rows(session)
        state = kernel.license_state(session)
    click.echo(f"{'name':<22} {'version':<9} {'kind':<11} {'source':<12} state")
    for name, info in sorted(kernel.available.items()):
        row = rows.get(name)
        status = "available" if row is None else row.state
        if row is not None and row.version != info.manifest.version:
            status += f" (db {row.version}, upgrade pending)"
        if info.manifest.commercial and row is not None and row.state == ADDON_INSTALLED:
            status += "" if state.covers(name) else " [read-only: not licensed]"
        click.echo(
            f"{name:<22} {info.manifest.version:<9} {info.manifest.license:<11} "
            f"{info.source:<12} {status}"
        )
    for name, row in sorted(rows.items()):
        if name not in kernel.available:
            click.echo(
                f"{name:<22} {row.version:<9} {'?':<11} {'missing':<12} {row.state} "
                "(its code is not available here)"
            )


@addons.command("install")
@click.argument("names", nargs=-1, required=True)
@click.option("--demo", is_flag=True, help="Load demo data too.")
@pass_ctx
@_fail_on(AddonError, MigrationError)
def addons_install(ctx: Context, names: tuple[str, ...], demo: bool) -> None:
    """Install addons with their dependencies."""
    done = ctx.kernel.manager.install(names, demo=demo)
    click.echo(f"Installed: {', '.join(done)}" if done else "Already installed.")


@addons.command("upgrade")
@click.argument("names", nargs=-1)
@pass_ctx
@_fail_on(AddonError, MigrationError)
def addons_upgrade(ctx: Context, names: tuple[str, ...]) -> None:
    """Run migrations of installed addons whose code is newer (all of them by default)."""
    done = ctx.kernel.manager.upgrade(names or None)
    click.echo(f"Upgraded: {', '.join(done)}" if done else "Everything is up to date.")


@addons.command("uninstall")
@click.argument("names", nargs=-1, required=True)
@click.option("--with-dependents", is_flag=True, help="Also uninstall addons that need these.")
@pass_ctx
@_fail_on(AddonError)
def addons_uninstall(ctx: Context, names: tuple[str, ...], with_dependents: bool) -> None:
    """Switch addons off; their data stays and comes back on reinstall."""
    done = ctx.kernel.manager.uninstall(names, with_dependents=with_dependents)
    click.echo(f"Uninstalled (data kept): {', '.join(done)}")


@addons.command("purge")
@click.argument("names", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Drop without asking.")
@pass_ctx
@_fail_on(AddonError, MigrationError)
def addons_purge(ctx: Context, names: tuple[str, ...], yes: bool) -> None:
    """Drop the data of uninstalled addons for good (shows what first)."""
    plan = ctx.kernel.manager.plan_purge(names)
    click.echo("This will drop:\n" + plan.describe())
    if not yes and not click.confirm("Drop this data for good?", default=False):
        raise click.ClickException("nothing dropped")
    ctx.kernel.manager.purge(names)
    click.echo(f"Purged: {', '.join(plan.addons)}")


# -- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_ctx
@_fail_on(AddonError, MigrationError)
def db_upgrade(ctx: Context) -> None:
    """Bring the core and every installed addon to its newest schema."""
    done = ctx.kernel.manager.upgrade()
    click.echo(f"Upgraded: {', '.join(done)}" if done else "Schema is up to date.")


def _add_maintenance_commands() -> None:
    """``vitrylo db backup|restore|check|optimize`` (AD-3), kept in their own module."""
    from core.maintenance_cli import COMMANDS

    for command in COMMANDS:
        db.add_command(command)


_add_maintenance_commands()


# -- licences ---------------------------------------------------------------------------


@main.group("license")
def license_group() -> None:
    """Issue (vendor), install and show licences."""


@license_group.command("keygen")
@click.argument("private_key", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("public_key", type=click.Path(dir_okay=False, path_type=Path))
@_fail_on(LicenseError)
def license_keygen(private_key: Path, public_key: Path) -> None:
    """Create an Ed25519 key pair for signing licences."""
    click.echo(f"Key id: {generate_keypair(private_key, public_key)}")


@license_group.command("issue")
@click.option(
    "--key",
    "key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The vendor's private key file.",
)
@click.option("--customer", required=True)
@click.option(
    "--addon",
    "addon_names",
    multiple=True,
    required=True,
    help="A covered addon; repeat it, or '*' for all.",
)
@click.option("--max-users", required=True, type=click.IntRange(min=1))
@click.option("--expires", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--demo", is_flag=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@_fail_on(LicenseError)
def license_issue(
    key: Path,
    customer: str,
    addon_names: tuple[str, ...],
    max_users: int,
    expires,
    demo: bool,
    output: Path | None,
) -> None:  # type: ignore[no-untyped-def]
    """Sign a licence file with the vendor's private key."""
    content = issue(
        key,
        customer=customer,
        addons=addon_names,
        max_users=max_users,
        expires=expires.date(),
        demo=demo,
    )
    if output is None:
        sys.stdout.write(content.decode("utf-8"))
    else:
        output.write_bytes(content)
        click.echo(f"Licence written to {output}")


@license_group.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@_fail_on(LicenseError)
def license_install(ctx: Context, file: Path) -> None:
    """Verify a licence file and make it this database's licence."""
    kernel = ctx.kernel
    with kernel.db.transaction() as session:
        lic = install_license(session, file.read_bytes(), kernel.trusted_keys())
        bump_counter(session)
    click.echo(f"Licence {lic.id} for {lic.customer} installed, valid until {lic.expires}.")


@license_group.command("show")
@pass_ctx
def license_show(ctx: Context) -> None:
    """The current licence and what it covers."""
    kernel = ctx.kernel
    with kernel.db.session_factory() as session:
        state = kernel.license_state(session)
    click.echo(f"state: {state.state}" + (f" ({state.message})" if state.message else ""))
    lic = state.license
    if lic is not None:
        click.echo(f"customer: {lic.customer}{'  [DEMO]' if lic.demo else ''}")
        click.echo(f"addons: {', '.join(lic.addons)}")
        click.echo(f"max users: {lic.max_users}")
        click.echo(f"expires: {lic.expires.isoformat()}")
    if state.state != "valid":
        sys.exit(1)


@license_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@_fail_on(LicenseError)
def license_verify(ctx: Context, file: Path) -> None:
    """Check a licence file against the trusted keys without installing it."""
    lic = verify(file.read_bytes(), ctx.kernel.trusted_keys())
    click.echo(f"valid signature: {lic.customer}, expires {lic.expires}")


# -- users ------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.argument("login")
@click.option("--name", default="")
@click.option("--email", default="")
@click.option("--superuser", is_flag=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_ctx
@_fail_on(PasswordError)
def user_create(
    ctx: Context, login: str, name: str, email: str, superuser: bool, password_stdin: bool
) -> None:
    """Create a user; without --password-stdin the password is asked for."""
    if not login.strip() or len(login) > 80:
        raise click.ClickException("the login must have 1 to 80 characters")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    kernel = ctx.kernel
    kernel.refresh()
    with kernel.db.transaction() as session:
        if session.scalar(select(User).where(User.login == login)) is not None:
            raise click.ClickException(f"a user with login '{login}' already exists")
        limit = kernel.snapshot.license.max_users
        if limit is not None and active_users(session) >= limit:
            raise click.ClickException(f"the licence allows {limit} active users")
        session.add(
            User(
                login=login,
                name=name,
                email=email,
                is_superuser=superuser,
                password_hash=hash_password(password, login),
            )
        )
    click.echo(f"User '{login}' created.")


# -- addon authors: `vitrylo addon new NAME` (core/scaffold.py) --------------------------

from core.scaffold import addon as _addon_authoring  # noqa: E402

main.add_command(_addon_authoring)
