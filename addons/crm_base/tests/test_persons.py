"""Contact persons (CL-2, CP-1): create and edit with contacts, counterparties and
categories; birthdays in the next N days across the new year; scope; vCards; search."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import pytest
from flask_login import login_user
from sqlalchemy import select

from addons.crm_base import persons as persons_module
from addons.crm_base.models import (
    PERSON_SUBJECT,
    SUBJECT,
    Channel,
    Counterparty,
    Person,
    PersonLink,
    PersonTag,
    Tag,
    birth_key,
)
from addons.crm_base.persons import birthdays_between, full_name_of
from addons.crm_base.search import global_search
from addons.crm_base.tests.test_counterparties import (
    count_queries,
    english,
    field_errors,
    hidden,
    post,
    set_scope,
    text,
    uid,
)
from addons.crm_base.vcard import Contact, fold, render
from core.models import User
from core.security import LoginUser

P_READ = "crm_base.person.read"
P_CREATE = "crm_base.person.create"
P_UPDATE = "crm_base.person.update"
P_DELETE = "crm_base.person.delete"
P_EXPORT = "crm_base.person.export"
C_READ = "crm_base.counterparty.read"
ALL = [P_READ, P_CREATE, P_UPDATE, P_DELETE, P_EXPORT, C_READ]


def add_person(db, manager_id, last, first="", birthday=None, **extra) -> Person:  # type: ignore[no-untyped-def]
    person = Person(
        last_name=last,
        first_name=first,
        full_name=full_name_of(last, first, ""),
        birthday=birthday,
        birth_key=birth_key(birthday),
        manager_id=manager_id,
        **extra,
    )
    db.add(person)
    db.flush()
    return person


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    client = login(ALL)
    english(db_session, client)
    return client


@pytest.fixture
def company(db_session, olena) -> Counterparty:  # type: ignore[no-untyped-def]
    row = Counterparty(name="ТОВ «Ромашка»", manager_id=uid(db_session, olena))
    db_session.add(row)
    db_session.commit()
    return row


# -- birthdays ---------------------------------------------------------------------------------

BIRTHDAYS = {
    "Грудень27": date(1980, 12, 27),
    "Грудень28": date(1985, 12, 28),
    "Грудень31": date(1990, 12, 31),
    "Січень01": date(1975, 1, 1),
    "Січень02": date(2000, 1, 2),
    "Січень03": date(1999, 1, 3),
    "Січень04": date(1970, 1, 4),
    "Лютий29": date(1996, 2, 29),
    "Березень01": date(1988, 3, 1),
    "Березень10": date(1988, 3, 10),
}


@pytest.fixture
def born(db_session, olena):  # type: ignore[no-untyped-def]
    me = uid(db_session, olena)
    for name, day in BIRTHDAYS.items():
        add_person(db_session, me, name, birthday=day)
    add_person(db_session, me, "Бездати")
    db_session.commit()


def born_between(db, start: date, days: int) -> list[str]:  # type: ignore[no-untyped-def]
    stmt = select(Person.last_name).where(
        Person.last_name.in_([*BIRTHDAYS, "Бездати"]), birthdays_between(start, days)
    )
    return sorted(db.scalars(stmt), key=list(BIRTHDAYS).index)


def test_birthdays_between_crosses_the_new_year(db_session, born):
    assert born_between(db_session, date(2024, 12, 28), 7) == [
        "Грудень28",
        "Грудень31",
        "Січень01",
        "Січень02",
        "Січень03",
    ]
    assert born_between(db_session, date(2025, 1, 1), 3) == ["Січень01", "Січень02", "Січень03"]
    assert born_between(db_session, date(2024, 12, 27), 1) == ["Грудень27"]


def test_birthdays_between_within_a_year_and_february_29(db_session, born):
    # 2023 has no Feb 29: a window over the end of February still finds it
    assert born_between(db_session, date(2023, 2, 27), 3) == ["Лютий29", "Березень01"]
    assert born_between(db_session, date(2024, 3, 1), 10) == ["Березень01", "Березень10"]
    assert born_between(db_session, date(2024, 6, 1), 0) == []
    assert len(born_between(db_session, date(2024, 6, 1), 400)) == len(BIRTHDAYS)


def test_birthdays_between_is_a_range_on_the_indexed_key():
    one = str(birthdays_between(date(2024, 3, 1), 10).compile())
    two = str(
        birthdays_between(date(2024, 12, 28), 7).compile(compile_kwargs={"literal_binds": True})
    )
    assert "crm_base_person.birth_key BETWEEN" in one
    assert two == "crm_base_person.birth_key >= 1228 OR crm_base_person.birth_key <= 103"


def test_the_list_filters_birthdays_in_the_next_days(olena, born, monkeypatch):
    monkeypatch.setattr(persons_module, "local_today", lambda: date(2024, 12, 28))
    page = text(olena.get("/crm/persons?birthdays=7"))
    shown = re.findall(r'<a href="/crm/persons/\d+">([^<]*)</a>', page)
    assert shown == sorted(["Грудень28", "Грудень31", "Січень01", "Січень02", "Січень03"])


# -- create, edit, delete ------------------------------------------------------------------------


def new_person_data(company: Counterparty, tag_id: int) -> dict[str, str]:
    return {
        "last_name": "Шевченко",
        "first_name": "Тарас",
        "middle_name": "Григорович",
        "birthday": "1984-03-09",
        "position": "Директор",
        "address": "Київ, вул. Хрещатик, 1",
        "id_document": "паспорт АА 123456",
        "notes": "",
        "tags": str(tag_id),
        "channels-0-kind": "phone",
        "channels-0-value": "067 123 45 67",
        "channels-0-is_primary": "y",
        "channels-1-kind": "email",
        "channels-1-value": "Taras@Romashka.UA",
        "links-0-counterparty": f"{company.name} (#{company.id})",
        "links-0-role": "директор",
        "links-0-is_primary": "y",
    }


@pytest.fixture
def tag(db_session) -> Tag:  # type: ignore[no-untyped-def]
    row = Tag(name="VIP-тест")
    db_session.add(row)
    db_session.commit()
    return row


def test_create_a_person_with_contacts_links_and_categories(
    vitrylo_app, olena, company, tag, db_session
):
    form = text(olena.get(f"/crm/persons/new?counterparty={company.id}"))
    assert f'value="ТОВ «Ромашка» (#{company.id})"' in unescape(form).replace("&#34;", '"')
    data = {**new_person_data(company, tag.id), "manager_id": str(uid(db_session, olena))}
    response = post(vitrylo_app, olena, "/crm/persons/new", data)
    assert response.status_code == 303, field_errors(text(response))
    person = db_session.scalar(select(Person).where(Person.last_name == "Шевченко"))
    assert person.full_name == "Шевченко Тарас Григорович"
    assert (person.birthday, person.birth_key) == (date(1984, 3, 9), 309)
    assert person.manager_id == uid(db_session, olena)
    assert response.location.endswith(f"/crm/persons/{person.id}")
    link = db_session.scalar(select(PersonLink).where(PersonLink.person_id == person.id))
    assert (link.counterparty_id, link.role, link.is_primary) == (company.id, "директор", True)
    assert db_session.scalars(
        select(PersonTag.tag_id).where(PersonTag.person_id == person.id)
    ).all() == [tag.id]
    values = db_session.scalars(select(Channel.value).where(Channel.person_id == person.id)).all()
    assert sorted(values) == ["+380671234567", "taras@romashka.ua"]
    card = text(olena.get(f"/crm/persons/{person.id}"))
    assert "Шевченко Тарас Григорович" in card and 'value="+380 67 123 4567"' in card


def test_bad_input_saves_nothing(vitrylo_app, olena, company, tag, db_session):
    data = {
        **new_person_data(company, tag.id),
        "channels-0-value": "not a phone",
        "links-1-counterparty": "Такої немає",
        "birthday": "2999-01-01",
    }
    response = post(vitrylo_app, olena, "/crm/persons/new", data)
    assert response.status_code == 400
    errors = field_errors(text(response))
    assert any("not a phone number" in e for e in errors)
    assert "No counterparty “Такої немає” among those you can see." in errors
    assert "A birthday lies between 1900 and today." in errors
    assert db_session.scalar(select(Person).where(Person.last_name == "Шевченко")) is None
    assert post(vitrylo_app, olena, "/crm/persons/new", {"last_name": " "}).status_code == 400


def test_edit_keeps_full_name_and_birth_key_in_step(vitrylo_app, olena, company, tag, db_session):
    person = add_person(db_session, uid(db_session, olena), "Петренко", "Ольга", date(1990, 5, 1))
    other = Counterparty(name="ТОВ «Друга»", manager_id=uid(db_session, olena))
    db_session.add(other)
    db_session.flush()
    db_session.add(PersonLink(person_id=person.id, counterparty_id=company.id, role="бухгалтер"))
    db_session.commit()
    url = f"/crm/persons/{person.id}/edit"
    page = text(olena.get(url))
    assert f"ТОВ «Ромашка» (#{company.id})" in unescape(page)
    data = {
        "version": hidden(page, "version"),
        "original": hidden(page, "original"),
        "last_name": "Петренко-Коваль",
        "first_name": "Ольга",
        "middle_name": "Іванівна",
        "birthday": "1990-12-30",
        "manager_id": str(uid(db_session, olena)),
        "tags": str(tag.id),
        "links-0-counterparty": f"ТОВ «Ромашка» (#{company.id})",
        "links-0-remove": "y",
        "links-1-counterparty": "ТОВ «Друга»",  # the exact name works too
        "links-1-role": "закупівлі",
    }
    response = post(vitrylo_app, olena, url, data)
    assert response.status_code == 303, field_errors(text(response))
    db_session.expire_all()
    saved = db_session.get(Person, person.id)
    assert saved.full_name == "Петренко-Коваль Ольга Іванівна"
    assert (saved.birth_key, saved.version) == (1230, 2)
    links = db_session.execute(
        select(PersonLink.counterparty_id, PersonLink.role).where(PersonLink.person_id == person.id)
    ).all()
    assert links == [(other.id, "закупівлі")]
    assert db_session.scalars(
        select(PersonTag.tag_id).where(PersonTag.person_id == person.id)
    ).all() == [tag.id]
    # stale: the form posted again at version 1 meets a conflict
    assert post(vitrylo_app, olena, url, data).status_code == 409


def test_links_the_user_cannot_see_are_kept(vitrylo_app, olena, company, login, db_session):
    petro = login([C_READ])
    theirs = Counterparty(name="ТОВ «Петрова»", manager_id=uid(db_session, petro))
    db_session.add(theirs)
    db_session.flush()
    person = add_person(db_session, uid(db_session, olena), "Гончар")
    db_session.add(PersonLink(person_id=person.id, counterparty_id=theirs.id, role="агент"))
    db_session.commit()
    url = f"/crm/persons/{person.id}/edit"
    page = text(olena.get(url))
    assert "ТОВ «Петрова»" not in unescape(page)
    data = {
        "version": hidden(page, "version"),
        "last_name": "Гончар",
        "links-0-counterparty": f"#{theirs.id}",  # a guessed id of someone else's: refused
    }
    refused = post(vitrylo_app, olena, url, data)
    assert refused.status_code == 400
    assert f"No counterparty “#{theirs.id}” among those you can see." in field_errors(text(refused))
    data["links-0-counterparty"] = f"#{company.id}"
    assert post(vitrylo_app, olena, url, data).status_code == 303
    linked = db_session.scalars(
        select(PersonLink.counterparty_id).where(PersonLink.person_id == person.id)
    ).all()
    assert sorted(linked) == sorted([theirs.id, company.id])


def test_delete_a_person(vitrylo_app, olena, company, db_session):
    person = add_person(db_session, uid(db_session, olena), "Видаленко")
    db_session.add(Channel(person_id=person.id, kind="phone", value="+380441234567"))
    db_session.add(PersonLink(person_id=person.id, counterparty_id=company.id))
    db_session.commit()
    response = post(vitrylo_app, olena, f"/crm/persons/{person.id}/delete", {"version": "1"})
    assert response.status_code == 303 and response.location.endswith("/crm/persons")
    db_session.expire_all()
    assert db_session.get(Person, person.id) is None


# -- rights and scope ----------------------------------------------------------------------------


def test_scope_403_and_404_by_guessed_ids(vitrylo_app, olena, login, db_session):
    petro = login(ALL)
    mine = add_person(db_session, uid(db_session, olena), "Моя")
    theirs = add_person(db_session, uid(db_session, petro), "Чужа")
    db_session.commit()
    listed = text(olena.get("/crm/persons"))
    assert "Моя" in listed and "Чужа" not in listed
    for path in ("", "/edit", "/vcard"):
        assert olena.get(f"/crm/persons/{theirs.id}{path}").status_code == 404
        assert olena.get(f"/crm/persons/99999999{path}").status_code == 404
    assert olena.get("/crm/persons/99999999999").status_code == 404
    data = {"last_name": "Зламано", "version": "1"}
    assert post(vitrylo_app, olena, f"/crm/persons/{theirs.id}/edit", data).status_code == 404
    assert post(vitrylo_app, olena, f"/crm/persons/{theirs.id}/delete", data).status_code == 404
    db_session.expire_all()
    assert db_session.get(Person, theirs.id).last_name == "Чужа"
    nobody = login([C_READ])
    for url in (
        "/crm/persons",
        f"/crm/persons/{mine.id}",
        "/crm/persons/new",
        "/crm/persons/vcard",
    ):
        assert nobody.get(url).status_code == 403
    reader = login([P_READ])
    set_scope(db_session, reader, PERSON_SUBJECT, "all")
    assert reader.get(f"/crm/persons/{theirs.id}").status_code == 200
    assert reader.get(f"/crm/persons/{theirs.id}/edit").status_code == 403
    assert reader.get("/crm/persons/vcard").status_code == 403
    assert reader.get("/crm/persons/export.csv").status_code == 403


def test_the_counterparty_tab_is_scoped(vitrylo_app, olena, company, login, db_session):
    petro = login(ALL)
    set_scope(db_session, petro, SUBJECT, "all")
    mine = add_person(db_session, uid(db_session, olena), "Олена-контакт")
    db_session.add(PersonLink(person_id=mine.id, counterparty_id=company.id, is_primary=True))
    db_session.commit()
    tab = text(olena.get(f"/crm/counterparties/{company.id}/persons"))
    assert "Олена-контакт" in tab and f"/crm/persons/new?counterparty={company.id}" in tab
    assert "Олена-контакт" not in text(petro.get(f"/crm/counterparties/{company.id}/persons"))
    stranger = login(ALL)
    assert stranger.get(f"/crm/counterparties/{company.id}/persons").status_code == 404
    assert login([P_READ]).get(f"/crm/counterparties/{company.id}/persons").status_code == 403
    prefill = text(stranger.get(f"/crm/persons/new?counterparty={company.id}"))
    assert "ТОВ «Ромашка»" not in unescape(prefill)


def test_counterparty_suggestions_are_scoped(olena, company, login, db_session):
    petro = login(ALL)
    db_session.add(Counterparty(name="ТОВ «Ромашка-2»", manager_id=uid(db_session, petro)))
    db_session.commit()
    options = text(olena.get("/crm/persons/counterparty-options?links-0-counterparty=тов «ром"))
    assert unescape(options).strip() == f'<option value="ТОВ «Ромашка» (#{company.id})"></option>'
    # A form whose field is named counterparty_id (sales) gets the same suggestions.
    assert text(olena.get("/crm/persons/counterparty-options?counterparty_id=тов «ром")) == options
    assert login([P_READ]).get("/crm/persons/counterparty-options?q=x").status_code == 403


# -- list, search, export ------------------------------------------------------------------------


@pytest.fixture
def contacts(db_session, olena, company, tag):  # type: ignore[no-untyped-def]
    me = uid(db_session, olena)
    first = add_person(db_session, me, "Бойко", "Анна", position="Бухгалтер")
    second = add_person(db_session, me, "Ярема", "Олег", birthday=date(1980, 1, 2))
    db_session.add_all(
        [
            Channel(person_id=first.id, kind="phone", value="+380501112233", is_primary=True),
            Channel(person_id=first.id, kind="email", value="anna@romashka.ua"),
            Channel(person_id=second.id, kind="phone", value="+380672223344"),
            PersonLink(person_id=first.id, counterparty_id=company.id, role="бухгалтер"),
            PersonTag(person_id=second.id, tag_id=tag.id),
        ]
    )
    db_session.commit()
    return first, second


def shown(page: str) -> list[str]:
    return re.findall(r'<a href="/crm/persons/\d+">([^<]*)</a>', page)


def test_list_columns_search_and_filters(olena, contacts, company, tag):
    page = text(olena.get("/crm/persons"))
    assert shown(page) == ["Бойко Анна", "Ярема Олег"]
    assert "+380 50 111 2233" in page and "anna@romashka.ua" in page
    assert "ТОВ «Ромашка»" in unescape(page) and "Бухгалтер" in page
    assert shown(text(olena.get("/crm/persons?q=050 111 22 33"))) == ["Бойко Анна"]
    assert shown(text(olena.get("/crm/persons?q=ANNA@romashka.ua"))) == ["Бойко Анна"]
    assert shown(text(olena.get("/crm/persons?q=ярем"))) == ["Ярема Олег"]
    assert shown(text(olena.get(f"/crm/persons?counterparty={company.id}"))) == ["Бойко Анна"]
    assert shown(text(olena.get(f"/crm/persons?tag={tag.id}"))) == ["Ярема Олег"]


def test_the_list_is_one_query_per_page(vitrylo_app, olena, contacts, db_session):
    me = uid(db_session, olena)
    for n in range(60):
        add_person(db_session, me, f"Масовий {n:02d}")
    db_session.commit()
    olena.get("/crm/persons")
    counts = []
    for size in (25, 100):
        with count_queries(vitrylo_app) as statements:
            olena.get(f"/crm/persons?per_page={size}")
        counts.append(len([s for s in statements if "crm_base_person_link" in s]))
    assert counts == [1, 1]


def test_export_csv_of_the_list(olena, contacts):
    response = olena.get("/crm/persons/export.csv")
    assert response.status_code == 200
    body = response.get_data().decode("utf-8-sig")
    assert "Бойко Анна" in body and "+380 50 111 2233" in body


def test_global_search_finds_persons_by_name_and_phone_within_scope(
    vitrylo_app, olena, contacts, login, db_session
):
    user = db_session.scalar(select(User).where(User.login == olena.user_login))
    stranger = db_session.scalar(select(User).where(User.login == login(ALL).user_login))
    with vitrylo_app.test_request_context("/"):
        login_user(LoginUser(user))
        titles = [(h.kind, h.title) for h in global_search(user, "бойко", 10)]
        assert titles == [(PERSON_SUBJECT, "Бойко Анна")]
        assert [h.title for h in global_search(user, "+380672223344", 10)] == ["Ярема Олег"]
        assert global_search(stranger, "бойко", 10) == []


# -- vCards --------------------------------------------------------------------------------------


def test_vcard_escapes_and_folds():
    card = render(
        Contact(
            uid="urn:x:1",
            full_name="Коваль; Іван, молодший",
            last_name="Коваль",
            first_name="Іван",
            position="Директор з розвитку бізнесу в регіонах: Київ, Львів, Одеса; Дніпро",
            birthday=date(1985, 3, 14),
            phones=[("+380441234567", True)],
            emails=[("ivan@example.com", False)],
            organizations=["ТОВ «Ромашка», філія"],
        )
    )
    lines = card.split("\r\n")
    assert lines[0] == "BEGIN:VCARD" and lines[1] == "VERSION:4.0" and lines[-1] == ""
    assert "FN:Коваль\\; Іван\\, молодший" in lines
    assert "N:Коваль;Іван;;;" in lines
    assert "ORG:ТОВ «Ромашка»\\, філія" in lines
    assert "TEL;VALUE=uri;PREF=1:tel:+380441234567" in lines
    assert "EMAIL:ivan@example.com" in lines and "BDAY:19850314" in lines
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    unfolded = card.replace("\r\n ", "")
    assert (
        "TITLE:Директор з розвитку бізнесу в регіонах: Київ\\, Львів\\, Одеса\\; Дніпро" in unfolded
    )
    assert fold("Ї" * 100).replace("\r\n ", "") == "Ї" * 100


def test_vcard_of_one_person_and_of_the_list(
    vitrylo_app, olena, contacts, company, login, db_session
):
    first, second = contacts
    one = olena.get(f"/crm/persons/{first.id}/vcard")
    assert one.status_code == 200
    assert one.headers["Content-Type"] == "text/vcard; charset=utf-8"
    assert "attachment" in one.headers["Content-Disposition"]
    body = one.get_data().decode("utf-8")
    assert body.count("BEGIN:VCARD") == 1
    assert "FN:Бойко Анна" in body and "TITLE:Бухгалтер" in body
    assert "ORG:ТОВ «Ромашка»" in body and "tel:+380501112233" in body
    assert "EMAIL:anna@romashka.ua" in body
    listed = olena.get(f"/crm/persons/vcard?counterparty={company.id}").get_data().decode()
    assert listed.count("BEGIN:VCARD") == 1 and "Бойко Анна" in listed
    everything = olena.get("/crm/persons/vcard").get_data().decode()
    assert everything.count("BEGIN:VCARD") == 2 and "BDAY:19800102" in everything
    # ticked rows, someone else's guessed id among them is dropped
    other = add_person(db_session, uid(db_session, login(ALL)), "Чужий")
    db_session.commit()
    ticked = post(
        vitrylo_app,
        olena,
        "/crm/persons/bulk",
        {"action": "vcard", "ids": [str(second.id), str(other.id)]},
    )
    assert ticked.status_code == 200
    assert ticked.get_data().decode().count("BEGIN:VCARD") == 1
    assert "Ярема Олег" in ticked.get_data().decode()


def test_vcards_of_ticked_rows_need_the_export_right(vitrylo_app, login, db_session):
    reader = login([P_READ])
    person = add_person(db_session, uid(db_session, reader), "Без експорту")
    db_session.commit()
    response = post(
        vitrylo_app, reader, "/crm/persons/bulk", {"action": "vcard", "ids": [str(person.id)]}
    )
    assert response.status_code == 403
