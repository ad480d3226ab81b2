"""The ``vitrylo`` command: clear errors and non-zero exits on bad input (issue 2, item 9)."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from core.cli import main
from core.licensing import generate_keypair
from core.testing.databases import drop_database, fresh_database_url


@pytest.fixture
def run(tmp_path):
    url = fresh_database_url(tmp_path)
    env = {
        "VITRYLO_DATABASE_URL": url,
        "VITRYLO_INSTANCE_PATH": str(tmp_path / "instance"),
        "VITRYLO_ADDONS_PATH": "",
        "VITRYLO_TRUSTED_KEYS": "",
    }
    runner = CliRunner()

    def invoke(*args, input=None, **extra_env):
        return runner.invoke(
            main, list(args), env={**env, **extra_env}, input=input, catch_exceptions=False
        )

    yield invoke
    drop_database(url)


def test_init_demo_installs_addons_creates_admin_and_demo_licence(run):
    first = run("init", "--demo")
    assert first.exit_code == 0, first.output
    assert "Installed: crm_base" in first.output
    assert "demo licence" in first.output
    match = re.search(r"login 'admin', password '([^']+)'", first.output)
    assert match and len(match.group(1)) >= 10
    again = run("init", "--demo")
    assert again.exit_code == 0 and "password '" not in again.output
    assert "Admin account 'admin' exists" in again.output
    shown = run("license", "show")
    assert shown.exit_code == 0 and "[DEMO]" in shown.output and "addons: *" in shown.output
    listing = run("addons", "list")
    assert re.search(r"crm_base\s+\d+\.\d+\.\d+\s+free\s+bundled\s+installed", listing.output)


def test_addon_commands_refuse_bad_input(run):
    assert run("init").exit_code == 0
    missing = run("addons", "install", "no_such_addon")
    assert missing.exit_code == 1 and "'no_such_addon' is not available" in missing.output
    assert run("addons", "uninstall", "no_such_addon").exit_code == 1
    purge = run("addons", "purge", "crm_base")
    assert purge.exit_code == 1 and "uninstall before purging" in purge.output
    refused = run("addons", "uninstall", "crm_base")
    assert refused.exit_code == 1 and "depend(s) on crm_base" in refused.output
    assert "notifications" in refused.output.split("depend(s)")[0]
    assert run("addons", "uninstall", "crm_base", "--with-dependents").exit_code == 0
    purge_alone = run("addons", "purge", "crm_base", "--yes")
    assert purge_alone.exit_code == 1 and "notifications" in purge_alone.output
    assert run("addons", "purge", "notifications", "--yes").exit_code == 0
    assert run("addons", "purge", "planner", "--yes").exit_code == 0
    declined = run("addons", "purge", "crm_base", input="n\n")
    assert declined.exit_code == 1 and "crm_base_counterparty" in declined.output
    assert run("addons", "purge", "crm_base", "--yes").exit_code == 0
    assert run("db", "upgrade").exit_code == 0


def test_user_create_reads_the_password_from_stdin(run):
    assert run("init").exit_code == 0
    ok = run(
        "user",
        "create",
        "olena",
        "--name",
        "Олена",
        "--password-stdin",
        input="a-long-enough-password\n",
    )
    assert ok.exit_code == 0, ok.output
    again = run("user", "create", "olena", "--password-stdin", input="a-long-enough-password\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = run("user", "create", "taras", "--password-stdin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output


def test_licence_issue_install_show_round_trip(run, tmp_path):
    private, public = tmp_path / "v.pem", tmp_path / "v.pub"
    generate_keypair(private, public)
    out = tmp_path / "customer.lic"
    issued = run(
        "license",
        "issue",
        "--key",
        str(private),
        "--customer",
        "ТОВ «Клієнт»",
        "--addon",
        "sales",
        "--max-users",
        "3",
        "--expires",
        (date.today() + timedelta(days=10)).isoformat(),
        "-o",
        str(out),
    )
    assert issued.exit_code == 0, issued.output
    untrusted = run("license", "install", str(out))
    assert untrusted.exit_code == 1 and "unknown key" in untrusted.output
    assert run("license", "show").exit_code == 1
    installed = run("license", "install", str(out), VITRYLO_TRUSTED_KEYS=str(public))
    assert installed.exit_code == 0, installed.output
    shown = run("license", "show", VITRYLO_TRUSTED_KEYS=str(public))
    assert "customer: ТОВ «Клієнт»" in shown.output and "max users: 3" in shown.output
    out.write_text(out.read_text().replace("signature: ", "signature: AA"))
    tampered = run("license", "install", str(out), VITRYLO_TRUSTED_KEYS=str(public))
    assert tampered.exit_code == 1
    bad_date = run(
        "license",
        "issue",
        "--key",
        str(private),
        "--customer",
        "X",
        "--addon",
        "*",
        "--max-users",
        "0",
        "--expires",
        "tomorrow",
    )
    assert bad_date.exit_code == 2


def test_licence_max_users_is_enforced_on_user_create(run, tmp_path):
    private, public = tmp_path / "v.pem", tmp_path / "v.pub"
    generate_keypair(private, public)
    lic = tmp_path / "two.lic"
    run(
        "license",
        "issue",
        "--key",
        str(private),
        "--customer",
        "C",
        "--addon",
        "*",
        "--max-users",
        "2",
        "--expires",
        (date.today() + timedelta(days=5)).isoformat(),
        "-o",
        str(lic),
    )
    keys = {"VITRYLO_TRUSTED_KEYS": str(public)}
    assert run("license", "install", str(lic), **keys).exit_code == 0
    for login in ("one", "two"):
        assert (
            run(
                "user", "create", login, "--password-stdin", input="long-password-1\n", **keys
            ).exit_code
            == 0
        )
    third = run("user", "create", "three", "--password-stdin", input="long-password-1\n", **keys)
    assert third.exit_code == 1 and "allows 2 active users" in third.output
