"""The form view (core.ui.formview) through crm_base's counterparty card: field errors,
optimistic locking (a stale form and a race both save nothing), delete, rights and scope."""

from __future__ import annotations

import io
import os
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

import addons.crm_base.card  # noqa: F401 - its routes are on crm_base's blueprint
from addons.crm_base.models import SUBJECT, Counterparty
from core.models import Attachment, AuditEntry, GroupScope, User, UserGroup
from core.testing.plugin import csrf_token

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
DELETE = "crm_base.counterparty.delete"


class FormReader(HTMLParser):
    """The values a browser would post for the form whose action ends with ``action``."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.select = action, False, ""
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action", "").endswith(self.action)
        elif self.inside and tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value", "")
        elif self.inside and tag == "select":
            self.select = a.get("name", "")
            self.values.setdefault(self.select, "")
        elif self.inside and tag == "option" and self.select and "selected" in a:
            self.values[self.select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = ""


def form_values(html: str, action: str) -> dict[str, str]:
    reader = FormReader(action)
    reader.feed(html)
    return reader.values


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def uid(db: Session, client) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(User.id).where(User.login == client.user_login))  # type: ignore[return-value]


def english(db: Session, client) -> None:  # type: ignore[no-untyped-def]
    db.execute(update(User).where(User.login == client.user_login).values(language="en"))
    db.commit()


def see_all(db: Session, client) -> None:  # type: ignore[no-untyped-def]
    """The client's group reaches every counterparty (record scope "all")."""
    group_id = db.scalar(select(UserGroup.group_id).where(UserGroup.user_id == uid(db, client)))
    db.add(GroupScope(group_id=group_id, subject=SUBJECT, scope="all"))
    db.commit()


def fresh(db: Session, record_id: int) -> Counterparty | None:
    db.expire_all()
    return db.get(Counterparty, record_id)


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    client = login([READ, UPDATE, DELETE])
    english(db_session, client)
    return client


@pytest.fixture
def record(db_session, olena) -> Counterparty:  # type: ignore[no-untyped-def]
    row = Counterparty(name="ТОВ «Ромашка»", manager_id=uid(db_session, olena))
    db_session.add(row)
    db_session.commit()
    return row


def edit_url(record: Counterparty) -> str:
    return f"/crm/counterparties/{record.id}/edit"


def load(client, record: Counterparty) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Open the card as a browser would: the form's values, hidden fields included."""
    page = client.get(edit_url(record))
    assert page.status_code == 200
    return form_values(text(page), edit_url(record))


def test_the_form_shows_the_record_with_its_version(olena, record):
    values = load(olena, record)
    assert values["name"] == "ТОВ «Ромашка»"
    assert values["version"] == "1"
    assert values["manager_id"] == str(record.manager_id)
    assert values["csrf_token"] and values["original"]


def test_field_errors_are_shown_next_to_each_field_and_nothing_is_saved(olena, record, db_session):
    values = load(olena, record)
    response = olena.post(edit_url(record), data={**values, "name": "  ", "manager_id": "abc"})
    page = text(response)
    assert response.status_code == 400
    assert "Nothing was saved" in page
    errors = re.findall(r'<div class="field has-error">.*?</div>\s*</div>', page, re.S)
    assert any('name="name"' in e and "This field is required." in e for e in errors)
    assert any('name="manager_id"' in e and "field-error" in e for e in errors)
    saved = fresh(db_session, record.id)
    assert saved is not None and (saved.name, saved.version) == ("ТОВ «Ромашка»", 1)


def test_a_save_redirects_to_the_card_and_is_in_the_history(olena, record, db_session):
    values = load(olena, record)
    response = olena.post(edit_url(record), data={**values, "name": "ТОВ «Волошка»"})
    assert response.status_code == 303
    assert response.location.endswith(f"/crm/counterparties/{record.id}")
    saved = fresh(db_session, record.id)
    assert saved is not None and (saved.name, saved.version) == ("ТОВ «Волошка»", 2)
    card = text(olena.get(edit_url(record)))
    assert "Saved." in card
    assert "ТОВ «Ромашка» → ТОВ «Волошка»" in card  # the history tab (core/_history.html)


def test_a_stale_form_saves_nothing_and_keeps_what_was_typed(olena, record, db_session, login):
    see_all(db_session, olena)
    values = load(olena, record)  # Olena opens the card (version 1)
    petro = login([READ], login_name="petro")
    record.manager_id = uid(db_session, petro)  # meanwhile someone hands it to Petro
    db_session.commit()

    response = olena.post(edit_url(record), data={**values, "name": "Typed by Olena"})
    page = text(response)
    assert response.status_code == 409
    assert "Someone else saved this record while you were editing it." in page
    saved = fresh(db_session, record.id)
    assert saved is not None and (saved.name, saved.version) == ("ТОВ «Ромашка»", 2)

    again = form_values(page, edit_url(record))
    assert again["name"] == "Typed by Olena"  # what she typed is kept
    assert again["version"] == "2"  # and the form now carries the new version
    # the manager she never touched takes the stored value: saving again will not undo it
    assert again["manager_id"] == str(uid(db_session, petro))
    conflict = page[page.index("conflict-table") : page.index("</table>")]
    assert "Petro" in conflict and "changed by them" in conflict

    response = olena.post(edit_url(record), data=again)
    assert response.status_code == 303
    saved = fresh(db_session, record.id)
    assert saved is not None
    assert (saved.name, saved.manager_id, saved.version) == (
        "Typed by Olena",
        uid(db_session, petro),
        3,
    )


def test_a_garbled_version_is_a_conflict_too(olena, record, db_session):
    values = load(olena, record)
    response = olena.post(edit_url(record), data={**values, "version": "junk", "name": "X"})
    assert response.status_code == 409
    assert fresh(db_session, record.id).name == "ТОВ «Ромашка»"  # type: ignore[union-attr]


def test_two_saves_passing_the_check_at_once_the_second_is_a_conflict(olena, record, db_session):
    """The rival commits between the version check and the UPDATE: StaleDataError."""
    values = load(olena, record)
    raced = []

    def rival_saves_first(session, _ctx, _instances):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(True)
            session.connection().execute(
                update(Counterparty)
                .where(Counterparty.id == record.id)
                .values(name="Rival", version=2)
            )

    event.listen(Session, "before_flush", rival_saves_first)
    try:
        response = olena.post(edit_url(record), data={**values, "name": "Mine"})
    finally:
        event.remove(Session, "before_flush", rival_saves_first)
    assert raced
    assert response.status_code == 409
    assert "Someone else saved this record" in text(response)
    assert form_values(text(response), edit_url(record))["name"] == "Mine"
    # the rival wrote inside this request's transaction, so it was rolled back with it
    assert fresh(db_session, record.id).name == "ТОВ «Ромашка»"  # type: ignore[union-attr]


def test_handing_the_record_over_leaves_the_users_scope(olena, record, db_session, login):
    petro = login([READ])
    values = load(olena, record)
    response = olena.post(
        edit_url(record), data={**values, "manager_id": str(uid(db_session, petro))}
    )
    assert response.status_code == 303
    assert response.location.endswith("/crm/counterparties")
    assert olena.get(edit_url(record)).status_code == 404


def test_delete_asks_first_and_needs_the_right(olena, record, db_session, login, vitrylo_app):
    page = text(olena.get(edit_url(record)))
    assert 'data-confirm="Delete ТОВ «Ромашка»? This cannot be undone."' in page
    assert "onclick" not in page and "<script>" not in page
    delete_url = f"/crm/counterparties/{record.id}/delete"
    assert olena.get(delete_url).status_code == 405  # POST only

    editor = login([READ, UPDATE])
    db_session.execute(
        update(Counterparty)
        .where(Counterparty.id == record.id)
        .values(manager_id=uid(db_session, editor))
    )
    db_session.commit()
    assert 'action="' + delete_url not in text(editor.get(edit_url(record)))
    refused = editor.post(delete_url, data={"csrf_token": csrf_token(vitrylo_app, editor)})
    assert refused.status_code == 403
    assert fresh(db_session, record.id) is not None
    denied = db_session.scalar(
        select(AuditEntry).where(AuditEntry.action == "denied", AuditEntry.subject_id == DELETE)
    )
    assert denied is not None


def test_delete_removes_the_record_and_its_files(olena, record, db_session, vitrylo_app):
    token = csrf_token(vitrylo_app, olena)
    upload = olena.post(
        f"/attachments/for/crm_base.counterparty/{record.id}",
        data={"file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf"), "csrf_token": token},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 303
    row = db_session.scalar(select(Attachment).where(Attachment.subject_id == str(record.id)))
    assert row is not None
    path = f"{vitrylo_app.instance_path}/attachments/{row.storage_key}"
    assert os.path.exists(path)
    values = form_values(text(olena.get(edit_url(record))), "/delete")
    response = olena.post(f"/crm/counterparties/{record.id}/delete", data=values)
    assert response.status_code == 303
    assert response.location.endswith("/crm/counterparties")
    assert fresh(db_session, record.id) is None
    assert db_session.scalar(select(Attachment).where(Attachment.id == row.id)) is None
    assert not os.path.exists(path)


def test_deleting_a_record_changed_meanwhile_asks_to_look_again(olena, record, db_session):
    values = form_values(text(olena.get(edit_url(record))), "/delete")
    record.name = "Renamed meanwhile"
    db_session.commit()
    response = olena.post(f"/crm/counterparties/{record.id}/delete", data=values)
    assert response.status_code == 303
    assert fresh(db_session, record.id) is not None
    assert "look at it again before deleting" in text(olena.get(response.location))


def test_another_managers_record_is_404_for_every_action(olena, db_session, login, vitrylo_app):
    petro = login([READ, UPDATE, DELETE])
    theirs = Counterparty(name="Чуже", manager_id=uid(db_session, petro))
    db_session.add(theirs)
    db_session.commit()
    token = csrf_token(vitrylo_app, olena)
    assert olena.get(edit_url(theirs)).status_code == 404
    posted = olena.post(edit_url(theirs), data={"name": "x", "version": "1", "csrf_token": token})
    assert posted.status_code == 404
    deleted = olena.post(f"/crm/counterparties/{theirs.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == 404
    assert olena.get("/crm/counterparties/99999999999/edit").status_code == 404
    assert fresh(db_session, theirs.id).name == "Чуже"  # type: ignore[union-attr]


def test_without_the_update_right_the_edit_route_is_403(login, record, db_session, vitrylo_app):
    reader = login([READ])
    db_session.execute(
        update(Counterparty)
        .where(Counterparty.id == record.id)
        .values(manager_id=uid(db_session, reader))
    )
    db_session.commit()
    assert reader.get(edit_url(record)).status_code == 403
    token = csrf_token(vitrylo_app, reader)
    assert reader.post(edit_url(record), data={"csrf_token": token}).status_code == 403
    card = text(reader.get(f"/crm/counterparties/{record.id}"))
    assert "ТОВ «Ромашка»" in card
