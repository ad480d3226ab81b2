"""Directions and stages of work (CL-6): the admin page, the "Work" tab, recorded stage
changes and their place in the counterparty's chronology."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addons.crm_base.models import Direction, Stage, StageChange, Work
from addons.crm_base.tests.test_notes import (
    HUGE_ID,
    counterparty_of,
    english,
    hook_entries,
    post,
    tab_ids,
    user_of,
)
from core.testing.plugin import csrf_token

ADMIN = "crm_base.direction.update"
READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"


@pytest.fixture
def admin(login, db_session):  # type: ignore[no-untyped-def]
    return english(db_session, login([ADMIN], login_name="admin"))


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    return english(db_session, login([READ, UPDATE], login_name="olena"))


def make_direction(db_session, name="Опт", stages=("Перший контакт", "Пропозиція", "Договір")):  # type: ignore[no-untyped-def]
    direction = Direction(name=name)
    db_session.add(direction)
    db_session.flush()
    db_session.add_all(
        Stage(direction_id=direction.id, name=s, sort=n) for n, s in enumerate(stages, 1)
    )
    db_session.commit()
    return direction


def stage_names(db_session, direction_id):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    stmt = select(Stage.name).where(Stage.direction_id == direction_id)
    return list(db_session.scalars(stmt.order_by(Stage.sort, Stage.id)))


def stage_id(db_session, direction_id, name):  # type: ignore[no-untyped-def]
    stmt = select(Stage.id).where(Stage.direction_id == direction_id, Stage.name == name)
    return db_session.scalar(stmt)


def test_admin_creates_renames_orders_and_deletes(vitrylo_app, db_session, admin):
    assert admin.get("/crm/directions").status_code == 200
    assert post(vitrylo_app, admin, "/crm/directions", {"name": " Роздріб "}).status_code == 303
    direction = db_session.scalar(select(Direction).where(Direction.name == "Роздріб"))
    duplicate = post(vitrylo_app, admin, "/crm/directions", {"name": "роздріб"})
    assert duplicate.status_code == 400
    assert "A direction with this name already exists." in duplicate.get_data(as_text=True)
    empty = post(vitrylo_app, admin, "/crm/directions", {"name": ""})
    assert empty.status_code == 400 and "field-error" in empty.get_data(as_text=True)
    assert db_session.scalar(select(Direction.id).where(Direction.name == "")) is None

    url = f"/crm/directions/{direction.id}"
    assert post(vitrylo_app, admin, f"{url}/rename", {"name": "Роздріб-2"}).status_code == 303
    for name in ("A", "B", "C"):
        assert post(vitrylo_app, admin, f"{url}/stages", {"name": name}).status_code == 303
    assert stage_names(db_session, direction.id) == ["A", "B", "C"]
    c = stage_id(db_session, direction.id, "C")
    assert post(vitrylo_app, admin, f"/crm/stages/{c}/move", {"way": "up"}).status_code == 303
    assert stage_names(db_session, direction.id) == ["A", "C", "B"]
    assert post(vitrylo_app, admin, f"/crm/stages/{c}/move", {"way": "sideways"}).status_code == 400
    assert post(vitrylo_app, admin, f"/crm/stages/{c}/rename", {"name": "C2"}).status_code == 303
    b = stage_id(db_session, direction.id, "B")
    assert post(vitrylo_app, admin, f"/crm/stages/{b}/delete").status_code == 303
    assert stage_names(db_session, direction.id) == ["A", "C2"]

    assert post(vitrylo_app, admin, f"{url}/active").status_code == 303
    db_session.expire_all()
    assert db_session.get(Direction, direction.id).active is False
    assert post(vitrylo_app, admin, f"{url}/delete").status_code == 303
    db_session.expire_all()
    assert db_session.get(Direction, direction.id) is None


def test_a_stage_or_direction_in_use_cannot_be_deleted(vitrylo_app, db_session, admin, olena):
    direction = make_direction(db_session)
    cp = counterparty_of(db_session, olena)
    post(vitrylo_app, olena, f"/crm/counterparties/{cp}/work", {"direction_id": direction.id})
    first = stage_id(db_session, direction.id, "Перший контакт")
    refused = admin.post(
        f"/crm/stages/{first}/delete",
        data={"csrf_token": csrf_token(vitrylo_app, admin)},
        follow_redirects=True,
    )
    assert "is in use" in refused.get_data(as_text=True)
    assert "Перший контакт" in stage_names(db_session, direction.id)
    gone = post(vitrylo_app, admin, f"/crm/directions/{direction.id}/delete")
    assert gone.status_code == 303
    db_session.expire_all()
    assert db_session.get(Direction, direction.id) is not None
    assert "cannot be deleted" in admin.get("/crm/directions").get_data(as_text=True)


def test_admin_page_needs_its_right_and_guessed_ids_are_404(vitrylo_app, login, admin):
    olena = login([READ, UPDATE])
    assert olena.get("/crm/directions").status_code == 403
    assert post(vitrylo_app, olena, "/crm/directions", {"name": "X"}).status_code == 403
    for url in (
        f"/crm/directions/{HUGE_ID}/rename",
        "/crm/directions/999999/delete",
        f"/crm/stages/{HUGE_ID}/delete",
        "/crm/stages/999999/move",
    ):
        assert post(vitrylo_app, admin, url, {"name": "X", "way": "up"}).status_code == 404


def test_work_tab_add_direction_change_stage_and_responsible(vitrylo_app, db_session, login, olena):
    direction = make_direction(db_session)
    cp = counterparty_of(db_session, olena)
    assert "crm_base.work" in tab_ids(vitrylo_app, db_session, olena, cp)
    tab = olena.get(f"/crm/counterparties/{cp}/work", headers={"HX-Request": "true"})
    assert tab.status_code == 200 and "Опт" in tab.get_data(as_text=True)

    me = user_of(db_session, olena).id
    added = post(
        vitrylo_app,
        olena,
        f"/crm/counterparties/{cp}/work",
        {"direction_id": direction.id, "responsible_id": me},
    )
    assert added.status_code == 303
    work = db_session.scalar(select(Work).where(Work.counterparty_id == cp))
    first = stage_id(db_session, direction.id, "Перший контакт")
    offer = stage_id(db_session, direction.id, "Пропозиція")
    assert (work.stage_id, work.responsible_id) == (first, me)
    again = post(
        vitrylo_app, olena, f"/crm/counterparties/{cp}/work", {"direction_id": direction.id}
    )
    assert again.status_code == 400  # not offered any more: the direction already works here

    moved = post(
        vitrylo_app,
        olena,
        f"/crm/work/{work.id}/stage",
        {"stage_id": offer, "seen": first, "note": "Надіслали КП"},
    )
    assert moved.status_code == 303
    db_session.expire_all()
    assert db_session.get(Work, work.id).stage_id == offer
    changes = list(
        db_session.scalars(
            select(StageChange).where(StageChange.work_id == work.id).order_by(StageChange.id)
        )
    )
    assert [(c.from_stage_id, c.to_stage_id, c.changed_by) for c in changes] == [
        (None, first, me),
        (first, offer, me),
    ]
    assert changes[1].note == "Надіслали КП"

    stale = post(
        vitrylo_app, olena, f"/crm/work/{work.id}/stage", {"stage_id": first, "seen": first}
    )
    assert stale.status_code == 303
    db_session.expire_all()
    assert db_session.get(Work, work.id).stage_id == offer  # someone moved it meanwhile
    other = make_direction(db_session, "Сервіс", ("Діагностика",))
    foreign = stage_id(db_session, other.id, "Діагностика")
    wrong = post(
        vitrylo_app, olena, f"/crm/work/{work.id}/stage", {"stage_id": foreign, "seen": offer}
    )
    assert wrong.status_code == 400

    entries = [
        e for e in hook_entries(vitrylo_app, db_session, olena, cp) if e.kind == "crm_base.stage"
    ]
    assert [e.title for e in entries] == [
        "Olena moved Опт to the stage Пропозиція",
        "Olena started work in Опт at the stage Перший контакт",
    ]
    assert entries[0].body == "From the stage Перший контакт\nНадіслали КП"
    card = olena.get(f"/crm/counterparties/{cp}").get_data(as_text=True)
    assert 'data-kind="crm_base.stage"' in card and "bi-signpost-2" in card

    colleague = login([READ])
    answer = post(
        vitrylo_app,
        olena,
        f"/crm/work/{work.id}/responsible",
        {"responsible_id": user_of(db_session, colleague).id},
    )
    assert answer.status_code == 303
    db_session.expire_all()
    assert db_session.get(Work, work.id).responsible_id == user_of(db_session, colleague).id


def test_work_needs_the_scope_and_the_update_right(vitrylo_app, db_session, login, olena):
    direction = make_direction(db_session)
    petro = login([READ, UPDATE])
    theirs = counterparty_of(db_session, petro, "ТОВ «Петро»")
    post(vitrylo_app, petro, f"/crm/counterparties/{theirs}/work", {"direction_id": direction.id})
    work = db_session.scalar(select(Work).where(Work.counterparty_id == theirs))
    offer = stage_id(db_session, direction.id, "Пропозиція")
    assert olena.get(f"/crm/counterparties/{theirs}/work").status_code == 404
    assert olena.get(f"/crm/counterparties/{HUGE_ID}/work").status_code == 404
    for url in (
        f"/crm/counterparties/{theirs}/work",
        f"/crm/work/{work.id}/stage",
        f"/crm/work/{work.id}/responsible",
        f"/crm/work/{HUGE_ID}/stage",
    ):
        assert (
            post(
                vitrylo_app, olena, url, {"stage_id": offer, "direction_id": direction.id}
            ).status_code
            == 404
        )
    assert hook_entries(vitrylo_app, db_session, olena, theirs) == []
    assert "crm_base.work" not in tab_ids(vitrylo_app, db_session, olena, theirs)

    reader = login([READ])
    mine = counterparty_of(db_session, reader, "ТОВ «Читач»")
    page = reader.get(f"/crm/counterparties/{mine}/work").get_data(as_text=True)
    assert "work_stage" not in page and '/work"' not in page
    assert (
        post(
            vitrylo_app, reader, f"/crm/counterparties/{mine}/work", {"direction_id": direction.id}
        ).status_code
        == 403
    )
    assert (
        post(vitrylo_app, reader, f"/crm/work/{work.id}/stage", {"stage_id": offer}).status_code
        == 403
    )
    nobody = login([])
    assert nobody.get(f"/crm/counterparties/{mine}/work").status_code == 403
    db_session.expire_all()
    assert db_session.get(Work, work.id).stage_id != offer
