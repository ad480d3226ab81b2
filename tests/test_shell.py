"""The web shell (issue 4): menu, language switch, global search, dashboard widgets."""

from __future__ import annotations

from sqlalchemy import select

from addons.crm_base.models import Counterparty
from core.models import User
from core.testing.plugin import csrf_token

READ = ["crm_base.counterparty.read"]


def test_language_switch_before_and_after_sign_in(vitrylo_app, client, login):
    token = csrf_token(vitrylo_app, client)
    client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token})
    assert "Sign in" in client.get("/login").get_data(as_text=True)
    user = login(READ)
    assert "Вийти" in user.get("/").get_data(as_text=True)
    moved = user.post(
        "/language",
        data={"lang": "en", "next": "//evil.example/", "csrf_token": csrf_token(vitrylo_app, user)},
    )
    assert moved.location == "/"  # no open redirect
    assert "Sign out" in user.get("/").get_data(as_text=True)
    user.post("/language", data={"lang": "xx", "csrf_token": csrf_token(vitrylo_app, user)})
    assert "Sign out" in user.get("/").get_data(as_text=True)


def test_global_search_asks_the_addons_and_respects_scope(login, db_session):
    reader = login(READ)
    other = login(READ)
    reader_id = db_session.scalar(select(User.id).where(User.login == reader.user_login))
    db_session.add_all(
        [
            Counterparty(name="ТОВ «Ромашка-Пошук»", manager_id=reader_id),
            Counterparty(name="ТОВ «Ромашка 100%»", manager_id=None),
        ]
    )
    db_session.commit()
    page = reader.get("/search?q=ромашка").get_data(as_text=True)
    assert "ТОВ «Ромашка-Пошук»" in page and "100%" not in page  # own scope
    assert "ТОВ «Ромашка-Пошук»" not in other.get("/search?q=ромашка").get_data(as_text=True)
    assert reader.get("/search?q=%25").status_code == 200  # LIKE wildcards are literal
    assert "100%" not in reader.get("/search?q=%25").get_data(as_text=True)
    nobody = login([])
    assert "Ромашка" not in nobody.get("/search?q=ромашка").get_data(as_text=True)


def test_dashboard_shows_widgets_the_user_may_see(login):
    reader = login(READ)
    home = reader.get("/").get_data(as_text=True)
    assert "widget-crm_base-mine" in home
    assert 'href="/crm/counterparties"' in home and "&lt;a" not in home  # HTML, not text
    assert "widget-crm_base-mine" not in login([]).get("/").get_data(as_text=True)


def test_htmx_requests_are_csrf_protected(vitrylo_app, login):
    user = login(READ)
    refused = user.post("/crm/counterparties", data={"name": "X"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    accepted = user.post(
        "/crm/counterparties",
        data={"name": "X"},
        headers={"HX-Request": "true", "X-CSRFToken": csrf_token(vitrylo_app, user)},
    )
    assert accepted.status_code in (302, 403)  # past CSRF: the view's own answer
