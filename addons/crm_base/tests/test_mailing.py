"""Mailing lists (CL-8): a saved list filter, members re-run in the viewer's scope."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from addons.crm_base.mailing import mailing_list_members
from addons.crm_base.models import Channel, Counterparty, MailingList, Person
from core.models import User
from core.security import LoginUser
from core.testing.plugin import csrf_token

LISTS = [f"crm_base.mailing_list.{a}" for a in ("read", "create", "update", "delete")]
RIGHTS = [*LISTS, "crm_base.counterparty.read", "crm_base.person.read"]


def user_of(db_session, client):
    return db_session.scalars(select(User).where(User.login == client.user_login)).one()


@pytest.fixture
def data(db_session, login):
    """Olena manages two clients and a prospect; Petro one client; persons likewise."""
    olena, petro = login(RIGHTS), login(RIGHTS)
    me, other = user_of(db_session, olena).id, user_of(db_session, petro).id
    rows = {
        "c1": Counterparty(name="Альфа клієнт", relation="client", manager_id=me),
        "c2": Counterparty(name="Бета клієнт", relation="client", manager_id=me),
        "p1": Counterparty(name="Гамма потенційний", relation="prospect", manager_id=me),
        "c3": Counterparty(name="Дельта клієнт", relation="client", manager_id=other),
        "x1": Person(last_name="Коваль", full_name="Коваль Іван", manager_id=me),
        "x2": Person(last_name="Мельник", full_name="Мельник Ольга", manager_id=other),
    }
    db_session.add_all(rows.values())
    db_session.flush()
    db_session.add_all(
        [
            Channel(counterparty_id=rows["c1"].id, kind="email", value="second@alfa.ua"),
            Channel(
                counterparty_id=rows["c1"].id, kind="email", value="main@alfa.ua", is_primary=True
            ),
            Channel(counterparty_id=rows["c1"].id, kind="phone", value="+380441234567"),
            Channel(person_id=rows["x1"].id, kind="email", value="koval@ex.ua"),
        ]
    )
    db_session.commit()
    return olena, petro, rows


def save(app, client, name="Клієнти", subject="counterparty", query="relation=client", **extra):
    return client.post(
        "/crm/mailing-lists/new",
        data={
            "csrf_token": csrf_token(app, client),
            "name": name,
            "subject": subject,
            "query": query,
            **extra,
        },
    )


def saved(db_session, response):
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return db_session.get(MailingList, int(response.location.rsplit("/", 1)[-1]))


def test_save_the_filter_and_see_the_members_in_scope(vitrylo_app, db_session, data):
    olena, petro, _rows = data
    form = olena.get(
        "/crm/mailing-lists/new?subject=counterparty&query=relation%3Dclient%26sort%3D-created"
    )
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "Альфа клієнт" in html and "Гамма" not in html
    row = saved(
        db_session, save(vitrylo_app, olena, query="relation=client&sort=-created&cursor=x")
    )
    assert (row.name, row.subject, row.query) == ("Клієнти", "counterparty", "relation=client")
    assert row.owner_id == user_of(db_session, olena).id
    page = olena.get(f"/crm/mailing-lists/{row.id}").get_data(as_text=True)
    assert "Альфа клієнт" in page and "Бета клієнт" in page
    assert "Дельта" not in page and "Гамма" not in page
    assert "main@alfa.ua, second@alfa.ua" in page  # the main e-mail first
    theirs = petro.get(f"/crm/mailing-lists/{row.id}").get_data(as_text=True)
    assert "Дельта клієнт" in theirs and "Альфа" not in theirs  # the viewer's scope
    listing = olena.get("/crm/mailing-lists").get_data(as_text=True)
    assert "Клієнти" in listing


def test_the_filter_comes_from_the_list_page_the_user_was_on(vitrylo_app, db_session, data):
    olena, _petro, _rows = data
    form = olena.get(
        "/crm/mailing-lists/new?subject=counterparty&query=relation%3Dprospect",
        headers={
            "Referer": "http://localhost/crm/counterparties?relation=client&q=%D0%91%D0%B5%D1%82%D0%B0"
        },
    )
    html = form.get_data(as_text=True)
    assert "Бета клієнт" in html and "Альфа" not in html and "Гамма" not in html
    assert (
        'name="query" type="hidden" value="q=%D0%91%D0%B5%D1%82%D0%B0&amp;relation=client"' in html
    )


def test_mine_means_the_viewer_and_members_for_another_addon(vitrylo_app, db_session, data):
    olena, petro, rows = data
    row = saved(db_session, save(vitrylo_app, olena, name="Мої", query="whose=mine"))
    as_petro = petro.get(f"/crm/mailing-lists/{row.id}").get_data(as_text=True)
    assert "Дельта клієнт" in as_petro and "Альфа" not in as_petro
    olena_user = LoginUser(user_of(db_session, olena))
    with vitrylo_app.app_context():
        members = list(mailing_list_members(db_session, row.id, olena_user))
        assert [m[1] for m in members] == ["Альфа клієнт", "Бета клієнт", "Гамма потенційний"]
        assert members[0] == (rows["c1"].id, "Альфа клієнт", ["main@alfa.ua", "second@alfa.ua"])
        assert members[1][2] == []
        petro_user = LoginUser(user_of(db_session, petro))
        assert [m[1] for m in mailing_list_members(db_session, row.id, petro_user)] == [
            "Дельта клієнт"
        ]
        assert list(mailing_list_members(db_session, 999999, olena_user)) == []


def test_a_list_of_contact_persons(vitrylo_app, db_session, data):
    olena, petro, rows = data
    row = saved(db_session, save(vitrylo_app, olena, name="Особи", subject="person", query=""))
    page = olena.get(f"/crm/mailing-lists/{row.id}").get_data(as_text=True)
    assert "Коваль Іван" in page and "koval@ex.ua" in page and "Мельник" not in page
    with vitrylo_app.app_context():
        members = list(
            mailing_list_members(db_session, row.id, LoginUser(user_of(db_session, petro)))
        )
    assert members == [(rows["x2"].id, "Мельник Ольга", [])]


def test_members_are_paged(vitrylo_app, db_session, data, monkeypatch):
    import addons.crm_base.mailing as mailing

    olena, _petro, _rows = data
    monkeypatch.setattr(mailing, "PAGE_SIZE", 2)
    row = saved(db_session, save(vitrylo_app, olena, name="Усі мої", query=""))
    first = olena.get(f"/crm/mailing-lists/{row.id}").get_data(as_text=True)
    assert "Альфа" in first and "Бета" in first and "Гамма" not in first
    assert "crm-mailing-next" in first
    after = re.search(r'href="([^"]*after=\d+)"', first).group(1).replace("&amp;", "&")
    second = olena.get(after).get_data(as_text=True)
    assert "Гамма потенційний" in second and "Альфа" not in second


def test_rename_and_delete(vitrylo_app, db_session, data):
    olena, _petro, _rows = data
    row = saved(db_session, save(vitrylo_app, olena))
    token = csrf_token(vitrylo_app, olena)
    renamed = olena.post(
        f"/crm/mailing-lists/{row.id}/rename", data={"csrf_token": token, "name": "Нова назва"}
    )
    assert renamed.status_code == 303
    db_session.refresh(row)
    assert row.name == "Нова назва"
    empty = olena.post(
        f"/crm/mailing-lists/{row.id}/rename", data={"csrf_token": token, "name": " "}
    )
    assert empty.status_code == 303
    db_session.refresh(row)
    assert row.name == "Нова назва"
    assert olena.post(f"/crm/mailing-lists/{row.id}/delete", data={}).status_code == 400
    deleted = olena.post(f"/crm/mailing-lists/{row.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303
    db_session.expire_all()
    assert db_session.get(MailingList, row.id) is None


def test_bad_input_rights_and_guessed_ids(vitrylo_app, db_session, data, login):
    olena, _petro, _rows = data
    assert save(vitrylo_app, olena, name="").status_code == 400
    assert save(vitrylo_app, olena, name="я" * 201).status_code == 400
    assert save(vitrylo_app, olena, subject="nonsense").status_code == 404
    assert olena.get("/crm/mailing-lists/new?subject=nonsense").status_code == 404
    row = saved(db_session, save(vitrylo_app, olena, query="relation=nonsense&whose=evil&x=1"))
    assert row.query == ""  # values the list does not know fall away
    grouped = saved(db_session, save(vitrylo_app, olena, query="group=5&relation=client"))
    assert grouped.query == "group=5&relation=client"  # the list's group filter is kept
    reader = login(["crm_base.mailing_list.read"])  # may not read counterparties
    assert reader.get(f"/crm/mailing-lists/{row.id}").status_code == 403
    assert reader.get("/crm/mailing-lists").status_code == 200
    assert save(vitrylo_app, reader).status_code == 403
    nobody = login(["crm_base.counterparty.read"])
    assert nobody.get("/crm/mailing-lists").status_code == 403
    assert nobody.get(f"/crm/mailing-lists/{row.id}").status_code == 403
    token = csrf_token(vitrylo_app, reader)
    assert (
        reader.post(f"/crm/mailing-lists/{row.id}/delete", data={"csrf_token": token}).status_code
        == 403
    )
    assert (
        reader.post(
            f"/crm/mailing-lists/{row.id}/rename", data={"csrf_token": token, "name": "x"}
        ).status_code
        == 403
    )
    for url in ("/crm/mailing-lists/999999", "/crm/mailing-lists/99999999999"):
        assert olena.get(url).status_code == 404
    with vitrylo_app.app_context():
        assert (
            list(mailing_list_members(db_session, row.id, LoginUser(user_of(db_session, nobody))))
            == []
        )


def test_the_lists_offer_saving_their_filter_as_a_mailing_list(login):
    allowed = login(
        ["crm_base.counterparty.read", "crm_base.person.read", "crm_base.mailing_list.create"]
    )
    for url in ("/crm/counterparties?q=abc", "/crm/persons?q=abc"):
        assert "crm-save-mailing" in allowed.get(url).get_data(as_text=True)
    reader = login(["crm_base.counterparty.read"])
    assert "crm-save-mailing" not in reader.get("/crm/counterparties").get_data(as_text=True)
