"""The web app over the shared test database: sign-in, menus, rights (issue 2)."""

from core.testing.plugin import csrf_token


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_menu_shows_only_permitted_items(login):
    reader = login(["crm_base.counterparty.read"])
    page = reader.get("/").get_data(as_text=True)
    assert "/crm/counterparties" in page
    nobody = login([])
    assert "/crm/counterparties" not in nobody.get("/").get_data(as_text=True)
    assert nobody.get("/crm/counterparties").status_code == 403
    assert reader.get("/crm/counterparties").status_code == 200


def test_login_with_bad_password_is_refused(vitrylo_app, client, login):
    login([], login_name="alice")
    token = csrf_token(vitrylo_app, client)
    response = client.post(
        "/login", data={"login": "alice", "password": "wrong-password", "csrf_token": token}
    )
    assert "Неправильний логін або пароль" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_post_without_csrf_token_is_refused(client, login):
    login([], login_name="carol")
    response = client.post("/login", data={"login": "carol", "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_pages_speak_the_users_language(client, login):
    assert "Увійти" in client.get("/login", headers={"Accept-Language": "uk"}).get_data(
        as_text=True
    )
    assert "Sign in" in client.get("/login", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    reader = login(["crm_base.counterparty.read"])  # users default to Ukrainian
    page = reader.get("/crm/counterparties").get_data(as_text=True)
    assert "Контрагенти" in page  # an addon's own catalog
    assert "Вийти" in page  # the core's catalog, merged
