"""Additional attributes (CL-4): definitions, typed and validated values, one query for a
page of records, list columns and filters, the card tab with its scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from flask_login import login_user
from sqlalchemy import event, select
from werkzeug.datastructures import MultiDict

from addons.crm_base.attributes import (
    AttributeValuesError,
    attribute_export_columns,
    export_text,
    load_values,
    parse_attribute_value,
    save_values,
    with_attributes,
)
from addons.crm_base.models import (
    PERSON_SUBJECT,
    Attribute,
    AttributeValue,
    Counterparty,
    Person,
)
from addons.crm_base.tests.test_notes import (
    HUGE_ID,
    counterparty_of,
    english,
    post,
    tab_ids,
    user_of,
)
from core.models import GroupScope, UserGroup
from core.security import LoginUser
from core.ui import Column, ListView

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
DEFINE = "crm_base.attribute.update"

LIST = ListView(
    name="test_attributes",
    endpoint="crm_base.counterparties",
    model=Counterparty,
    columns=[Column("name", "Name", Counterparty.name, sortable=True)],
    default_sort="name",
)


def define(db, code: str, type_: str = "text", subject: str = "counterparty", **extra) -> Attribute:
    attribute = Attribute(subject=subject, code=code, label=code.title(), type=type_, **extra)
    db.add(attribute)
    db.flush()
    return attribute


@pytest.fixture
def attrs(db_session):
    """One attribute of each type for counterparties."""
    made = {
        "region": define(db_session, "region"),
        "employees": define(db_session, "employees", "number", sort=1),
        "since": define(db_session, "since", "date", sort=2),
        "vip": define(db_session, "vip", "bool", sort=3),
        "size": define(db_session, "size", "choice", choices="Малий\nСередній\nВеликий", sort=4),
    }
    db_session.commit()
    return made


def stored(db, record_id: int) -> dict[str, tuple]:
    rows = db.execute(
        select(
            Attribute.code,
            AttributeValue.value_text,
            AttributeValue.value_number,
            AttributeValue.value_date,
            AttributeValue.value_bool,
        )
        .join(Attribute, Attribute.id == AttributeValue.attribute_id)
        .where(AttributeValue.record_id == record_id, Attribute.subject == "counterparty")
    )
    return {code: tuple(v for v in values if v is not None) for code, *values in rows}


@pytest.fixture
def admin(login, db_session):
    return english(db_session, login([DEFINE]))


# -- definitions ----------------------------------------------------------------------------


def test_an_admin_defines_attributes_of_each_type(vitrylo_app, db_session, admin):
    for code, kind, choices in (
        ("region", "text", ""),
        ("employees", "number", ""),
        ("since", "date", ""),
        ("vip", "bool", ""),
        ("size", "choice", "Малий\n\nВеликий\n"),
    ):
        data = {"subject": "counterparty", "code": code, "label": code.title(), "type": kind}
        data.update(choices=choices, sort="3", active="y")
        assert post(vitrylo_app, admin, "/crm/attributes/new", data).status_code == 303
    rows = {a.code: a for a in db_session.scalars(select(Attribute).where(Attribute.code != ""))}
    assert {rows[c].type for c in ("region", "employees", "since", "vip", "size")} == {
        "text",
        "number",
        "date",
        "bool",
        "choice",
    }
    assert rows["size"].choices == "Малий\nВеликий" and rows["region"].choices == ""
    page = admin.get("/crm/attributes").get_data(as_text=True)
    assert "Employees" in page and "Choice from a list" in page
    new = admin.get("/crm/attributes/new?subject=person").get_data(as_text=True)
    assert '<option selected value="person">' in new or '<option value="person" selected' in new


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "1st"}, "starting with a letter"),
        ({"code": "Регіон"}, "starting with a letter"),
        ({"label": ""}, "This field is required"),
        ({"type": "choice", "choices": ""}, "at least one choice"),
        ({"type": "choice", "choices": "А\nа"}, "Each choice only once"),
        ({"type": "blob"}, "Not a valid choice"),
    ],
)
def test_bad_definitions_are_refused(vitrylo_app, db_session, admin, data, message):
    form = {"subject": "counterparty", "code": "region", "label": "Region", "type": "text"}
    refused = post(vitrylo_app, admin, "/crm/attributes/new", {**form, **data})
    assert refused.status_code == 400
    assert message in refused.get_data(as_text=True)
    assert db_session.scalar(select(Attribute.id)) is None


def test_a_code_is_unique_per_subject(vitrylo_app, db_session, admin):
    define(db_session, "region")
    db_session.commit()
    form = {"subject": "counterparty", "code": "region", "label": "R", "type": "text"}
    refused = post(vitrylo_app, admin, "/crm/attributes/new", form)
    assert refused.status_code == 400 and "already used" in refused.get_data(as_text=True)
    form["subject"] = "person"
    assert post(vitrylo_app, admin, "/crm/attributes/new", form).status_code == 303


def test_the_type_cannot_change_once_there_are_values(vitrylo_app, db_session, admin, attrs):
    region = attrs["region"]
    form = {
        "subject": "counterparty",
        "code": "region",
        "label": "Region",
        "type": "number",
        "active": "y",
    }
    assert post(vitrylo_app, admin, f"/crm/attributes/{region.id}", form).status_code == 303
    db_session.expire_all()
    assert region.type == "number"  # no values yet: allowed

    record_id = counterparty_of(db_session, admin)
    save_values(db_session, "counterparty", record_id, {"region": "5"}, partial=True)
    db_session.commit()
    refused = post(vitrylo_app, admin, f"/crm/attributes/{region.id}", {**form, "type": "text"})
    assert refused.status_code == 400
    assert "its type cannot change" in refused.get_data(as_text=True)
    db_session.expire_all()
    assert region.type == "number"
    page = admin.get(f"/crm/attributes/{region.id}").get_data(as_text=True)
    assert "1 record(s) have a value" in page


def test_a_choice_in_use_cannot_be_removed(vitrylo_app, db_session, admin, attrs):
    size = attrs["size"]
    record_id = counterparty_of(db_session, admin)
    save_values(db_session, "counterparty", record_id, {"size": "середній"}, partial=True)
    db_session.commit()
    form = {
        "subject": "counterparty",
        "code": "size",
        "label": "Size",
        "type": "choice",
        "active": "y",
    }
    refused = post(
        vitrylo_app, admin, f"/crm/attributes/{size.id}", {**form, "choices": "Малий\nВеликий"}
    )
    assert refused.status_code == 400 and "Середній" in refused.get_data(as_text=True)
    kept = post(
        vitrylo_app,
        admin,
        f"/crm/attributes/{size.id}",
        {**form, "choices": "Середній\nВеликий\nГігант"},
    )
    assert kept.status_code == 303


def test_definitions_need_the_right(vitrylo_app, db_session, login, attrs):
    reader = login([READ, UPDATE])
    assert reader.get("/crm/attributes").status_code == 403
    assert reader.get(f"/crm/attributes/{attrs['region'].id}").status_code == 403
    form = {"subject": "counterparty", "code": "x", "label": "X", "type": "text"}
    assert post(vitrylo_app, reader, "/crm/attributes/new", form).status_code == 403
    assert post(vitrylo_app, reader, f"/crm/attributes/{attrs['vip'].id}/delete").status_code == 403
    assert db_session.get(Attribute, attrs["vip"].id) is not None


def test_deleting_an_attribute_takes_its_values(vitrylo_app, db_session, admin, attrs):
    record_id = counterparty_of(db_session, admin)
    save_values(db_session, "counterparty", record_id, {"vip": "так"}, partial=True)
    db_session.commit()
    vip_id = attrs["vip"].id
    assert post(vitrylo_app, admin, f"/crm/attributes/{vip_id}/delete").status_code == 303
    assert db_session.scalar(select(Attribute.id).where(Attribute.id == vip_id)) is None
    assert (
        db_session.scalar(
            select(AttributeValue.record_id).where(AttributeValue.attribute_id == vip_id)
        )
        is None
    )
    assert admin.get(f"/crm/attributes/{HUGE_ID}").status_code == 404


# -- values -----------------------------------------------------------------------------------


def test_values_are_parsed_by_type(attrs):
    region, employees, since, vip, size = (
        attrs[k] for k in ("region", "employees", "since", "vip", "size")
    )
    assert parse_attribute_value(region, "  Київ\x00 ") == "Київ"
    assert parse_attribute_value(region, "   ") is None
    assert parse_attribute_value(employees, "1 234,5") == Decimal("1234.5")
    assert parse_attribute_value(employees, 12) == Decimal(12)
    assert parse_attribute_value(since, "2024-02-29") == date(2024, 2, 29)
    assert parse_attribute_value(since, "31.12.2023") == date(2023, 12, 31)
    assert parse_attribute_value(vip, "Так") is True and parse_attribute_value(vip, "no") is False
    assert parse_attribute_value(size, "великий") == "Великий"
    for attribute, bad in (
        (employees, "багато"),
        (employees, "NaN"),
        (employees, "1e20"),
        (employees, "0.00001"),
        (since, "2023-02-30"),
        (since, "вчора"),
        (vip, "можливо"),
        (size, "Крихітний"),
        (region, "я" * 501),
    ):
        with pytest.raises(ValueError):
            parse_attribute_value(attribute, bad)
    for attribute, value in (
        (employees, Decimal("1234.5")),
        (since, date(2024, 1, 2)),
        (vip, False),
    ):
        assert parse_attribute_value(attribute, export_text(attribute, value)) == value


def test_values_are_saved_in_their_columns_and_cleared(vitrylo_app, db_session, login, attrs):
    record_id = counterparty_of(db_session, login([READ]))
    with vitrylo_app.test_request_context("/"):
        save_values(
            db_session,
            "crm_base.counterparty",
            record_id,
            {
                "region": "Львів",
                "employees": "12,5",
                "since": "2020-01-31",
                "vip": "yes",
                "size": "Малий",
            },
        )
    db_session.commit()
    assert stored(db_session, record_id) == {
        "region": ("Львів",),
        "employees": (Decimal("12.5"),),
        "since": (date(2020, 1, 31),),
        "vip": (True,),
        "size": ("Малий",),
    }
    with vitrylo_app.test_request_context("/"):
        save_values(
            db_session, "counterparty", record_id, {"region": "", "vip": "ні"}, partial=True
        )
    db_session.commit()
    values = stored(db_session, record_id)
    assert "region" not in values and values["vip"] == (False,) and "size" in values


def test_bad_values_and_missing_required_ones_save_nothing(vitrylo_app, db_session, login, attrs):
    attrs["region"].required = True
    db_session.commit()
    record_id = counterparty_of(db_session, login([READ]))
    with vitrylo_app.test_request_context("/"), pytest.raises(AttributeValuesError) as caught:
        save_values(
            db_session,
            "counterparty",
            record_id,
            {"employees": "багато", "since": "2023-13-01", "size": "Малий", "nope": "1"},
        )
    assert set(caught.value.errors) == {"region", "employees", "since", "nope"}
    db_session.commit()
    assert stored(db_session, record_id) == {}


def test_load_values_for_a_page_is_one_query(vitrylo_app, db_session, login, attrs, _vitrylo_db):
    client = login([READ])
    ids = [counterparty_of(db_session, client, f"ТОВ «{n}»") for n in range(50)]
    with vitrylo_app.test_request_context("/"):
        for n, record_id in enumerate(ids):
            save_values(
                db_session,
                "counterparty",
                record_id,
                {"region": f"Місто {n}", "employees": n, "vip": n % 2 == 0},
                partial=True,
            )
    db_session.commit()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's transaction
            statements.append(statement)

    event.listen(_vitrylo_db.db.engine, "before_cursor_execute", count)
    try:
        values = load_values(db_session, "counterparty", ids)
    finally:
        event.remove(_vitrylo_db.db.engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert values[ids[3]] == {"region": "Місто 3", "employees": Decimal(3), "vip": False}
    assert load_values(db_session, "counterparty", []) == {}


# -- lists ----------------------------------------------------------------------------------


def test_the_list_filters_and_shows_attribute_values(
    vitrylo_app, db_session, login, attrs, _vitrylo_db
):
    client = login([READ])
    data = {
        "ТОВ «А»": {
            "region": "Київ",
            "employees": "5",
            "since": "2020-01-01",
            "vip": "так",
            "size": "Малий",
        },
        "ТОВ «Б»": {"region": "Львів", "employees": "50", "since": "2022-06-01", "vip": "ні"},
        "ТОВ «В»": {"region": "Київ", "employees": "500", "size": "Великий"},
        "ТОВ «Г»": {},
    }
    with vitrylo_app.test_request_context("/"):
        for name, values in data.items():
            save_values(
                db_session,
                "counterparty",
                counterparty_of(db_session, client, name),
                values,
                partial=True,
            )
    db_session.commit()

    with vitrylo_app.test_request_context("/"):
        view = with_attributes(LIST, "counterparty", Counterparty.id, session=db_session)
        assert [c.key for c in view.columns][1:] == [
            "attr_region",
            "attr_employees",
            "attr_since",
            "attr_vip",
            "attr_size",
        ]

        def names(**args: str) -> set[str]:
            state = view.parse(MultiDict(args))
            return {row.name for row in db_session.execute(view.filtered_query(state))}

        assert names(attr_region="Київ") == {"ТОВ «А»", "ТОВ «В»"}
        assert names(attr_size="Великий") == {"ТОВ «В»"}
        assert names(attr_vip="yes") == {"ТОВ «А»"}
        assert names(attr_vip="no") == {"ТОВ «Б»"}
        assert names(attr_employees_from="10") == {"ТОВ «Б»", "ТОВ «В»"}
        assert names(attr_employees_from="10", attr_employees_to="100") == {"ТОВ «Б»"}
        assert names(attr_since_to="2021-12-31") == {"ТОВ «А»"}
        assert names(attr_employees_from="lots") == set(data)  # ignored, never an error
        assert view.filters[0].template.endswith("attribute_filter_text.html")

        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
            if not statement.startswith(("SAVEPOINT", "RELEASE")):
                statements.append(statement)

        event.listen(_vitrylo_db.db.engine, "before_cursor_execute", count)
        try:
            page = view.page(db_session, MultiDict({"attr_region": "Київ"}))
        finally:
            event.remove(_vitrylo_db.db.engine, "before_cursor_execute", count)
        assert len(statements) == 1
        rows = {row.name: row for row in page.rows}
        assert rows["ТОВ «В»"].attr_employees == Decimal(500)
        assert rows["ТОВ «А»"].attr_since == date(2020, 1, 1) and rows["ТОВ «А»"].attr_vip is True
        assert rows["ТОВ «В»"].attr_since is None
        columns = attribute_export_columns("counterparty", db_session)
        assert [c.code for c in columns] == ["region", "employees", "since", "vip", "size"]
        assert columns[3].text(True) == "yes"


# -- the card tab -----------------------------------------------------------------------------


def test_the_card_tab_saves_values_and_says_what_is_wrong(vitrylo_app, db_session, login, attrs):
    attrs["region"].required = True
    db_session.commit()
    olena = english(db_session, login([READ, UPDATE]))
    record_id = counterparty_of(db_session, olena)
    url = f"/crm/counterparties/{record_id}/attributes"
    assert "crm_base.attributes" in tab_ids(vitrylo_app, db_session, olena, record_id)
    fragment = olena.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'name="attr_region"' in fragment and "<html" not in fragment

    bad = post(
        vitrylo_app,
        olena,
        url,
        {
            "attr_region": "",
            "attr_employees": "багато",
            "attr_since": "2023-02-30",
            "attr_vip": "yes",
        },
    )
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert "This field is required." in page and "Enter a number" in page
    assert "Enter a date as YYYY-MM-DD." in page
    assert stored(db_session, record_id) == {}

    good = post(
        vitrylo_app,
        olena,
        url,
        {
            "attr_region": "Одеса",
            "attr_employees": "7",
            "attr_since": "2021-03-04",
            "attr_vip": "no",
            "attr_size": "",
        },
    )
    assert good.status_code == 303
    assert stored(db_session, record_id) == {
        "region": ("Одеса",),
        "employees": (Decimal(7),),
        "since": (date(2021, 3, 4),),
        "vip": (False,),
    }
    shown = olena.get(good.location).get_data(as_text=True)
    assert 'value="Одеса"' in shown and 'value="2021-03-04"' in shown


def test_the_card_tab_is_scoped_and_guarded(vitrylo_app, db_session, login, attrs):
    olena = english(db_session, login([READ, UPDATE]))
    theirs = counterparty_of(db_session, login([READ]), "ТОВ «Чуже»")
    for record_id in (theirs, HUGE_ID):
        url = f"/crm/counterparties/{record_id}/attributes"
        assert olena.get(url).status_code == 404
        assert post(vitrylo_app, olena, url, {"attr_region": "x"}).status_code == 404
    assert "crm_base.attributes" not in tab_ids(vitrylo_app, db_session, olena, theirs)
    assert stored(db_session, theirs) == {}

    reader = english(db_session, login([READ]))
    mine = counterparty_of(db_session, reader, "ТОВ «Моє»")
    url = f"/crm/counterparties/{mine}/attributes"
    shown = reader.get(url).get_data(as_text=True)
    assert "disabled" in shown and ">Save<" not in shown
    assert post(vitrylo_app, reader, url, {"attr_region": "x"}).status_code == 403
    assert login([]).get(url).status_code == 403
    assert stored(db_session, mine) == {}


def test_contact_persons_have_their_own_attributes_and_scope(vitrylo_app, db_session, login):
    define(db_session, "hobby", subject="person")
    define(db_session, "region")  # a counterparty attribute: not on a person's tab
    olena = english(db_session, login(["crm_base.person.read", "crm_base.person.update"]))
    petro = login(["crm_base.person.read"])
    mine = Person(
        last_name="Шевченко", full_name="Шевченко", manager_id=user_of(db_session, olena).id
    )
    theirs = Person(
        last_name="Франко", full_name="Франко", manager_id=user_of(db_session, petro).id
    )
    db_session.add_all([mine, theirs])
    db_session.commit()
    url = f"/crm/persons/{mine.id}/attributes"
    page = olena.get(url).get_data(as_text=True)
    assert 'name="attr_hobby"' in page and 'name="attr_region"' not in page
    assert post(vitrylo_app, olena, url, {"attr_hobby": "Шахи"}).status_code == 303
    assert load_values(db_session, "person", [mine.id]) == {mine.id: {"hobby": "Шахи"}}
    assert olena.get(f"/crm/persons/{theirs.id}/attributes").status_code == 404
    assert post(vitrylo_app, petro, f"/crm/persons/{theirs.id}/attributes", {}).status_code == 403

    from addons.crm_base.attributes import person_card_tabs

    def tabs(client, person_id):  # type: ignore[no-untyped-def]
        user = user_of(db_session, client)
        with vitrylo_app.test_request_context("/"):
            login_user(LoginUser(user))
            return [t.url for t in person_card_tabs(person_id, user)]

    assert tabs(olena, mine.id) == [url] and tabs(olena, theirs.id) == []
    group = db_session.scalar(
        select(UserGroup.group_id).where(UserGroup.user_id == user_of(db_session, olena).id)
    )
    db_session.add(GroupScope(group_id=group, subject=PERSON_SUBJECT, scope="all"))
    db_session.commit()
    assert olena.get(f"/crm/persons/{theirs.id}/attributes").status_code == 200


def test_a_list_with_attributes_renders_its_filters_and_cells(
    vitrylo_app, db_session, login, attrs
):
    client = login([READ])
    record_id = counterparty_of(db_session, client, "ТОВ «Видно»")
    save_values(
        db_session, "counterparty", record_id, {"size": "Малий", "vip": "так"}, partial=True
    )
    db_session.commit()
    with vitrylo_app.test_request_context("/crm/counterparties?attr_size=Малий"):
        login_user(LoginUser(user_of(db_session, client)))
        view = with_attributes(LIST, "counterparty", Counterparty.id, session=db_session)
        html = view.render(template="core/ui/list.html").get_data(as_text=True)
        flt = view.filters[1]  # employees: a number range, drawn by its own template
        rid = view.region_id
        state = view.parse(MultiDict({"attr_employees_from": "3"}))
        from flask import render_template

        inputs = render_template(flt.template, flt=flt, rid=rid, state=state)
    assert 'name="attr_size"' in html and '<option value="Малий" selected>' in html
    assert 'name="attr_since_from"' in html and "ТОВ «Видно»" in html
    assert 'name="attr_employees_from" value="3"' in inputs


def test_a_deleted_record_takes_its_values_along(db_session, attrs):
    define(db_session, "hobby", subject="person")
    record = Counterparty(name="ТОВ «Тимчасове»")
    person = Person(last_name="Тимчасовий", full_name="Тимчасовий")
    db_session.add_all([record, person])
    db_session.flush()
    save_values(db_session, "counterparty", record.id, {"region": "Київ"}, partial=True)
    save_values(db_session, "person", person.id, {"hobby": "Шахи"})
    db_session.commit()
    db_session.delete(record)
    db_session.commit()
    assert load_values(db_session, "counterparty", [record.id]) == {record.id: {}}
    assert load_values(db_session, "person", [person.id]) == {person.id: {"hobby": "Шахи"}}
    db_session.delete(person)
    db_session.commit()
    assert db_session.scalar(select(AttributeValue.record_id)) is None
