"""Administration of users, groups, rights and teams (AD-1, AD-2)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from core.addons import bump_counter
from core.app import create_app
from core.licenses import install_license
from core.licensing import generate_keypair, issue
from core.models import Group, GroupImplied, GroupPermission, Team, User, UserGroup, UserSession
from core.security import user_rights, verify_password
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token

GOOD_PASSWORD = "violet-river-stone-42"


def english(db, login_name):
    """Admins in these tests read English, so the messages checked are the source strings."""
    db.execute(update(User).where(User.login == login_name).values(language="en"))
    db.commit()


@pytest.fixture
def admin(login, db_session):
    client = login(superuser=True, login_name="root")
    english(db_session, "root")
    return client


def post(app, client, url, data=None):
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(app, client)})


def fresh(db, model, obj_id):
    db.expire_all()
    return db.get(model, obj_id)


def card_data(user, groups=(), **changes):
    data = {
        "login": user.login,
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "language": user.language,
        "team_id": str(user.team_id or 0),
        "version": str(user.version),
        "groups": [str(g) for g in groups],
    }
    if user.active:
        data["active"] = "y"
    if user.is_superuser:
        data["is_superuser"] = "y"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def new_user_data(**changes):
    data = {
        "login": "olena",
        "name": "Олена Петренко",
        "email": "olena@example.com",
        "phone": "+380 44 123-45-67",
        "language": "uk",
        "team_id": "0",
        "active": "y",
        "password": GOOD_PASSWORD,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def signed_in_client(app, login_name):
    client = app.test_client()
    response = client.post(
        "/login",
        data={
            "login": login_name,
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(app, client),
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    return client


def text(response):
    return response.get_data(as_text=True)


def listed(response):
    """The logins on a users list page, in order."""
    assert response.status_code == 200
    return re.findall(r'href="/admin/users/\d+">([^<]+)</a>', text(response))


def user_count(db):
    return db.scalar(select(func.count()).select_from(User))


# -- list -------------------------------------------------------------------------------


def test_list_searches_filters_and_pages_by_login(admin, db_session):
    db_session.add_all(
        User(login=f"zzlist-{i:03}", name=f"Name {i}", email=f"p{i}@firm.ua") for i in range(55)
    )
    db_session.add(User(login="zzlist-off", active=False))
    db_session.add(User(login="olena", name="Олена Петренко", email="OLENA@Example.com"))
    db_session.commit()

    first = listed(admin.get("/admin/users?q=zzlist"))
    assert first[0] == "zzlist-000" and first[-1] == "zzlist-049" and len(first) == 50
    page = text(admin.get("/admin/users?q=zzlist"))
    next_link = html.unescape(re.search(r'rel="next" href="([^"]+)"', page).group(1))
    assert "after=zzlist-049" in next_link and "q=zzlist" in next_link
    second = admin.get(next_link)
    assert listed(second) == [*(f"zzlist-{i:03}" for i in range(50, 55)), "zzlist-off"]
    assert 'rel="next"' not in text(second)

    assert listed(admin.get("/admin/users?q=zzlist&status=inactive")) == ["zzlist-off"]
    assert "zzlist-off" not in listed(admin.get("/admin/users?q=zzlist-0&status=active"))
    assert listed(admin.get("/admin/users?q=olena@example")) == ["olena"]  # e-mail, any case
    assert listed(admin.get("/admin/users?q=Петренко")) == ["olena"]  # name
    assert listed(admin.get("/admin/users?q=%25_nobody")) == []  # LIKE wildcards are escaped
    assert listed(admin.get("/admin/users?q=zzlist%00&after=%00&status=%00"))  # no 500


def test_list_costs_the_same_queries_for_few_or_many_rows(vitrylo_app, admin, db_session):
    group = Group(name="sellers")
    db_session.add(group)
    db_session.flush()
    for i in range(40):
        user = User(login=f"qc-many-{i:02}")
        db_session.add(user)
        db_session.flush()
        db_session.add(UserGroup(user_id=user.id, group_id=group.id))
    db_session.add_all([User(login="qc-few-1"), User(login="qc-few-2")])
    db_session.commit()
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.startswith("SELECT"):  # not the test's savepoints
            statements.append(statement)

    engine = vitrylo_app.extensions["vitrylo"].db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = text(admin.get("/admin/users?q=qc-many"))
        many = len(statements)
        statements.clear()
        admin.get("/admin/users?q=qc-few")
        few = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.count("sellers") == 40
    assert many == few, (many, few)


# -- create -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password": "short"}, "at least 10 characters"),
        ({"password": "1234567890"}, "too easy to guess"),
        ({"password": "olena-olena-olena"}, "too easy to guess"),
        ({"login": "taken"}, "already taken"),
        ({"login": "TAKEN"}, "already taken"),
        ({"login": "bad login!"}, "letters, digits"),
        ({"login": "x" * 81}, "80"),
        ({"login": ""}, "required"),
        ({"email": "not-an-email"}, "valid e-mail"),
        ({"phone": "call me"}, "digits"),
        ({"team_id": "abc"}, "choice"),
        ({"team_id": "999999"}, "choice"),
        ({"groups": ["999999"]}, "choice"),
        ({"language": "de"}, "choice"),
        ({"name": "a\x00" + "b" * 250}, "200"),
    ],
)
def test_create_with_bad_input_shows_why_and_creates_nothing(
    vitrylo_app, admin, db_session, changes, message
):
    create_user(db_session, "taken")
    before = user_count(db_session)
    response = post(vitrylo_app, admin, "/admin/users/new", new_user_data(**changes))
    assert response.status_code == 400
    assert message.lower() in text(response).lower()
    assert 'class="field-error"' in text(response)
    assert user_count(db_session) == before


def test_create_shows_every_problem_at_once(vitrylo_app, admin, db_session):
    create_user(db_session, "taken")
    response = post(
        vitrylo_app,
        admin,
        "/admin/users/new",
        new_user_data(login="taken", email="bad", password="short"),
    )
    page = text(response)
    assert response.status_code == 400
    assert "already taken" in page and "valid e-mail" in page and "at least 10" in page


def test_create_user_with_groups_and_team(vitrylo_app, admin, db_session):
    team = Team(name="Kyiv office")
    group = Group(name="managers")
    db_session.add_all([team, group])
    db_session.commit()
    assert admin.get("/admin/users/new").status_code == 200
    response = post(
        vitrylo_app,
        admin,
        "/admin/users/new",
        new_user_data(team_id=str(team.id), groups=[str(group.id)]),
    )
    assert response.status_code == 302
    user = db_session.scalar(select(User).where(User.login == "olena"))
    assert user.name == "Олена Петренко" and user.team_id == team.id and user.active
    assert not user.is_superuser and user.email == "olena@example.com"
    assert verify_password(user.password_hash, GOOD_PASSWORD)
    assert (
        db_session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == user.id))
        == group.id
    )
    card = text(admin.get(response.location))
    assert "Kyiv office" in card and "created" in card and "added to group managers" in card
    assert GOOD_PASSWORD not in card and user.password_hash not in card


def test_only_a_superuser_grants_superuser(vitrylo_app, login, db_session):
    boss = login(["core.user.read", "core.user.create", "core.user.update"], login_name="boss")
    english(db_session, "boss")
    response = post(vitrylo_app, boss, "/admin/users/new", new_user_data(is_superuser="y"))
    assert response.status_code == 400 and "Only a superuser" in text(response)
    assert post(vitrylo_app, boss, "/admin/users/new", new_user_data()).status_code == 302

    root = create_user(db_session, "root2", superuser=True)
    assert "Only a superuser may change" in text(boss.get(f"/admin/users/{root.id}"))
    for url in (
        f"/admin/users/{root.id}",
        f"/admin/users/{root.id}/password",
        f"/admin/users/{root.id}/sessions/end",
    ):
        data = {**card_data(root, active=None), "new_password": GOOD_PASSWORD}
        assert post(vitrylo_app, boss, url, data).status_code == 403
    assert fresh(db_session, User, root.id).active


# -- edit -------------------------------------------------------------------------------


def test_edit_saves_and_records_history(vitrylo_app, admin, db_session):
    user = create_user(db_session, "ivan")
    group = Group(name="support")
    db_session.add(group)
    db_session.commit()
    response = post(
        vitrylo_app,
        admin,
        f"/admin/users/{user.id}",
        card_data(user, groups=[group.id], name="Іван Франко", language="en"),
    )
    assert response.status_code == 302
    saved = fresh(db_session, User, user.id)
    assert (saved.name, saved.language, saved.version) == ("Іван Франко", "en", 2)
    card = text(admin.get(f"/admin/users/{user.id}"))
    assert "Ivan → Іван Франко" in card and "added to group support" in card

    # memberships are part of the card: changing only them moves the version too
    response = post(vitrylo_app, admin, f"/admin/users/{user.id}", card_data(saved, groups=[]))
    assert response.status_code == 302
    assert fresh(db_session, User, user.id).version == 3


def test_edit_with_a_stale_version_is_a_conflict_and_saves_nothing(vitrylo_app, admin, db_session):
    user = create_user(db_session, "petro")
    loaded = card_data(user)  # the form as the admin loaded it (version 1)
    other = post(vitrylo_app, admin, f"/admin/users/{user.id}", card_data(user, phone="111"))
    assert other.status_code == 302  # someone else saved meanwhile (version 2)

    response = post(
        vitrylo_app, admin, f"/admin/users/{user.id}", {**loaded, "name": "Typed by me"}
    )
    page = text(response)
    assert response.status_code == 409
    assert "Someone else changed this user" in page
    assert 'value="Typed by me"' in page  # what the admin typed is kept
    assert "111" in page  # and what is stored now is shown
    saved = fresh(db_session, User, user.id)
    assert (saved.name, saved.phone, saved.version) == ("Petro", "111", 2)

    again = post(vitrylo_app, admin, f"/admin/users/{user.id}", {**loaded, "version": "junk"})
    assert again.status_code == 409

    # having seen the conflict, the admin may save over it: the form now holds version 2
    assert 'name="version" type="hidden" value="2"' in page
    overwrite = post(
        vitrylo_app,
        admin,
        f"/admin/users/{user.id}",
        {**loaded, "name": "Typed by me", "version": "2"},
    )
    assert overwrite.status_code == 302
    assert fresh(db_session, User, user.id).name == "Typed by me"


def test_a_change_committed_between_check_and_save_is_a_conflict(vitrylo_app, admin, db_session):
    """Two admins pressing Save at once: the version check in the UPDATE catches the second."""
    user = create_user(db_session, "racy")
    raced = []

    def other_admin_saves_first(session, _ctx, _instances):
        if not raced:
            raced.append(True)
            session.connection().execute(
                update(User).where(User.id == user.id).values(phone="999", version=2)
            )

    event.listen(Session, "before_flush", other_admin_saves_first)
    try:
        response = post(vitrylo_app, admin, f"/admin/users/{user.id}", card_data(user, name="Me"))
    finally:
        event.remove(Session, "before_flush", other_admin_saves_first)
    assert response.status_code == 409 and "Someone else changed this user" in text(response)
    # the simulated rival wrote inside this request's transaction, so it was rolled back too
    assert fresh(db_session, User, user.id).name == "Racy"


def test_deactivating_signs_the_user_out_at_once(vitrylo_app, admin, db_session):
    user = create_user(db_session, "leaving")
    victim = signed_in_client(vitrylo_app, "leaving")
    response = post(vitrylo_app, admin, f"/admin/users/{user.id}", card_data(user, active=None))
    assert response.status_code == 302
    after = victim.get("/")
    assert after.status_code == 302 and "/login" in after.location
    assert not fresh(db_session, User, user.id).active
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        )
        == 0
    )


def test_end_sessions_signs_the_user_out(vitrylo_app, admin, db_session):
    user = create_user(db_session, "roaming")
    victim = signed_in_client(vitrylo_app, "roaming")
    assert "Open sessions: 1" in text(admin.get(f"/admin/users/{user.id}"))
    response = post(vitrylo_app, admin, f"/admin/users/{user.id}/sessions/end")
    assert response.status_code == 302
    assert "Sessions ended: 1" in text(admin.get(response.location))
    assert "/login" in victim.get("/").location
    assert fresh(db_session, User, user.id).active  # still active: may sign in again
    signed_in_client(vitrylo_app, "roaming")


def test_setting_a_password_checks_policy_and_ends_sessions(vitrylo_app, admin, db_session):
    user = create_user(db_session, "forgetful")
    victim = signed_in_client(vitrylo_app, "forgetful")
    url = f"/admin/users/{user.id}/password"
    bad = post(vitrylo_app, admin, url, {"new_password": "short"})
    assert bad.status_code == 400 and "at least 10 characters" in text(bad)
    assert victim.get("/").status_code == 200
    assert post(vitrylo_app, admin, url, {"new_password": GOOD_PASSWORD}).status_code == 302
    assert "/login" in victim.get("/").location
    assert verify_password(fresh(db_session, User, user.id).password_hash, GOOD_PASSWORD)


def test_an_admin_cannot_lock_themselves_out(vitrylo_app, admin, db_session):
    me = db_session.scalar(select(User).where(User.login == "root"))
    response = post(
        vitrylo_app, admin, f"/admin/users/{me.id}", card_data(me, active=None, is_superuser=None)
    )
    assert response.status_code == 400
    assert "own account" in text(response) and "own superuser flag" in text(response)
    assert admin.get("/admin/users").status_code == 200


def test_bad_input_on_edit_never_half_saves(vitrylo_app, admin, db_session):
    user = create_user(db_session, "steady")
    create_user(db_session, "other")
    for changes in (
        {"login": "other", "name": "Changed"},
        {"team_id": "x", "name": "Changed"},
        {"groups": ["2147483648"], "name": "Changed"},
        {"email": "@", "name": "C"},
    ):
        response = post(vitrylo_app, admin, f"/admin/users/{user.id}", card_data(user, **changes))
        assert response.status_code == 400, changes
    saved = fresh(db_session, User, user.id)
    assert (saved.login, saved.name, saved.version) == ("steady", "Steady", 1)


def test_a_reader_sees_the_card_but_cannot_change_it(vitrylo_app, login, db_session):
    reader = login(["core.user.read"])
    user = create_user(db_session, "someone")
    page = text(reader.get(f"/admin/users/{user.id}"))
    assert "someone" in page and "End sessions" not in page and "Set password" not in page
    response = post(vitrylo_app, reader, f"/admin/users/{user.id}", card_data(user, name="X"))
    assert response.status_code == 403
    assert fresh(db_session, User, user.id).name == "Someone"


# -- licence ----------------------------------------------------------------------------


def test_the_licence_caps_active_users(make_kernel, tmp_path):
    private, public = tmp_path / "vendor.pem", tmp_path / "vendor.pub"
    generate_keypair(private, public)
    kernel = make_kernel(trusted_keys=str(public))
    content = issue(
        private,
        customer="ТОВ «Тест»",
        addons=["*"],
        max_users=2,
        expires=date.today() + timedelta(days=30),
    )
    with kernel.db.transaction() as s:
        install_license(s, content, kernel.trusted_keys())
        bump_counter(s)
    with kernel.db.session_factory() as s:
        create_user(s, "boss", superuser=True)
        english(s, "boss")
    app = create_app(kernel.settings, kernel=kernel)
    client = signed_in_client(app, "boss")

    assert post(app, client, "/admin/users/new", new_user_data(login="second")).status_code == 302
    refused = post(app, client, "/admin/users/new", new_user_data(login="third"))
    assert refused.status_code == 400 and "allows 2 active users" in text(refused)
    spare = new_user_data(login="spare", active=None)
    assert post(app, client, "/admin/users/new", spare).status_code == 302
    with kernel.db.session_factory() as s:
        assert s.scalar(select(User.id).where(User.login == "third")) is None
        second = s.scalar(select(User).where(User.login == "second"))
        spare_user = s.scalar(select(User).where(User.login == "spare"))

    refused = post(app, client, f"/admin/users/{spare_user.id}", card_data(spare_user, active="y"))
    assert refused.status_code == 400 and "allows 2 active users" in text(refused)
    assert (
        post(app, client, f"/admin/users/{second.id}", card_data(second, active=None)).status_code
        == 302
    )
    assert (
        post(
            app, client, f"/admin/users/{spare_user.id}", card_data(spare_user, active="y")
        ).status_code
        == 302
    )
    with kernel.db.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(User).where(User.active)) == 2


# -- guards -----------------------------------------------------------------------------

GET_URLS = {
    "/admin/users": "core.user.read",
    "/admin/users/new": "core.user.create",
    "/admin/users/{user}": "core.user.read",
    "/admin/teams": "core.user.read",
    "/admin/groups": "core.group.read",
    "/admin/groups/new": "core.group.update",
    "/admin/groups/{group}": "core.group.read",
    "/admin/groups/{group}/rights": "core.group.read",
}
POST_URLS = {
    "/admin/users/new": "core.user.create",
    "/admin/users/{user}": "core.user.update",
    "/admin/users/{user}/password": "core.user.update",
    "/admin/users/{user}/sessions/end": "core.user.update",
    "/admin/teams": "core.user.update",
    "/admin/teams/{team}": "core.user.update",
    "/admin/groups/new": "core.group.update",
    "/admin/groups/{group}": "core.group.update",
    "/admin/groups/{group}/rights": "core.group.update",
}


@pytest.fixture
def targets(db_session):
    user = create_user(db_session, "target", ["crm_base.counterparty.read"])
    team = Team(name="target team")
    db_session.add(team)
    db_session.commit()
    group_id = db_session.scalar(select(UserGroup.group_id).where(UserGroup.user_id == user.id))
    return {"user": user.id, "team": team.id, "group": group_id}


def test_every_admin_url_needs_its_right(vitrylo_app, login, db_session, targets):
    nobody = login([])
    reader = login(["core.user.read"])
    for url, right in GET_URLS.items():
        assert nobody.get(url.format(**targets)).status_code == 403, url
        assert reader.get(url.format(**targets)).status_code == (
            200 if right == "core.user.read" else 403
        ), url
    data = {
        "name": "hacked",
        "login": "hacked",
        "new_password": GOOD_PASSWORD,
        "perm": "core.user.update",
    }
    for url in POST_URLS:
        for client in (nobody, reader):
            assert post(vitrylo_app, client, url.format(**targets), data).status_code == 403, url
    assert (
        db_session.scalar(select(func.count()).select_from(User).where(User.login == "hacked")) == 0
    )
    assert (
        db_session.scalar(
            select(func.count())
            .select_from(GroupPermission)
            .where(GroupPermission.permission == "core.user.update")
        )
        == 0
    )


def test_anonymous_is_sent_to_login(client, targets):
    for url in GET_URLS:
        response = client.get(url.format(**targets))
        assert response.status_code == 302 and "/login" in response.location


def test_unknown_ids_answer_404(vitrylo_app, admin):
    for url in (
        "/admin/users/999999",
        "/admin/users/99999999999999999999",
        "/admin/groups/999999",
        "/admin/groups/999999/rights",
        "/admin/users/0",
    ):
        assert admin.get(url).status_code == 404, url
    for url in (
        "/admin/users/999999",
        "/admin/users/999999/password",
        "/admin/users/999999/sessions/end",
        "/admin/teams/999999",
        "/admin/groups/999999",
        "/admin/groups/999999/rights",
    ):
        assert post(vitrylo_app, admin, url, {"name": "x"}).status_code == 404, url


def test_posts_without_a_csrf_token_are_refused(admin, db_session, targets):
    for url in POST_URLS:
        response = admin.post(url.format(**targets), data={"name": "no-token", "login": "nt"})
        assert response.status_code == 400, url
    assert fresh(db_session, User, targets["user"]).active
    assert (
        db_session.scalar(select(func.count()).select_from(Team).where(Team.name == "no-token"))
        == 0
    )


# -- groups and rights ------------------------------------------------------------------


def make_group(app, client, db, **data):
    response = post(app, client, "/admin/groups/new", {"description": "", **data})
    assert response.status_code == 302, text(response)
    return db.scalar(select(Group).where(Group.name == data["name"]))


def test_rights_matrix_saves_permissions_and_scopes(vitrylo_app, admin, login, db_session):
    member = login([], login_name="clerk")
    clerk = db_session.scalar(select(User).where(User.login == "clerk"))
    group = make_group(vitrylo_app, admin, db_session, name="clerks", members=[str(clerk.id)])

    page = text(admin.get(f"/admin/groups/{group.id}/rights"))
    assert "Core" in page and "Clients and contacts" in page  # addon labels
    assert "crm_base.counterparty" in page and 'value="core.user.read"' in page
    assert 'value="crm_base.counterparty.archive"' not in page  # no such permission
    assert "hooktest" not in page  # discovered but not installed

    url = f"/admin/groups/{group.id}/rights"
    data = {
        "perm": ["crm_base.counterparty.read", "crm_base.counterparty.update", "core.user.read"],
        "scope-crm_base.counterparty": "team",
    }
    assert post(vitrylo_app, admin, url, data).status_code == 302
    rights = user_rights(db_session, clerk.id)
    assert rights.permissions >= {"crm_base.counterparty.read", "core.user.read"}
    assert rights.scope("crm_base.counterparty") == "team" and rights.scope("core.user") == "own"
    assert member.get("/admin/users").status_code == 200  # the right works at once
    saved = text(admin.get(url))
    assert 'value="core.user.read" title="See users" aria-label="core.user.read" checked' in saved

    data = {"perm": ["core.user.read"], "scope-crm_base.counterparty": "all"}
    assert post(vitrylo_app, admin, url, data).status_code == 302
    rights = user_rights(db_session, clerk.id)
    assert rights.permissions == {"core.user.read"}
    assert rights.scope("crm_base.counterparty") == "all"

    for bad in ({"perm": ["core.nothing.read"]}, {"scope-core.user": "galaxy"}):
        response = post(vitrylo_app, admin, url, bad)
        assert response.status_code == 400 and "Nothing was saved" in text(response)
    assert user_rights(db_session, clerk.id).permissions == {"core.user.read"}


def test_implied_groups_give_their_rights(vitrylo_app, admin, db_session):
    user = create_user(db_session, "junior")
    base = make_group(vitrylo_app, admin, db_session, name="readers")
    post(
        vitrylo_app,
        admin,
        f"/admin/groups/{base.id}/rights",
        {"perm": ["crm_base.counterparty.read"]},
    )
    senior = make_group(
        vitrylo_app,
        admin,
        db_session,
        name="seniors",
        implied=[str(base.id)],
        members=[str(user.id)],
    )
    assert "crm_base.counterparty.read" in user_rights(db_session, user.id).permissions
    assert "readers" in text(admin.get("/admin/groups"))

    response = post(
        vitrylo_app,
        admin,
        f"/admin/groups/{base.id}",
        {"name": "readers", "implied": [str(base.id)]},
    )
    assert response.status_code == 400 and "cannot imply itself" in text(response)
    # a cycle is harmless
    response = post(
        vitrylo_app,
        admin,
        f"/admin/groups/{base.id}",
        {"name": "readers", "implied": [str(senior.id)]},
    )
    assert response.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(GroupImplied)) >= 2
    assert "crm_base.counterparty.read" in user_rights(db_session, user.id).permissions


def test_group_names_are_unique(vitrylo_app, admin, db_session):
    first = make_group(vitrylo_app, admin, db_session, name="Sales")
    response = post(vitrylo_app, admin, "/admin/groups/new", {"name": "sales"})
    assert response.status_code == 400 and "already exists" in text(response)
    make_group(vitrylo_app, admin, db_session, name="Service")
    response = post(vitrylo_app, admin, f"/admin/groups/{first.id}", {"name": "Service"})
    assert response.status_code == 400 and "already exists" in text(response)
    assert fresh(db_session, Group, first.id).name == "Sales"


def test_teams_are_created_and_renamed(vitrylo_app, admin, db_session):
    assert post(vitrylo_app, admin, "/admin/teams", {"name": "Lviv"}).status_code == 302
    assert post(vitrylo_app, admin, "/admin/teams", {"name": "Odesa"}).status_code == 302
    duplicate = post(vitrylo_app, admin, "/admin/teams", {"name": "lviv"})
    assert duplicate.status_code == 400 and "already exists" in text(duplicate)
    lviv = db_session.scalar(select(Team).where(Team.name == "Lviv"))
    clash = post(vitrylo_app, admin, f"/admin/teams/{lviv.id}", {"name": "Odesa"})
    assert clash.status_code == 400 and "already exists" in text(clash)
    assert (
        post(vitrylo_app, admin, f"/admin/teams/{lviv.id}", {"name": "Lviv-2"}).status_code == 302
    )
    assert fresh(db_session, Team, lviv.id).name == "Lviv-2"
    assert "Lviv-2" in text(admin.get("/admin/teams"))


# -- escaping ---------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"


def test_markup_typed_into_names_is_shown_escaped(vitrylo_app, admin, db_session):
    response = post(vitrylo_app, admin, "/admin/users/new", new_user_data(login="xss", name=SCRIPT))
    assert response.status_code == 302
    user = db_session.scalar(select(User).where(User.login == "xss"))
    group = make_group(
        vitrylo_app, admin, db_session, name=SCRIPT, description=SCRIPT, members=[str(user.id)]
    )
    post(vitrylo_app, admin, "/admin/teams", {"name": SCRIPT})
    pages = [
        "/admin/users?q=xss",
        f"/admin/users/{user.id}",
        "/admin/groups",
        f"/admin/groups/{group.id}",
        f"/admin/groups/{group.id}/rights",
        "/admin/teams",
    ]
    for url in pages:
        page = text(admin.get(url))
        assert "<script>" not in page, url
        assert "&lt;script&gt;" in page, url
