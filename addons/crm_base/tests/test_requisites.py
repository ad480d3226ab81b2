"""Organizations and requisites (OR-1…OR-3): codes checked, one default, scope and rights,
the company's own organizations, materially responsible persons."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addons.crm_base.models import Requisites, ResponsiblePerson
from addons.crm_base.requisites import mfo, own_organization, requisites_for
from addons.crm_base.tests.test_notes import (
    HUGE_ID,
    counterparty_of,
    english,
    post,
    tab_ids,
)

ORG = [f"crm_base.organization.{r}" for r in ("read", "create", "update", "delete")]
READ_CP = "crm_base.counterparty.read"
EDRPOU, BAD_EDRPOU = "32855961", "32855968"
RNOKPP, BAD_RNOKPP = "1759013776", "1759013775"
IBAN = "UA213223130000026007233566001"


def valid(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "full_name": "ТОВ «Ромашка»",
        "tax_code": EDRPOU,
        "vat_payer": "y",
        "vat_number": "123456789012",
        "iban": "ua21 3223 1300 0002 6007 2335 6600 1",
        "bank_name": "АТ «Укрексімбанк»",
        "legal_address": "01001, м. Київ, вул. Хрещатик, 1",
        "director": "Іваненко Іван Іванович",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def olena(login, db_session):  # type: ignore[no-untyped-def]
    return english(db_session, login([*ORG, READ_CP], login_name="olena"))


def rows_of(db_session, counterparty_id):  # type: ignore[no-untyped-def]
    db_session.expire_all()
    stmt = select(Requisites).where(Requisites.counterparty_id == counterparty_id)
    return list(db_session.scalars(stmt.order_by(Requisites.id)))


def test_valid_requisites_are_saved_normalised_and_shown_with_the_mfo(
    vitrylo_app, db_session, olena
):
    cp = counterparty_of(db_session, olena)
    saved = post(vitrylo_app, olena, f"/crm/counterparties/{cp}/requisites/new", valid())
    assert saved.status_code == 303
    [row] = rows_of(db_session, cp)
    assert (row.tax_code, row.iban, row.vat_number, row.is_default) == (
        EDRPOU,
        IBAN,
        "123456789012",
        True,
    )
    assert mfo(row.iban) == "322313"
    tab = olena.get(f"/crm/counterparties/{cp}/requisites", headers={"HX-Request": "true"})
    text = tab.get_data(as_text=True)
    assert "<html" not in text and "322313" in text and "ТОВ «Ромашка»" in text
    assert "crm_base.requisites" in tab_ids(vitrylo_app, db_session, olena, cp)
    assert requisites_for(cp, db_session).id == row.id
    page = olena.get(f"/crm/requisites/{row.id}").get_data(as_text=True)
    assert "MFO: 322313" in page

    person = post(
        vitrylo_app,
        olena,
        f"/crm/counterparties/{cp}/requisites/new",
        valid(full_name="ФОП Петренко", tax_code=RNOKPP, vat_payer=None, vat_number="123", iban=""),
    )
    assert person.status_code == 303
    fop = rows_of(db_session, cp)[1]
    assert (fop.tax_code, fop.vat_payer, fop.vat_number, fop.iban) == (RNOKPP, False, "", "")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tax_code": BAD_EDRPOU}, "tax_code", "EDRPOU code 32855968 is not valid"),
        ({"tax_code": BAD_RNOKPP}, "tax_code", "Tax number 1759013775 is not valid"),
        ({"tax_code": "12345"}, "tax_code", "A tax code has 8 digits"),
        ({"tax_code": ""}, "tax_code", "This field is required"),
        ({"iban": IBAN[:-1] + "2"}, "iban", "is not valid: check the digits"),
        ({"iban": "DE89370400440532013000"}, "iban", "A Ukrainian IBAN starts with UA"),
        ({"vat_number": ""}, "vat_number", "A VAT payer needs its 12-digit VAT number"),
        ({"vat_number": "12345"}, "vat_number", "A VAT payer number has 12 digits"),
        ({"full_name": "\x00 "}, "full_name", "This field is required"),
    ],
    ids=["edrpou", "rnokpp", "length", "empty", "iban", "foreign-iban", "vat", "vat-shape", "nul"],
)
def test_invalid_codes_get_a_message_next_to_the_field_and_nothing_is_saved(
    vitrylo_app, db_session, olena, changes, field, message
):
    cp = counterparty_of(db_session, olena)
    refused = post(vitrylo_app, olena, f"/crm/counterparties/{cp}/requisites/new", valid(**changes))
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert message in page
    assert f'id="{field}"' in page and page.index("field-error") > page.index(f'id="{field}"')
    assert rows_of(db_session, cp) == []


def test_only_one_set_is_the_default(vitrylo_app, db_session, olena):
    cp = counterparty_of(db_session, olena)
    url = f"/crm/counterparties/{cp}/requisites/new"
    post(vitrylo_app, olena, url, valid(full_name="A"))  # the first one: default by itself
    post(vitrylo_app, olena, url, valid(full_name="B"))  # not ticked: A stays the default
    first, second = rows_of(db_session, cp)
    assert (first.is_default, second.is_default) == (True, False)
    post(vitrylo_app, olena, url, valid(full_name="C", is_default="y"))
    assert [r.is_default for r in rows_of(db_session, cp)] == [False, False, True]
    assert requisites_for(cp, db_session).full_name == "C"

    third = rows_of(db_session, cp)[2]
    edited = post(
        vitrylo_app, olena, f"/crm/requisites/{first.id}", valid(full_name="A", is_default="y")
    )
    assert edited.status_code == 303
    assert [r.is_default for r in rows_of(db_session, cp)] == [True, False, False]
    deleted = post(vitrylo_app, olena, f"/crm/requisites/{first.id}/delete")
    assert deleted.status_code == 303
    assert [(r.full_name, r.is_default) for r in rows_of(db_session, cp)] == [
        ("B", True),
        ("C", False),
    ]
    assert third.id in {r.id for r in rows_of(db_session, cp)}


def test_another_managers_counterparty_is_404_also_by_guessed_ids(
    vitrylo_app, db_session, login, olena
):
    petro = login([*ORG, READ_CP])
    theirs = counterparty_of(db_session, petro, "ТОВ «Петро»")
    post(vitrylo_app, petro, f"/crm/counterparties/{theirs}/requisites/new", valid())
    [row] = rows_of(db_session, theirs)
    post(vitrylo_app, petro, f"/crm/requisites/{row.id}/responsible", {"full_name": "Комірник"})
    person = db_session.scalar(
        select(ResponsiblePerson).where(ResponsiblePerson.requisites_id == row.id)
    )
    for url in (
        f"/crm/counterparties/{theirs}/requisites",
        f"/crm/counterparties/{theirs}/requisites/new",
        f"/crm/requisites/{row.id}",
        f"/crm/counterparties/{HUGE_ID}/requisites",
        f"/crm/requisites/{HUGE_ID}",
    ):
        assert olena.get(url).status_code == 404, url
    for url in (
        f"/crm/counterparties/{theirs}/requisites/new",
        f"/crm/requisites/{row.id}",
        f"/crm/requisites/{row.id}/delete",
        f"/crm/requisites/{row.id}/responsible",
        f"/crm/responsible/{person.id}/delete",
        f"/crm/responsible/{HUGE_ID}/delete",
    ):
        assert post(vitrylo_app, olena, url, valid(full_name="Змінено")).status_code == 404, url
    [still] = rows_of(db_session, theirs)
    assert still.full_name == "ТОВ «Ромашка»"
    assert db_session.get(ResponsiblePerson, person.id) is not None
    assert "crm_base.requisites" not in tab_ids(vitrylo_app, db_session, olena, theirs)


def test_rights_are_checked_403(vitrylo_app, db_session, login, olena):
    cp = counterparty_of(db_session, olena)
    post(vitrylo_app, olena, f"/crm/counterparties/{cp}/requisites/new", valid())
    [row] = rows_of(db_session, cp)
    nobody = login([READ_CP])
    for url in (f"/crm/counterparties/{cp}/requisites", "/crm/own-organizations"):
        assert nobody.get(url).status_code == 403
    assert "crm_base.requisites" not in tab_ids(vitrylo_app, db_session, nobody, cp)
    reader = english(db_session, login(["crm_base.organization.read", READ_CP], login_name="r"))
    # Olena's counterparty is outside the reader's scope: make it the reader's for a moment.
    from addons.crm_base.models import Counterparty
    from addons.crm_base.tests.test_notes import user_of

    db_session.get(Counterparty, cp).manager_id = user_of(db_session, reader).id
    db_session.commit()
    page = reader.get(f"/crm/requisites/{row.id}")
    assert page.status_code == 200 and "disabled" in page.get_data(as_text=True)
    assert (
        post(vitrylo_app, reader, f"/crm/requisites/{row.id}", valid(full_name="X")).status_code
        == 403
    )
    assert post(vitrylo_app, reader, f"/crm/requisites/{row.id}/delete").status_code == 403
    assert (
        post(vitrylo_app, reader, f"/crm/counterparties/{cp}/requisites/new", valid()).status_code
        == 403
    )
    assert reader.get("/crm/own-organizations/new").status_code == 403
    assert rows_of(db_session, cp)[0].full_name == "ТОВ «Ромашка»"


def test_own_organizations_crud_with_responsible_persons(vitrylo_app, db_session, olena):
    listing = olena.get("/crm/own-organizations")
    assert listing.status_code == 200 and "New own organization" in listing.get_data(as_text=True)
    created = post(
        vitrylo_app, olena, "/crm/own-organizations/new", valid(full_name="ТОВ «Вітрило»")
    )
    assert created.status_code == 303
    org = own_organization(default=True, db=db_session)
    assert org is not None and org.counterparty_id is None and org.is_default
    assert created.location.endswith(f"/crm/requisites/{org.id}")
    assert "ТОВ «Вітрило»" in olena.get("/crm/own-organizations").get_data(as_text=True)

    bad = post(vitrylo_app, olena, "/crm/own-organizations/new", valid(tax_code=BAD_EDRPOU))
    assert bad.status_code == 400

    edited = post(
        vitrylo_app,
        olena,
        f"/crm/requisites/{org.id}",
        valid(full_name="ТОВ «Вітрило-2»", is_default="y"),
    )
    assert edited.status_code == 303 and edited.location.endswith("/crm/own-organizations")
    db_session.expire_all()
    assert own_organization(org.id, default=False, db=db_session).full_name == "ТОВ «Вітрило-2»"

    url = f"/crm/requisites/{org.id}/responsible"
    future = post(vitrylo_app, olena, url, {"full_name": "Коваль", "since": "2999-01-01"})
    assert future.status_code == 400 and "cannot be in the future" in future.get_data(as_text=True)
    assert (
        post(
            vitrylo_app,
            olena,
            url,
            {"full_name": "Коваль Ольга", "position": "Комірник", "since": "2020-05-01"},
        ).status_code
        == 303
    )
    person = db_session.scalar(
        select(ResponsiblePerson).where(ResponsiblePerson.requisites_id == org.id)
    )
    assert (person.full_name, str(person.since)) == ("Коваль Ольга", "2020-05-01")
    assert "Коваль Ольга" in olena.get(f"/crm/requisites/{org.id}").get_data(as_text=True)
    assert post(vitrylo_app, olena, f"/crm/responsible/{person.id}/delete").status_code == 303

    assert post(vitrylo_app, olena, f"/crm/requisites/{org.id}/delete").status_code == 303
    db_session.expire_all()
    assert db_session.get(Requisites, org.id) is None
    assert own_organization(org.id, default=False, db=db_session) is None
