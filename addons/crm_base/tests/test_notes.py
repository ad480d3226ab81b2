"""Notes on a counterparty (CL-7): the card tab, add and delete, the chronology.

The small helpers at the top are shared by crm_base's other tab tests (requisites,
directions, employees) that import them.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from addons.crm_base.models import SUBJECT, Counterparty, Note
from core.models import User
from core.security import LoginUser
from core.testing.plugin import csrf_token

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
HUGE_ID = 2**40  # larger than any integer key: must be a 404, never a database error


def user_of(db: Session, client: FlaskClient) -> User:
    user = db.scalar(select(User).where(User.login == client.user_login))  # type: ignore[attr-defined]
    assert user is not None
    return user


def english(db: Session, client: FlaskClient) -> FlaskClient:
    """Show ``client``'s pages in English, so tests may assert on words."""
    db.execute(update(User).where(User.login == client.user_login).values(language="en"))  # type: ignore[attr-defined]
    db.commit()
    return client


def post(app: Flask, client: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    """A form POST with a valid CSRF token."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(app, client)})


def counterparty_of(db: Session, client: FlaskClient, name: str = "ТОВ «Ромашка»") -> int:
    """A counterparty managed by ``client``'s user; its id."""
    record = Counterparty(name=name, manager_id=user_of(db, client).id)
    db.add(record)
    db.commit()
    return record.id


def hook_entries(app: Flask, db: Session, client: FlaskClient, record_id: int) -> list[Any]:
    """The counterparty's chronology as the hook gives it to ``client``'s user."""
    user = user_of(db, client)
    with app.test_request_context("/"):
        login_user(LoginUser(user))
        return app.extensions["vitrylo"].hooks.timeline_entries(SUBJECT, record_id, user)


def tab_ids(app: Flask, db: Session, client: FlaskClient, record_id: int) -> list[str]:
    user = user_of(db, client)
    with app.test_request_context("/"):
        login_user(LoginUser(user))
        return [t.id for t in app.extensions["vitrylo"].hooks.card_tabs(SUBJECT, record_id, user)]


# -- tests ----------------------------------------------------------------------------


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    return english(db_session, login([READ], login_name="olena"))


def test_a_note_is_added_shown_in_the_tab_and_in_the_chronology(vitrylo_app, db_session, olena):
    record_id = counterparty_of(db_session, olena)
    added = post(
        vitrylo_app, olena, f"/crm/counterparties/{record_id}/notes", {"text": " Дзвонив "}
    )
    assert added.status_code == 303
    note = db_session.scalar(select(Note).where(Note.counterparty_id == record_id))
    assert note.text == "Дзвонив" and note.author_id == user_of(db_session, olena).id

    page = olena.get(added.location).get_data(as_text=True)
    assert "Дзвонив" in page and "<html" in page
    fragment = olena.get(added.location, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Дзвонив" in fragment and "<html" not in fragment

    entries = hook_entries(vitrylo_app, db_session, olena, record_id)
    notes = [e for e in entries if e.kind == "crm_base.note"]
    assert [e.body for e in notes] == ["Дзвонив"] and notes[0].title == "Olena wrote a note"
    card = olena.get(f"/crm/counterparties/{record_id}").get_data(as_text=True)
    assert 'data-kind="crm_base.note"' in card and "bi-sticky" in card
    assert "crm_base.notes" in tab_ids(vitrylo_app, db_session, olena, record_id)
    assert f"/crm/counterparties/{record_id}/notes" in card


def test_an_empty_note_is_refused_and_nothing_saved(vitrylo_app, db_session, olena):
    record_id = counterparty_of(db_session, olena)
    refused = post(vitrylo_app, olena, f"/crm/counterparties/{record_id}/notes", {"text": "  "})
    assert refused.status_code == 400
    assert "field-error" in refused.get_data(as_text=True)
    assert db_session.scalar(select(Note.id).where(Note.counterparty_id == record_id)) is None


def test_another_managers_counterparty_is_404_and_no_right_is_403(
    vitrylo_app, db_session, login, olena
):
    theirs = counterparty_of(db_session, login([READ]), "ТОВ «Чуже»")
    for url in (f"/crm/counterparties/{theirs}/notes", f"/crm/counterparties/{HUGE_ID}/notes"):
        assert olena.get(url).status_code == 404
        assert post(vitrylo_app, olena, url, {"text": "x"}).status_code == 404
    assert db_session.scalar(select(Note.id).where(Note.counterparty_id == theirs)) is None
    assert hook_entries(vitrylo_app, db_session, olena, theirs) == []
    assert "crm_base.notes" not in tab_ids(vitrylo_app, db_session, olena, theirs)
    mine = counterparty_of(db_session, olena)
    stranger = login([])
    assert stranger.get(f"/crm/counterparties/{mine}/notes").status_code == 403
    assert (
        post(vitrylo_app, stranger, f"/crm/counterparties/{mine}/notes", {"text": "x"}).status_code
        == 403
    )


def test_the_author_deletes_a_note_others_need_the_update_right(
    vitrylo_app, db_session, login, olena
):
    from core.models import GroupScope, UserGroup

    record_id = counterparty_of(db_session, olena)
    post(vitrylo_app, olena, f"/crm/counterparties/{record_id}/notes", {"text": "Перша"})
    note_id = db_session.scalar(select(Note.id).where(Note.counterparty_id == record_id))

    reader, editor = login([READ]), login([READ, UPDATE])
    for client in (reader, editor):  # both see every counterparty
        group = db_session.scalar(
            select(UserGroup.group_id).where(UserGroup.user_id == user_of(db_session, client).id)
        )
        db_session.add(GroupScope(group_id=group, subject=SUBJECT, scope="all"))
    db_session.commit()
    assert post(vitrylo_app, reader, f"/crm/notes/{note_id}/delete").status_code == 403
    assert post(vitrylo_app, olena, f"/crm/notes/{HUGE_ID}/delete").status_code == 404
    assert olena.post(f"/crm/notes/{note_id}/delete").status_code == 400  # no CSRF token
    assert db_session.get(Note, note_id) is not None
    assert post(vitrylo_app, editor, f"/crm/notes/{note_id}/delete").status_code == 303
    db_session.expire_all()
    assert db_session.get(Note, note_id) is None

    post(vitrylo_app, olena, f"/crm/counterparties/{record_id}/notes", {"text": "Друга"})
    own = db_session.scalar(select(Note.id).where(Note.counterparty_id == record_id))
    assert post(vitrylo_app, olena, f"/crm/notes/{own}/delete").status_code == 303
    assert [
        e
        for e in hook_entries(vitrylo_app, db_session, olena, record_id)
        if e.kind == "crm_base.note"
    ] == []


def test_another_managers_note_is_404_even_to_delete(vitrylo_app, db_session, login, olena):
    petro = login([READ, UPDATE])
    theirs = counterparty_of(db_session, petro, "ТОВ «Петро»")
    post(vitrylo_app, petro, f"/crm/counterparties/{theirs}/notes", {"text": "Секрет"})
    note_id = db_session.scalar(select(Note.id).where(Note.counterparty_id == theirs))
    assert post(vitrylo_app, olena, f"/crm/notes/{note_id}/delete").status_code == 404
    assert db_session.get(Note, note_id) is not None
