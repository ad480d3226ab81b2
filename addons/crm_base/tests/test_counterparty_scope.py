"""Record scopes on counterparties (issue 3 rights, CL-1): own / team / all, no IDOR."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addons.crm_base.models import SUBJECT, Counterparty
from core.models import GroupScope, Team, User, UserGroup
from core.testing.plugin import csrf_token

READ = ["crm_base.counterparty.read", "crm_base.counterparty.create"]


def user_id(db_session, client):
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


def set_scope(db_session, client, scope):
    uid = user_id(db_session, client)
    group_id = db_session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == uid))
    db_session.add(GroupScope(group_id=group_id, subject=SUBJECT, scope=scope))
    db_session.commit()


@pytest.fixture
def records(db_session, login):
    """Olena and Petro each own one counterparty; Ivan is in Olena's team."""
    olena, petro, ivan = login(READ), login(READ), login(READ)
    team = Team(name="Київ")
    db_session.add(team)
    db_session.flush()
    for c in (olena, ivan):
        db_session.get(User, user_id(db_session, c)).team_id = team.id
    mine = Counterparty(name="ТОВ «Олена»", manager_id=user_id(db_session, olena))
    theirs = Counterparty(name="ТОВ «Петро»", manager_id=user_id(db_session, petro))
    db_session.add_all([mine, theirs])
    db_session.commit()
    return olena, petro, ivan, mine, theirs


def test_own_scope_hides_other_managers_records_also_by_guessed_id(records):
    olena, _petro, _ivan, mine, theirs = records
    page = olena.get("/crm/counterparties").get_data(as_text=True)
    assert "ТОВ «Олена»" in page and "ТОВ «Петро»" not in page
    assert olena.get(f"/crm/counterparties/{mine.id}").status_code == 200
    assert olena.get(f"/crm/counterparties/{theirs.id}").status_code == 404
    assert olena.get("/crm/counterparties/999999").status_code == 404


def test_team_scope_reaches_the_team_and_all_scope_everything(db_session, records):
    _olena, petro, ivan, mine, theirs = records
    assert ivan.get(f"/crm/counterparties/{mine.id}").status_code == 404
    set_scope(db_session, ivan, "team")
    assert ivan.get(f"/crm/counterparties/{mine.id}").status_code == 200
    assert ivan.get(f"/crm/counterparties/{theirs.id}").status_code == 404
    set_scope(db_session, petro, "all")
    assert petro.get(f"/crm/counterparties/{mine.id}").status_code == 200


def test_without_the_right_the_answer_is_403(login, records):
    _o, _p, _i, mine, _t = records
    stranger = login([])
    assert stranger.get("/crm/counterparties").status_code == 403
    assert stranger.get(f"/crm/counterparties/{mine.id}").status_code == 403


def test_script_in_a_name_is_shown_escaped_on_every_page(vitrylo_app, login):
    olena = login(READ)
    evil = '<script>alert("x")</script>'
    created = olena.post(
        "/crm/counterparties", data={"name": evil, "csrf_token": csrf_token(vitrylo_app, olena)}
    )
    assert created.status_code == 302
    for url in ("/crm/counterparties", created.location):
        page = olena.get(url).get_data(as_text=True)
        assert evil not in page
        assert "&lt;script&gt;" in page


def test_creating_leaves_an_audit_trail_on_the_card(vitrylo_app, login):
    olena = login(READ)
    created = olena.post(
        "/crm/counterparties",
        data={"name": "ТОВ «Нова»", "csrf_token": csrf_token(vitrylo_app, olena)},
    )
    card = olena.get(created.location).get_data(as_text=True)
    assert "create" in card and "ТОВ «Нова»" in card


def test_empty_name_is_refused_and_nothing_is_saved(vitrylo_app, login, db_session):
    olena = login(READ)
    before = db_session.query(Counterparty).count()
    olena.post(
        "/crm/counterparties", data={"name": "", "csrf_token": csrf_token(vitrylo_app, olena)}
    )
    assert db_session.query(Counterparty).count() == before


def test_the_chronology_hook_checks_the_user_it_is_asked_about(vitrylo_app, db_session, records):
    """The timeline hook answers for its ``user`` argument, not for whoever is signed in:
    asked about Petro (own scope), Olena's counterparty has no crm_base entries for him."""
    from flask_login import login_user

    from core.models import User as UserRow
    from core.security import LoginUser
    from core.web import kernel

    olena, petro, _ivan, mine, _theirs = records
    olena_row = db_session.scalar(select(UserRow).where(UserRow.login == olena.user_login))
    petro_row = db_session.scalar(select(UserRow).where(UserRow.login == petro.user_login))
    with vitrylo_app.test_request_context("/"):
        login_user(LoginUser(olena_row))
        hooks = kernel().hooks
        assert [e for e in hooks.timeline_entries(SUBJECT, mine.id, LoginUser(olena_row))]
        for_petro = hooks.timeline_entries(SUBJECT, mine.id, LoginUser(petro_row))
        assert [e for e in for_petro if e.addon == "crm_base"] == []
