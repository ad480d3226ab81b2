"""Counterparties (CL-1): the card's form with contacts and addresses saved in one
transaction, tax codes checked by kind, the list's columns, filters and exact-key search,
quick create from anywhere."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from html import unescape

import pytest
from sqlalchemy import event, select, update

from addons.crm_base.models import (
    PERSON_SUBJECT,
    SUBJECT,
    Address,
    Channel,
    Counterparty,
    Person,
    PersonLink,
)
from core.models import GroupScope, User, UserGroup
from core.testing.plugin import csrf_token

READ = "crm_base.counterparty.read"
CREATE = "crm_base.counterparty.create"
UPDATE = "crm_base.counterparty.update"
EDRPOU = "32855961"  # valid
RNOKPP = "1759013776"  # valid


# -- helpers (test_persons.py uses them too) ----------------------------------------------


def uid(db, client) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(User.id).where(User.login == client.user_login))


def english(db, client) -> None:  # type: ignore[no-untyped-def]
    db.execute(update(User).where(User.login == client.user_login).values(language="en"))
    db.commit()


def set_scope(db, client, subject: str, scope: str) -> None:  # type: ignore[no-untyped-def]
    group_id = db.scalar(select(UserGroup.group_id).where(UserGroup.user_id == uid(db, client)))
    db.add(GroupScope(group_id=group_id, subject=subject, scope=scope))
    db.commit()


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def hidden(page: str, name: str) -> str:
    """The value of the hidden input ``name`` on the page (HTML-unescaped)."""
    found = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', page)
    if found is None:
        found = re.search(rf'type="hidden" name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, name
    return unescape(found.group(1))


def post(app, client, url: str, data: dict, **kwargs):  # type: ignore[no-untyped-def]
    return client.post(url, data={**data, "csrf_token": csrf_token(app, client)}, **kwargs)


def field_errors(page: str) -> list[str]:
    return [unescape(e) for e in re.findall(r'<div class="field-error">(.*?)</div>', page)]


@contextmanager
def count_queries(app):  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def listener(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = app.extensions["vitrylo"].db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    client = login([READ, CREATE, UPDATE, "crm_base.person.read"])
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


def base_form(client, record: Counterparty, **changes: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """What the card's form posts, from the page as loaded, with ``changes``."""
    page = text(client.get(edit_url(record)))
    data = {
        "version": hidden(page, "version"),
        "original": hidden(page, "original"),
        "name": record.name,
        "kind": record.kind,
        "relation": record.relation,
        "status": record.status,
        "tax_code": record.tax_code or "",
        "manager_id": str(record.manager_id or ""),
        "website": record.website,
        "notes": record.notes,
    }
    data.update(changes)
    return data


def channels(db, record_id: int) -> list[tuple[str, str, bool]]:  # type: ignore[no-untyped-def]
    db.expire_all()
    rows = db.scalars(
        select(Channel).where(Channel.counterparty_id == record_id).order_by(Channel.id)
    )
    return [(c.kind, c.value, c.is_primary) for c in rows]


def addresses(db, record_id: int) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    rows = db.scalars(
        select(Address).where(Address.counterparty_id == record_id).order_by(Address.id)
    )
    return [(a.kind, a.city, a.line) for a in rows]


FULL = {
    "kind": "company",
    "relation": "client",
    "status": "active",
    "tax_code": "3285 5961",
    "website": "romashka.com.ua",
    "notes": "Постійний клієнт",
    "channels-0-kind": "phone",
    "channels-0-value": "044 123 45 67",
    "channels-0-is_primary": "y",
    "channels-1-kind": "email",
    "channels-1-value": "Info@Romashka.COM.UA",
    "channels-2-kind": "telegram",
    "channels-2-value": "@romashka",
    "channels-3-kind": "phone",
    "channels-3-value": "",
    "addresses-0-kind": "legal",
    "addresses-0-postal_code": "01001",
    "addresses-0-city": "Київ",
    "addresses-0-line": "вул. Хрещатик, 1",
    "addresses-1-kind": "delivery",
    "addresses-1-city": "Бровари",
    "addresses-1-line": "вул. Київська, 10, склад 2",
}


# -- the card's form ------------------------------------------------------------------------


def test_edit_saves_details_contacts_and_addresses_together(vitrylo_app, olena, record, db_session):
    response = post(vitrylo_app, olena, edit_url(record), base_form(olena, record, **FULL))
    assert response.status_code == 303, field_errors(text(response))
    db_session.expire_all()
    saved = db_session.get(Counterparty, record.id)
    assert (saved.relation, saved.tax_code, saved.website, saved.notes) == (
        "client",
        EDRPOU,
        "https://romashka.com.ua",
        "Постійний клієнт",
    )
    assert saved.version == 2
    assert channels(db_session, record.id) == [
        ("phone", "+380441234567", True),
        ("email", "info@romashka.com.ua", False),
        ("telegram", "@romashka", False),
    ]
    assert addresses(db_session, record.id) == [
        ("legal", "Київ", "вул. Хрещатик, 1"),
        ("delivery", "Бровари", "вул. Київська, 10, склад 2"),
    ]
    card = text(olena.get(edit_url(record)))
    assert 'value="+380 44 123 4567"' in card  # shown nicely, stored in E.164
    assert "Client" in card and EDRPOU in card


def test_rows_are_updated_removed_and_added_by_their_ids(vitrylo_app, olena, record, db_session):
    post(vitrylo_app, olena, edit_url(record), base_form(olena, record, **FULL))
    db_session.expire_all()
    page = text(olena.get(edit_url(record)))
    phone_id, email_id = hidden(page, "channels-0-id"), hidden(page, "channels-1-id")
    telegram_id, legal_id = hidden(page, "channels-2-id"), hidden(page, "addresses-0-id")
    data = base_form(
        olena,
        db_session.get(Counterparty, record.id),
        **{
            "channels-0-id": phone_id,
            "channels-0-kind": "phone",
            "channels-0-value": "+380 67 123 4567",
            "channels-0-is_primary": "y",
            "channels-1-id": email_id,
            "channels-1-kind": "email",
            "channels-1-value": "info@romashka.com.ua",
            "channels-1-remove": "y",
            "channels-2-id": telegram_id,
            "channels-2-kind": "telegram",
            "channels-2-value": "",  # emptied: removed too
            "channels-3-kind": "viber",
            "channels-3-value": "+380671234567",
            "addresses-0-id": legal_id,
            "addresses-0-kind": "legal",
            "addresses-0-city": "Київ",
            "addresses-0-line": "вул. Хрещатик, 2",
        },
    )
    assert post(vitrylo_app, olena, edit_url(record), data).status_code == 303
    assert channels(db_session, record.id) == [
        ("phone", "+380671234567", True),
        ("viber", "+380671234567", False),
    ]
    kept = db_session.scalar(select(Channel).where(Channel.id == int(phone_id)))
    assert kept is not None and kept.value == "+380671234567"  # updated in place
    assert addresses(db_session, record.id) == [("legal", "Київ", "вул. Хрещатик, 2")]


def test_a_bad_phone_saves_nothing_and_says_why_next_to_it(vitrylo_app, olena, record, db_session):
    data = base_form(olena, record, **{**FULL, "name": "Нова назва", "channels-0-value": "12"})
    response = post(vitrylo_app, olena, edit_url(record), data)
    page = text(response)
    assert response.status_code == 400
    assert "Nothing was saved" in page
    assert any(e.startswith("12 is not a") and "phone number" in e for e in field_errors(page))
    assert 'value="Info@Romashka.COM.UA"' in page  # the other rows are kept as typed
    db_session.expire_all()
    saved = db_session.get(Counterparty, record.id)
    assert (saved.name, saved.version, saved.tax_code) == ("ТОВ «Ромашка»", 1, None)
    assert channels(db_session, record.id) == [] and addresses(db_session, record.id) == []


def test_a_bad_email_and_an_address_without_city_are_refused(vitrylo_app, olena, record):
    data = base_form(
        olena,
        record,
        **{
            "channels-0-kind": "email",
            "channels-0-value": "not-an-email",
            "addresses-0-kind": "legal",
            "addresses-0-postal_code": "01001",
        },
    )
    response = post(vitrylo_app, olena, edit_url(record), data)
    errors = field_errors(text(response))
    assert response.status_code == 400
    assert any("not a valid e-mail" in e for e in errors)
    assert "Give at least the city or the street." in errors


@pytest.mark.parametrize(
    ("kind", "code", "ok"),
    [
        ("company", EDRPOU, True),
        ("company", "32855968", False),  # wrong check digit
        ("company", RNOKPP, False),  # a person's number on a company
        ("person", RNOKPP, True),
        ("person", EDRPOU, False),
        ("person", "1759013770", False),
        ("company", "", True),  # no code at all is fine
    ],
)
def test_the_tax_code_is_checked_by_kind(vitrylo_app, olena, record, db_session, kind, code, ok):
    data = base_form(olena, record, kind=kind, tax_code=code)
    response = post(vitrylo_app, olena, edit_url(record), data)
    db_session.expire_all()
    saved = db_session.get(Counterparty, record.id)
    if ok:
        assert response.status_code == 303
        assert (saved.kind, saved.tax_code) == (kind, code or None)
    else:
        assert response.status_code == 400
        assert any("is not valid" in e for e in field_errors(text(response)))
        assert (saved.kind, saved.tax_code) == ("company", None)


def test_a_bad_web_site_is_refused(vitrylo_app, olena, record):
    response = post(vitrylo_app, olena, edit_url(record), base_form(olena, record, website="x"))
    assert response.status_code == 400
    assert "x is not a web address." in field_errors(text(response))


def test_one_more_row_re_renders_the_form_and_saves_nothing(vitrylo_app, olena, record, db_session):
    page = text(olena.get(edit_url(record)))
    blank_rows = len(re.findall(r'name="channels-\d+-value"', page))
    assert blank_rows == 2 and 'name="more_channels"' in page
    data = base_form(
        olena,
        record,
        name="Ще не збережено",
        **{"channels-0-value": "044 123 45 67", "channels-1-value": "", "more_channels": "1"},
    )
    response = post(vitrylo_app, olena, edit_url(record), data)
    page = text(response)
    assert response.status_code == 200
    assert len(re.findall(r'name="channels-\d+-value"', page)) == 3
    assert 'value="044 123 45 67"' in page and 'value="Ще не збережено"' in page
    data.pop("more_channels")
    more = post(vitrylo_app, olena, edit_url(record), {**data, "more_addresses": "1"})
    assert len(re.findall(r'name="addresses-\d+-city"', text(more))) == 2
    db_session.expire_all()
    assert db_session.get(Counterparty, record.id).name == "ТОВ «Ромашка»"
    assert channels(db_session, record.id) == []


def test_changing_only_the_contacts_bumps_the_version(vitrylo_app, olena, record, db_session):
    stale = base_form(olena, record)
    fresh = base_form(
        olena, record, **{"channels-0-kind": "phone", "channels-0-value": "0441234567"}
    )
    assert post(vitrylo_app, olena, edit_url(record), fresh).status_code == 303
    db_session.expire_all()
    assert db_session.get(Counterparty, record.id).version == 2
    # a form opened before meets a conflict rather than silently dropping the phone
    response = post(vitrylo_app, olena, edit_url(record), {**stale, "notes": "x"})
    assert response.status_code == 409
    assert channels(db_session, record.id) == [("phone", "+380441234567", False)]


def test_a_row_id_of_another_record_is_a_new_row_and_theirs_is_untouched(
    vitrylo_app, olena, record, db_session, login
):
    petro = login([READ, UPDATE])
    theirs = Counterparty(name="Чуже", manager_id=uid(db_session, petro))
    db_session.add(theirs)
    db_session.flush()
    their_phone = Channel(counterparty_id=theirs.id, kind="phone", value="+380441111111")
    their_address = Address(counterparty_id=theirs.id, kind="legal", city="Львів")
    db_session.add_all([their_phone, their_address])
    db_session.commit()
    data = base_form(
        olena,
        record,
        **{
            "channels-0-id": str(their_phone.id),
            "channels-0-kind": "phone",
            "channels-0-value": "0442222222",
            "addresses-0-id": str(their_address.id),
            "addresses-0-kind": "actual",
            "addresses-0-city": "Одеса",
        },
    )
    assert post(vitrylo_app, olena, edit_url(record), data).status_code == 303
    assert channels(db_session, theirs.id) == [("phone", "+380441111111", False)]
    assert channels(db_session, record.id) == [("phone", "+380442222222", False)]
    assert addresses(db_session, theirs.id) == [("legal", "Львів", "")]
    # and their card stays out of reach, whatever is posted to it
    token_data = {**data, "name": "Моє", "version": "1"}
    assert post(vitrylo_app, olena, edit_url(theirs), token_data).status_code == 404
    assert channels(db_session, theirs.id) == [("phone", "+380441111111", False)]


def test_without_the_update_right_the_form_is_read_only(login, db_session, vitrylo_app):
    reader = login([READ])
    row = Counterparty(name="ТОВ «Лише читати»", manager_id=uid(db_session, reader))
    db_session.add(row)
    db_session.flush()
    db_session.add(Channel(counterparty_id=row.id, kind="phone", value="+380441234567"))
    db_session.commit()
    page = text(reader.get(f"/crm/counterparties/{row.id}"))
    assert "+380 44 123 4567" in page
    assert 'name="more_channels"' not in page
    assert post(vitrylo_app, reader, edit_url(row), {"name": "x"}).status_code == 403


# -- the list ----------------------------------------------------------------------------------


@pytest.fixture
def listed(db_session, olena):  # type: ignore[no-untyped-def]
    """Three counterparties of Olena's with codes and contacts, one of another manager's."""
    me = uid(db_session, olena)
    company = Counterparty(name="ТОВ «Альфа»", kind="company", relation="client", tax_code=EDRPOU)
    person = Counterparty(name="ФОП Бондар", kind="person", relation="prospect", tax_code=RNOKPP)
    idle = Counterparty(name="ПрАТ «Гамма»", status="inactive")
    hidden_one = Counterparty(name="ТОВ «Чужа»", tax_code="00032129")
    for row in (company, person, idle):
        row.manager_id = me
    db_session.add_all([company, person, idle, hidden_one])
    db_session.flush()
    director = Person(last_name="Коваль", full_name="Коваль Іван", manager_id=me)
    db_session.add(director)
    db_session.flush()
    db_session.add_all(
        [
            Channel(counterparty_id=company.id, kind="phone", value="+380441234567"),
            Channel(counterparty_id=person.id, kind="email", value="bondar@example.com"),
            Channel(counterparty_id=hidden_one.id, kind="phone", value="+380441234567"),
            Channel(person_id=director.id, kind="phone", value="+380509998877"),
            PersonLink(person_id=director.id, counterparty_id=idle.id, role="директор"),
        ]
    )
    db_session.commit()
    return company, person, idle, hidden_one


def names_on(page: str) -> list[str]:
    return [unescape(n) for n in re.findall(r'<a href="/crm/counterparties/\d+">([^<]*)</a>', page)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (EDRPOU, ["ТОВ «Альфа»"]),
        (RNOKPP, ["ФОП Бондар"]),
        ("044 123 45 67", ["ТОВ «Альфа»"]),  # not the other manager's one with that phone
        ("+38 (044) 123-45-67", ["ТОВ «Альфа»"]),
        ("0441234567", ["ТОВ «Альфа»"]),
        ("BONDAR@example.com", ["ФОП Бондар"]),
        ("050 999 88 77", ["ПрАТ «Гамма»"]),  # the phone of its contact person
        ("00032129", []),  # out of scope
        ("гамма", ["ПрАТ «Гамма»"]),  # an ordinary name search still works
    ],
)
def test_search_by_tax_code_phone_and_email(olena, listed, query, expected):
    page = text(olena.get("/crm/counterparties", query_string={"q": query}))
    assert names_on(page) == expected


def test_filters_and_columns_of_the_list(olena, listed):
    page = text(olena.get("/crm/counterparties"))
    assert "Private person" in page and "Prospect" in page and "Inactive" in page
    assert EDRPOU in page
    assert names_on(text(olena.get("/crm/counterparties?kind=person"))) == ["ФОП Бондар"]
    assert names_on(text(olena.get("/crm/counterparties?relation=client"))) == ["ТОВ «Альфа»"]
    assert names_on(text(olena.get("/crm/counterparties?status=inactive"))) == ["ПрАТ «Гамма»"]
    assert len(names_on(text(olena.get("/crm/counterparties?kind=bogus")))) == 3


def test_a_phone_search_is_one_query_per_page(vitrylo_app, olena, listed):
    olena.get("/crm/counterparties")  # warm up: rights, caches
    with count_queries(vitrylo_app) as statements:
        page = text(olena.get("/crm/counterparties", query_string={"q": "0441234567"}))
    assert names_on(page) == ["ТОВ «Альфа»"]
    selects = [s for s in statements if "FROM crm_base_counterparty" in s]
    assert len(selects) == 1


def test_global_search_finds_by_tax_code_within_scope(olena, listed):
    page = text(olena.get("/search", query_string={"q": EDRPOU}))
    assert "ТОВ «Альфа»" in page
    assert "ТОВ «Чужа»" not in text(olena.get("/search", query_string={"q": "00032129"}))


# -- quick create ------------------------------------------------------------------------------

HTMX = {"HX-Request": "true"}


def test_quick_create_as_an_htmx_fragment(vitrylo_app, olena, db_session):
    form = olena.get("/crm/counterparties/quick", headers=HTMX)
    assert form.status_code == 200 and "<html" not in text(form)
    assert 'hx-post="/crm/counterparties/quick"' in text(form)
    response = post(
        vitrylo_app, olena, "/crm/counterparties/quick", {"name": " ТОВ «Швидка» "}, headers=HTMX
    )
    assert response.status_code == 200
    created = db_session.scalar(select(Counterparty).where(Counterparty.name == "ТОВ «Швидка»"))
    assert created is not None and created.manager_id == uid(db_session, olena)
    event = json.loads(response.headers["HX-Trigger"])["crm_base:counterpartyCreated"]
    assert event == {
        "id": created.id,
        "name": "ТОВ «Швидка»",
        "url": f"/crm/counterparties/{created.id}",
    }
    assert f'data-counterparty-id="{created.id}"' in text(response)


def test_quick_create_without_htmx_goes_back_where_asked(vitrylo_app, olena, db_session):
    page = olena.get("/crm/counterparties/quick?next=/crm/persons")
    assert page.status_code == 200 and "<html" in text(page)
    assert hidden(text(page), "next") == "/crm/persons"
    done = post(
        vitrylo_app, olena, "/crm/counterparties/quick", {"name": "Нова", "next": "/crm/persons"}
    )
    assert done.status_code == 303 and done.location.endswith("/crm/persons")
    evil = post(
        vitrylo_app, olena, "/crm/counterparties/quick", {"name": "Інша", "next": "//evil.com/x"}
    )
    created = db_session.scalar(select(Counterparty.id).where(Counterparty.name == "Інша"))
    assert evil.location.endswith(f"/crm/counterparties/{created}")


def test_quick_create_needs_a_name_the_right_and_csrf(vitrylo_app, olena, login, db_session):
    before = db_session.query(Counterparty).count()
    empty = post(vitrylo_app, olena, "/crm/counterparties/quick", {"name": "  "}, headers=HTMX)
    assert empty.status_code == 200 and "This field is required." in text(empty)
    assert post(vitrylo_app, olena, "/crm/counterparties/quick", {"name": ""}).status_code == 400
    assert olena.post("/crm/counterparties/quick", data={"name": "X"}).status_code == 400
    reader = login([READ])
    assert reader.get("/crm/counterparties/quick").status_code == 403
    assert post(vitrylo_app, reader, "/crm/counterparties/quick", {"name": "X"}).status_code == 403
    assert db_session.query(Counterparty).count() == before


def test_the_list_offers_quick_create_to_those_who_may(olena, login):
    page = text(olena.get("/crm/counterparties"))
    assert 'data-bs-target="#crm-base-quick"' in page and 'id="crm-base-quick"' in page
    assert "crm-base-quick" not in text(login([READ]).get("/crm/counterparties"))


def test_the_counterparty_card_has_the_contact_persons_tab(olena, record, db_session):
    me = uid(db_session, olena)
    person = Person(last_name="Іваненко", full_name="Іваненко Петро", manager_id=me)
    db_session.add(person)
    db_session.flush()
    db_session.add(PersonLink(person_id=person.id, counterparty_id=record.id, role="бухгалтер"))
    db_session.commit()
    card = text(olena.get(f"/crm/counterparties/{record.id}"))
    assert f'hx-get="/crm/counterparties/{record.id}/persons"' in card
    assert re.search(r"Contact persons <span[^>]*>1</span>", card)
    tab = text(olena.get(f"/crm/counterparties/{record.id}/persons"))
    assert "Іваненко Петро" in tab and "бухгалтер" in tab
    assert PERSON_SUBJECT and SUBJECT  # the subjects the tab is scoped by
