"""Commercial addons need a licence; a bad licence makes them read-only, never deletes data
(issue 2, item 8)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text, update

from core.addons import AddonError, bump_counter
from core.app import create_app
from core.licenses import install_license, license_state
from core.licensing import LicenseError, generate_keypair, issue
from core.models import LicenseRecord
from core.testing.plugin import create_user, csrf_token
from tests.addon_factory import unique, write_addon


@pytest.fixture
def vendor(tmp_path):
    private, public = tmp_path / "vendor.pem", tmp_path / "vendor.pub"
    generate_keypair(private, public)
    return private, public


@pytest.fixture
def setup(make_kernel, tmp_path, vendor):
    root = tmp_path / "addons"
    root.mkdir()
    paid = unique("paid")
    write_addon(root, paid, license="commercial")
    kernel = make_kernel(addon_paths=[root], trusted_keys=str(vendor[1]))
    return kernel, paid, vendor[0]


def licence(private, addons, **kw):
    return issue(
        private,
        customer="ТОВ «Тест»",
        addons=addons,
        max_users=5,
        expires=kw.pop("expires", date.today() + timedelta(days=30)),
        **kw,
    )


def put_licence(kernel, content):
    with kernel.db.transaction() as s:
        install_license(s, content, kernel.trusted_keys())
        bump_counter(s)


def test_commercial_addon_is_refused_without_a_covering_licence(setup):
    kernel, paid, private = setup
    with pytest.raises(AddonError, match=f"{paid} need a licence.*no licence installed"):
        kernel.manager.install([paid])
    put_licence(kernel, licence(private, ["someother"]))
    with pytest.raises(AddonError, match=f"commercial addon\\(s\\) {paid}"):
        kernel.manager.install([paid])
    put_licence(kernel, licence(private, [paid]))
    assert kernel.manager.install([paid]) == [paid]


def test_licence_from_an_untrusted_key_is_refused(setup, tmp_path):
    kernel, _paid, _ = setup
    other_private = tmp_path / "other.pem"
    generate_keypair(other_private, tmp_path / "other.pub")
    with pytest.raises(LicenseError, match="unknown key"):
        put_licence(kernel, licence(other_private, ["*"]))


def test_expired_licence_cannot_be_installed_and_is_reported(setup):
    kernel, paid, private = setup
    past = date.today() - timedelta(days=1)
    old = licence(private, ["*"], expires=past, issued=past - timedelta(days=30))
    with pytest.raises(LicenseError, match="expired"):
        put_licence(kernel, old)
    put_licence(kernel, licence(private, ["*"]))
    with kernel.db.session_factory() as s:
        later = license_state(s, kernel.trusted_keys(), today=date.today() + timedelta(days=31))
    assert later.state == "expired" and not later.covers(paid)


def test_tampered_licence_makes_the_addon_read_only_and_keeps_its_data(setup):
    kernel, paid, private = setup
    put_licence(kernel, licence(private, ["*"]))
    kernel.manager.install([paid])
    with kernel.db.transaction() as s:
        s.execute(text(f"INSERT INTO {paid}_item (title) VALUES ('precious')"))
        create_user(s, "manager", [f"{paid}.item.read"])
    app = create_app(kernel.settings, kernel=kernel)
    client = app.test_client()
    token = csrf_token(app, client)
    client.post(
        "/login",
        data={"login": "manager", "password": "correct-horse-battery", "csrf_token": token},
    )
    token = csrf_token(app, client)  # signing in starts a new session
    assert client.post(f"/{paid}/items", data={"csrf_token": token}).status_code == 200

    with kernel.db.transaction() as s:  # someone edits the stored licence by hand
        content = s.scalar(
            LicenseRecord.__table__.select().with_only_columns(LicenseRecord.content)
        )
        s.execute(update(LicenseRecord).values(content=content.replace("key:", "key: x")))
        bump_counter(s)

    page = client.get(f"/{paid}/items")
    assert page.status_code == 200
    home = client.get("/").get_data(as_text=True)
    assert "Лише для читання, доки ліцензія їх не покриває" in home
    refused = client.post(f"/{paid}/items", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "лише для читання" in refused.get_data(as_text=True)
    assert kernel.snapshot.read_only == frozenset({paid})
    with kernel.db.session_factory() as s:
        assert s.execute(text(f"SELECT title FROM {paid}_item")).scalar_one() == "precious"
