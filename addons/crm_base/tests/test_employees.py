"""The company's employees (EM-1): list, card, create / edit / delete, contacts, the link
to a user account (one employee per account), rights."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from addons.crm_base.models import Channel, Employee
from addons.crm_base.tests.test_notes import HUGE_ID, english, post
from core.testing.plugin import create_user

RIGHTS = [f"crm_base.employee.{r}" for r in ("read", "create", "update", "delete", "export")]


@pytest.fixture
def hr(login, db_session):  # type: ignore[no-untyped-def]
    return english(db_session, login(RIGHTS, login_name="hr"))


def person(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "last_name": "Шевченко",
        "first_name": "Тарас",
        "middle_name": "Григорович",
        "birthday": "1990-03-09",
        "position": "Менеджер",
        "department": "Продажі",
        "home_address": "м. Київ",
        "documents": "Паспорт АА 123456",
        "active": "y",
        "user_id": "",
        "channels-0-kind": "phone",
        "channels-0-value": "044 123 4567",
        "channels-1-kind": "email",
        "channels-1-value": "Taras@Example.COM",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def employee_named(db_session, last_name):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return db_session.scalar(select(Employee).where(Employee.last_name == last_name))


def channels_of(db_session, employee_id):  # type: ignore[no-untyped-def]
    stmt = select(Channel.kind, Channel.value).where(Channel.employee_id == employee_id)
    return sorted(tuple(row) for row in db_session.execute(stmt))


def test_create_list_search_export_and_card(vitrylo_app, db_session, hr):
    assert hr.get("/crm/employees/new").status_code == 200
    created = post(vitrylo_app, hr, "/crm/employees/new", person())
    assert created.status_code == 303
    taras = employee_named(db_session, "Шевченко")
    assert created.location.endswith(f"/crm/employees/{taras.id}")
    assert (taras.full_name, taras.birth_key, taras.birthday) == (
        "Шевченко Тарас Григорович",
        309,
        date(1990, 3, 9),
    )
    assert channels_of(db_session, taras.id) == [
        ("email", "taras@example.com"),
        ("phone", "+380441234567"),
    ]
    post(vitrylo_app, hr, "/crm/employees/new", person(last_name="Коваль", department="Склад"))

    listing = hr.get("/crm/employees").get_data(as_text=True)
    assert "Шевченко Тарас Григорович" in listing and "+380 44 123 4567" in listing
    found = hr.get("/crm/employees?q=шевч").get_data(as_text=True)
    assert "Шевченко" in found and "Коваль" not in found
    store = hr.get("/crm/employees?department=Склад").get_data(as_text=True)
    assert "Коваль" in store and "Шевченко" not in store
    export = hr.get("/crm/employees/export.csv?q=Коваль")
    assert export.status_code == 200 and "Коваль" in export.get_data(as_text=True)

    card = hr.get(f"/crm/employees/{taras.id}").get_data(as_text=True)
    assert "Паспорт АА 123456" in card and "+380 44 123 4567" in card


def test_edit_keeps_derived_fields_and_contacts_in_step(vitrylo_app, db_session, hr):
    post(vitrylo_app, hr, "/crm/employees/new", person())
    taras = employee_named(db_session, "Шевченко")
    phone = db_session.scalar(
        select(Channel.id).where(Channel.employee_id == taras.id, Channel.kind == "phone")
    )
    saved = post(
        vitrylo_app,
        hr,
        f"/crm/employees/{taras.id}/edit",
        person(
            first_name="Тарас-Олег",
            birthday="1991-12-31",
            active=None,
            version=taras.version,
            **{"channels-0-id": phone, "channels-1-value": "", "channels-0-value": "0501234567"},
        ),
    )
    assert saved.status_code == 303
    taras = employee_named(db_session, "Шевченко")
    assert (taras.full_name, taras.birth_key, taras.active) == (
        "Шевченко Тарас-Олег Григорович",
        1231,
        False,
    )
    assert channels_of(db_session, taras.id) == [("phone", "+380501234567")]

    stale = post(
        vitrylo_app, hr, f"/crm/employees/{taras.id}/edit", person(version=taras.version - 1)
    )
    assert stale.status_code == 409


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"last_name": " "}, "This field is required"),
        ({"birthday": "2999-01-01"}, "A birthday lies between 1900 and today."),
        ({"birthday": "31.02.1990"}, "Not a valid date value"),
        ({"channels-0-value": "12"}, "is not a valid phone number"),
        ({"channels-1-value": "not-an-address"}, "is not a valid e-mail address"),
        ({"user_id": "999999"}, "Not a valid choice"),
    ],
    ids=["no-name", "future-birthday", "bad-date", "bad-phone", "bad-email", "unknown-user"],
)
def test_bad_input_gets_a_message_and_saves_nothing(vitrylo_app, db_session, hr, changes, message):
    refused = post(vitrylo_app, hr, "/crm/employees/new", person(**changes))
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert db_session.scalar(select(Employee.id)) is None
    assert db_session.scalar(select(Channel.id).where(Channel.employee_id.is_not(None))) is None


def test_a_user_account_is_linked_to_one_employee_only(vitrylo_app, db_session, hr):
    account = create_user(db_session, "taras")
    post(vitrylo_app, hr, "/crm/employees/new", person(user_id=account.id))
    taras = employee_named(db_session, "Шевченко")
    assert taras.user_id == account.id
    assert "Taras" in hr.get("/crm/employees").get_data(as_text=True)

    new_page = hr.get("/crm/employees/new").get_data(as_text=True)
    assert f'value="{account.id}"' not in new_page  # not offered any more
    second = post(
        vitrylo_app, hr, "/crm/employees/new", person(last_name="Двійник", user_id=account.id)
    )
    assert second.status_code == 400 and "Not a valid choice" in second.get_data(as_text=True)
    assert employee_named(db_session, "Двійник") is None

    # Taras's own card still offers (and keeps) his account.
    card = hr.get(f"/crm/employees/{taras.id}").get_data(as_text=True)
    assert f'value="{account.id}" selected' in card or f'selected value="{account.id}"' in card
    kept = post(
        vitrylo_app,
        hr,
        f"/crm/employees/{taras.id}/edit",
        person(user_id=account.id, version=taras.version),
    )
    assert kept.status_code == 303


def test_delete_takes_the_contacts_along(vitrylo_app, db_session, hr):
    post(vitrylo_app, hr, "/crm/employees/new", person())
    taras = employee_named(db_session, "Шевченко")
    deleted = post(vitrylo_app, hr, f"/crm/employees/{taras.id}/delete", {"version": taras.version})
    assert deleted.status_code == 303
    assert employee_named(db_session, "Шевченко") is None
    assert channels_of(db_session, taras.id) == []


def test_rights_and_guessed_ids(vitrylo_app, db_session, login, hr):
    post(vitrylo_app, hr, "/crm/employees/new", person())
    taras = employee_named(db_session, "Шевченко")
    nobody = login([])
    for url in ("/crm/employees", f"/crm/employees/{taras.id}", "/crm/employees/new"):
        assert nobody.get(url).status_code == 403
    reader = login(["crm_base.employee.read"])
    assert reader.get(f"/crm/employees/{taras.id}").status_code == 200
    assert "disabled" in reader.get(f"/crm/employees/{taras.id}").get_data(as_text=True)
    assert reader.get("/crm/employees/export.csv").status_code == 403
    for url in (
        f"/crm/employees/{taras.id}/edit",
        f"/crm/employees/{taras.id}/delete",
        "/crm/employees/new",
    ):
        answer = post(vitrylo_app, reader, url, person(version=taras.version))
        assert answer.status_code == 403
    assert employee_named(db_session, "Шевченко").first_name == "Тарас"
    for url in (f"/crm/employees/{HUGE_ID}", "/crm/employees/999999"):
        assert hr.get(url).status_code == 404
    assert post(vitrylo_app, hr, "/crm/employees/999999/edit", person(version=1)).status_code == 404


def test_one_more_contact_row_saves_nothing(vitrylo_app, db_session, hr):
    page = post(vitrylo_app, hr, "/crm/employees/new", person(more_channels="1"))
    assert page.status_code == 200
    assert 'name="channels-2-value"' in page.get_data(as_text=True)
    assert db_session.scalar(select(Employee.id)) is None
