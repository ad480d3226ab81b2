"""Likely duplicates and the merge tool (issue 5): signals, pages, scope, one transaction."""

from __future__ import annotations

import json
import sys
import textwrap
import uuid

import pytest
from sqlalchemy import func, select

from addons.crm_base.duplicates import find_duplicates, normalize_name
from addons.crm_base.models import (
    SUBJECT,
    Address,
    Attribute,
    AttributeValue,
    Channel,
    Counterparty,
    CounterpartyGroup,
    CounterpartyTag,
    Direction,
    Group,
    Note,
    Person,
    PersonLink,
    Requisites,
    Tag,
    Work,
)
from core.app import create_app
from core.models import Attachment, AuditEntry, User
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token

READ = "crm_base.counterparty.read"
MERGE = "crm_base.counterparty.merge"


def user_id(db_session, client):
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


def company(db_session, name, manager_id=None, **values):
    record = Counterparty(name=name, manager_id=manager_id, **values)
    db_session.add(record)
    db_session.flush()
    return record


def channel(db_session, record, kind, value, **values):
    db_session.add(Channel(counterparty_id=record.id, kind=kind, value=value, **values))
    db_session.flush()


def reasons(found, record):
    return next(d.reasons for d in found if d.id == record.id)


# -- normalising and the signals ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ТОВ «Ромашка»", "ромашка"),
        ("Ромашка, ТОВ", "ромашка"),
        ("ПрАТ 'Зоря-Світ'", "зоря світ"),
        ("ТзОВ “Калина” ", "калина"),
        ("ФОП Іваненко Іван", "іваненко іван"),
        ("Товариство з обмеженою відповідальністю «Явір»", "явір"),
        ("Romashka LLC", "romashka"),
        ("ТОВ", ""),
    ],
)
def test_normalize_name_drops_legal_forms_quotes_and_punctuation(raw, normalized):
    assert normalize_name(raw) == normalized


def test_duplicates_by_tax_code_on_the_record_or_its_requisites(db_session):
    own = company(db_session, "ТОВ «Перша»", tax_code="32855961")
    other = company(db_session, "ТОВ «Друга»")
    db_session.add(Requisites(counterparty_id=other.id, full_name="Друга", tax_code="32855961"))
    company(db_session, "ТОВ «Третя»", tax_code="14360570")
    found = find_duplicates(db_session, tax_code=" 32855961 ")
    assert {d.id for d in found} == {own.id, other.id}
    assert reasons(found, own) == ["tax_code"]
    assert find_duplicates(db_session, tax_code="32855961", exclude_id=own.id)[0].id == other.id


def test_duplicates_by_normalised_phone_and_email(db_session):
    record = company(db_session, "ТОВ «Телефонна»")
    channel(db_session, record, "phone", "+380441234567")
    channel(db_session, record, "email", "office@example.com")
    by_phone = find_duplicates(db_session, phones=["044 123-45-67"])
    assert [d.id for d in by_phone] == [record.id] and by_phone[0].reasons == ["phone"]
    by_email = find_duplicates(db_session, emails=["Office@Example.COM"])
    assert [d.id for d in by_email] == [record.id] and by_email[0].reasons == ["email"]
    assert find_duplicates(db_session, phones=["not a phone"], emails=["nope"]) == []


def test_duplicates_by_same_or_similar_name(db_session):
    same = company(db_session, "ТОВ «Ромашка Сервіс»")
    similar = company(db_session, "Ромашка Сервис, ТОВ")  # "и" for "і": a typo
    upper = company(db_session, 'ПРАТ "РОМАШКА-СЕРВІС"')
    company(db_session, "ТОВ «Ромашка»")  # shares a word only
    company(db_session, "ТОВ «Волошка Сервіс»")
    found = find_duplicates(db_session, name="Ромашка-Сервіс, ТОВ")
    assert {d.id for d in found} == {same.id, similar.id, upper.id}
    assert reasons(found, same) == ["same_name"] and reasons(found, upper) == ["same_name"]
    assert reasons(found, similar) == ["similar_name"]
    assert 0.85 <= next(d.score for d in found if d.id == similar.id) < 1


def test_strong_signals_come_first_and_the_limit_applies(db_session):
    by_name = company(db_session, "ТОВ «Сокіл»")
    by_code = company(db_session, "Зовсім інша назва", tax_code="32855961")
    found = find_duplicates(db_session, name="Сокіл", tax_code="32855961")
    assert [d.id for d in found] == [by_code.id, by_name.id]
    assert len(find_duplicates(db_session, name="Сокіл", tax_code="32855961", limit=1)) == 1


# -- the pages ------------------------------------------------------------------------


@pytest.fixture
def pair(db_session, login):
    """Olena reaches two lookalikes; a third one is Petro's."""
    olena = login([READ, MERGE, "crm_base.counterparty.update"])
    petro = login([READ])
    mine = company(db_session, "ТОВ «Ромашка»", user_id(db_session, olena), tax_code="32855961")
    twin = company(db_session, "Ромашка ТОВ", user_id(db_session, olena))
    theirs = company(db_session, "ПП Ромашка", user_id(db_session, petro))
    db_session.commit()
    return olena, petro, mine, twin, theirs


def test_duplicates_tab_lists_those_in_scope_and_counts_the_others(pair):
    olena, _petro, mine, twin, theirs = pair
    fragment = olena.get(
        f"/crm/counterparties/{mine.id}/duplicates", headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html
    assert f'data-record-id="{twin.id}"' in html and f'data-record-id="{theirs.id}"' not in html
    assert "ПП Ромашка" not in html and "crm-duplicates-hidden" in html
    assert f"/crm/counterparties/{mine.id}/merge/{twin.id}" in html
    page = olena.get(f"/crm/counterparties/{mine.id}/duplicates")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)


def test_duplicates_tab_403_without_right_and_404_out_of_scope(pair, login):
    olena, petro, mine, _twin, theirs = pair
    assert login([]).get(f"/crm/counterparties/{mine.id}/duplicates").status_code == 403
    assert petro.get(f"/crm/counterparties/{mine.id}/duplicates").status_code == 404
    assert olena.get(f"/crm/counterparties/{theirs.id}/duplicates").status_code == 404
    assert olena.get("/crm/counterparties/99999999999/duplicates").status_code == 404


def test_card_offers_the_duplicates_tab(pair):
    olena, _petro, mine, _twin, _theirs = pair
    card = olena.get(f"/crm/counterparties/{mine.id}").get_data(as_text=True)
    assert f"/crm/counterparties/{mine.id}/duplicates" in card


def test_the_check_a_create_form_calls(pair):
    olena, _petro, mine, twin, _theirs = pair
    hx = {"HX-Request": "true"}
    html = olena.get("/crm/counterparties/duplicates/check?name=Ромашка", headers=hx).get_data(
        as_text=True
    )
    assert "crm-duplicates-check" in html and f"/crm/counterparties/{twin.id}" in html
    none = olena.get("/crm/counterparties/duplicates/check?name=Зовсім+нова", headers=hx)
    assert none.status_code == 200 and none.get_data(as_text=True).strip() == ""
    by_code = olena.get(
        "/crm/counterparties/duplicates/check?tax_code=32855961", headers=hx
    ).get_data(as_text=True)
    assert f"/crm/counterparties/{mine.id}" in by_code
    long = olena.get("/crm/counterparties/duplicates/check?name=" + "я" * 5000, headers=hx)
    assert long.status_code == 200


# -- merging --------------------------------------------------------------------------


@pytest.fixture
def loaded(db_session, pair):
    """The duplicate (``twin``) has one of everything; the kept one (``mine``) shares some."""
    olena, _petro, mine, twin, _theirs = pair
    twin.website, twin.external_id, twin.notes = "https://romashka.ua", "ext-1", "Зі старої бази"
    mine.notes = "Основна картка"
    channel(db_session, mine, "phone", "+380441234567", is_primary=True)
    channel(db_session, twin, "phone", "+380441234567")  # the same: not doubled
    channel(db_session, twin, "phone", "+380671234567", is_primary=True)
    channel(db_session, twin, "email", "twin@example.com")
    db_session.add(Address(counterparty_id=twin.id, kind="legal", city="Київ", line="Хрещатик 1"))
    shared, own = (
        Person(last_name="Спільна", full_name="Спільна"),
        Person(last_name="Своя", full_name="Своя"),
    )
    group, tag = Group(name="Опт"), Tag(name=f"vip-{uuid.uuid4().hex[:6]}")
    direction, other_direction = (
        Direction(name=f"Продажі {uuid.uuid4().hex[:6]}"),
        Direction(name=f"Сервіс {uuid.uuid4().hex[:6]}"),
    )
    text_attr = Attribute(subject="counterparty", code=f"a{uuid.uuid4().hex[:6]}", label="A")
    both_attr = Attribute(subject="counterparty", code=f"b{uuid.uuid4().hex[:6]}", label="B")
    person_attr = Attribute(subject="person", code=f"p{uuid.uuid4().hex[:6]}", label="P")
    db_session.add_all(
        [shared, own, group, tag, direction, other_direction, text_attr, both_attr, person_attr]
    )
    db_session.flush()
    db_session.add_all(
        [
            PersonLink(person_id=shared.id, counterparty_id=mine.id, role="директор"),
            PersonLink(person_id=shared.id, counterparty_id=twin.id, role="бухгалтер"),
            PersonLink(person_id=own.id, counterparty_id=twin.id),
            CounterpartyGroup(counterparty_id=mine.id, group_id=group.id),
            CounterpartyGroup(counterparty_id=twin.id, group_id=group.id),
            CounterpartyTag(counterparty_id=twin.id, tag_id=tag.id),
            AttributeValue(attribute_id=text_attr.id, record_id=twin.id, value_text="з дубля"),
            AttributeValue(attribute_id=both_attr.id, record_id=mine.id, value_text="основне"),
            AttributeValue(attribute_id=both_attr.id, record_id=twin.id, value_text="дубль"),
            # a person's attribute value with the same record id is not the counterparty's
            AttributeValue(attribute_id=person_attr.id, record_id=twin.id, value_text="особа"),
            Requisites(counterparty_id=twin.id, full_name="Ромашка", tax_code="32855961"),
            Work(counterparty_id=mine.id, direction_id=direction.id),
            Work(counterparty_id=twin.id, direction_id=direction.id),
            Work(counterparty_id=twin.id, direction_id=other_direction.id),
            Note(counterparty_id=twin.id, text="Нотатка дубля"),
            Attachment(
                subject=SUBJECT,
                subject_id=str(twin.id),
                filename="a.pdf",
                content_type="application/pdf",
                size=1,
                sha256="0" * 64,
                storage_key=f"ab/{uuid.uuid4().hex}",
            ),
        ]
    )
    db_session.commit()
    ids = {
        "direction": direction.id,
        "other_direction": other_direction.id,
        "text_attr": text_attr.id,
        "both_attr": both_attr.id,
        "person_attr": person_attr.id,
        "shared": shared.id,
        "own": own.id,
        "group": group.id,
        "tag": tag.id,
    }
    return olena, mine, twin, ids


def post_merge(app, client, target, source, **data):
    data = {
        "csrf_token": csrf_token(app, client),
        "source_version": str(source.version),
        "target_version": str(target.version),
        **data,
    }
    return client.post(f"/crm/counterparties/{target.id}/merge/{source.id}", data=data)


def test_merge_page_shows_both_and_what_moves(loaded):
    olena, mine, twin, _ids = loaded
    page = olena.get(f"/crm/counterparties/{mine.id}/merge/{twin.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "ТОВ «Ромашка»" in html and "Ромашка ТОВ" in html and "https://romashka.ua" in html
    assert "crm-merge-filled" in html and "crm-merge-moving" in html
    assert f"/crm/counterparties/{twin.id}/merge/{mine.id}" in html  # the other way round


def test_merge_moves_everything_fills_empty_fields_and_audits(vitrylo_app, db_session, loaded):
    olena, mine, twin, ids = loaded
    mine_id, twin_id = mine.id, twin.id
    response = post_merge(vitrylo_app, olena, mine, twin)
    assert response.status_code == 303 and response.location.endswith(f"/counterparties/{mine_id}")
    db_session.expire_all()
    assert db_session.get(Counterparty, twin_id) is None
    kept = db_session.get(Counterparty, mine_id)
    assert (kept.website, kept.external_id, kept.tax_code) == (
        "https://romashka.ua",
        "ext-1",
        "32855961",
    )
    assert kept.notes == "Основна картка\n\nЗі старої бази"

    def rows(*columns, where):
        return sorted(db_session.execute(select(*columns).where(where)).all())

    assert rows(
        Channel.kind, Channel.value, Channel.is_primary, where=Channel.counterparty_id == mine_id
    ) == [
        ("email", "twin@example.com", False),
        ("phone", "+380441234567", True),
        ("phone", "+380671234567", False),  # one primary phone kept
    ]
    assert rows(Address.city, where=Address.counterparty_id == mine_id) == [("Київ",)]
    assert rows(
        PersonLink.person_id, PersonLink.role, where=PersonLink.counterparty_id == mine_id
    ) == sorted([(ids["shared"], "директор"), (ids["own"], "")])
    assert rows(CounterpartyGroup.group_id, where=CounterpartyGroup.counterparty_id == mine_id) == [
        (ids["group"],)
    ]
    assert rows(CounterpartyTag.tag_id, where=CounterpartyTag.counterparty_id == mine_id) == [
        (ids["tag"],)
    ]
    values = dict(
        db_session.execute(
            select(AttributeValue.attribute_id, AttributeValue.value_text).where(
                AttributeValue.record_id == mine_id
            )
        ).all()
    )
    assert values == {ids["text_attr"]: "з дубля", ids["both_attr"]: "основне"}
    person_value = db_session.scalar(
        select(AttributeValue.value_text).where(
            AttributeValue.attribute_id == ids["person_attr"], AttributeValue.record_id == twin_id
        )
    )
    assert person_value == "особа"
    assert rows(Requisites.tax_code, where=Requisites.counterparty_id == mine_id) == [("32855961",)]
    assert rows(Work.direction_id, where=Work.counterparty_id == mine_id) == sorted(
        [(ids["direction"],), (ids["other_direction"],)]
    )
    assert rows(Note.text, where=Note.counterparty_id == mine_id) == [("Нотатка дубля",)]
    assert rows(Attachment.filename, where=Attachment.subject_id == str(mine_id)) == [("a.pdf",)]
    entry = db_session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "merge", AuditEntry.subject_id == str(mine_id)
        )
    ).one()
    changes = json.loads(entry.changes)
    assert changes["source"] == str(twin_id) and changes["source_name"] == "Ромашка ТОВ"
    moved = json.loads(changes["moved"])
    assert moved["channels"] == 2 and moved["persons"] == 1 and moved["works"] == 1
    assert moved["attachments"] == 1 and "website" in moved["filled"]
    assert entry.user_id == user_id(db_session, olena)


def test_merge_error_changes_nothing(vitrylo_app, db_session, loaded, monkeypatch):
    olena, mine, twin, _ids = loaded
    mine_id, twin_id = mine.id, twin.id
    kernel = vitrylo_app.extensions["vitrylo"]

    def broken(*args, **kwargs):
        raise RuntimeError("another addon failed")

    monkeypatch.setattr(kernel.hooks, "merge_records", broken)
    before = db_session.scalar(select(func.count()).select_from(Channel))
    response = post_merge(vitrylo_app, olena, mine, twin)
    assert response.status_code == 303 and "/merge/" in response.location
    db_session.expire_all()
    assert db_session.get(Counterparty, twin_id) is not None
    assert db_session.get(Counterparty, mine_id).website == ""
    assert db_session.scalar(select(func.count()).select_from(Channel)) == before
    assert (
        db_session.scalar(
            select(func.count()).select_from(Note).where(Note.counterparty_id == twin_id)
        )
        == 1
    )
    assert not db_session.scalars(select(AuditEntry).where(AuditEntry.action == "merge")).all()


def test_merge_refused_without_right_out_of_scope_or_stale(vitrylo_app, db_session, pair, login):
    olena, _petro, mine, twin, theirs = pair
    reader = login([READ])
    assert reader.get(f"/crm/counterparties/{mine.id}/merge/{twin.id}").status_code == 403
    assert post_merge(vitrylo_app, reader, mine, twin).status_code == 403
    for target, source in ((mine, theirs), (theirs, mine)):
        assert olena.get(f"/crm/counterparties/{target.id}/merge/{source.id}").status_code == 404
        assert post_merge(vitrylo_app, olena, target, source).status_code == 404
    assert olena.get(f"/crm/counterparties/{mine.id}/merge/{mine.id}").status_code == 404
    assert olena.get(f"/crm/counterparties/{mine.id}/merge/99999999999").status_code == 404
    assert olena.get(f"/crm/counterparties/{mine.id}/merge/2147483000").status_code == 404
    no_token = olena.post(f"/crm/counterparties/{mine.id}/merge/{twin.id}", data={})
    assert no_token.status_code == 400
    stale = post_merge(vitrylo_app, olena, mine, twin, source_version="0")
    assert stale.status_code == 303
    db_session.expire_all()
    assert db_session.get(Counterparty, twin.id) is not None
    assert db_session.get(Counterparty, theirs.id) is not None


# -- other addons' rows, through the merge_records hook -------------------------------

ADDON_INIT = """
from core import hookimpl

MERGED = []
FAIL = []


@hookimpl
def merge_records(subject, source_id, target_id, session):
    if subject != "crm_base.counterparty":
        return 0
    if FAIL:
        raise RuntimeError("cannot move")
    MERGED.append((source_id, target_id))
    return 3
"""


def test_merge_calls_other_addons_through_the_hook(tmp_path, make_kernel):
    """A throw-away addon counts the merges it is told about (and can refuse one)."""
    name = f"mergecount_{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "addons" / name
    folder.mkdir(parents=True)
    (folder / "addon.toml").write_text(
        textwrap.dedent(f"""\
        name = "{name}"
        label = "Merge counter"
        version = "0.1.0"
        license = "free"
        depends = ["crm_base"]
        """),
        encoding="utf-8",
    )
    (folder / "__init__.py").write_text(ADDON_INIT, encoding="utf-8")
    kernel = make_kernel(["crm_base", name], addon_paths=[tmp_path / "addons"])
    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    with kernel.db.session_factory() as session:
        admin = create_user(session, "merger", [READ, MERGE])
        ids = []
        for title in ("ТОВ «Явір»", "Явір ТОВ", "ТОВ «Явір»"):
            record = Counterparty(name=title, manager_id=admin.id)
            session.add(record)
            session.flush()
            ids.append(record.id)
        session.commit()
    client = app.test_client()
    signed = client.post(
        "/login",
        data={"login": "merger", "password": TEST_PASSWORD, "csrf_token": csrf_token(app, client)},
    )
    assert signed.status_code == 302
    module = next(m for key, m in sys.modules.items() if key.split(".")[-1] == name)

    def merge(target, source):
        return client.post(
            f"/crm/counterparties/{target}/merge/{source}",
            data={
                "csrf_token": csrf_token(app, client),
                "source_version": "1",
                "target_version": "1",
            },
        )

    assert merge(ids[0], ids[1]).location.endswith(f"/counterparties/{ids[0]}")
    assert [(ids[1], ids[0])] == module.MERGED
    module.FAIL.append(True)
    assert merge(ids[0], ids[2]).status_code == 303  # refused by the addon: nothing changed
    with kernel.db.session_factory() as session:
        assert session.get(Counterparty, ids[2]) is not None
        assert session.get(Counterparty, ids[1]) is None
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "merge")).one()
        assert json.loads(json.loads(entry.changes)["moved"])[f"addon:{name}"] == 3
