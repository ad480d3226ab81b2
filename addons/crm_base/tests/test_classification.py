"""Groups and tags (CL-3): the tree with its materialised paths, the list filters
("everything under this group", tag), the card tab and the bulk actions."""

from __future__ import annotations

import pytest
from flask_login import login_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from addons.crm_base.classification import (
    BULK_GROUP,
    BULK_TAG,
    ClassificationError,
    add_tag_action,
    add_to_group_action,
    create_group,
    group_filter,
    group_subtree_condition,
    move_group,
    tag_condition,
    tag_filter,
    with_classification,
)
from addons.crm_base.models import (
    Counterparty,
    CounterpartyGroup,
    CounterpartyTag,
    Group,
    Tag,
)
from addons.crm_base.tests.test_notes import (
    HUGE_ID,
    counterparty_of,
    english,
    post,
    tab_ids,
    user_of,
)
from core.security import LoginUser
from core.ui import Column, ListView

READ = "crm_base.counterparty.read"
UPDATE = "crm_base.counterparty.update"
CLASSIFY = "crm_base.classification.update"

# A list of counterparties with the two filters, as the counterparty list declares them.
LIST = ListView(
    name="test_classification",
    endpoint="crm_base.counterparties",
    model=Counterparty,
    columns=[Column("name", "Name", Counterparty.name, sortable=True)],
    filters=[group_filter(), tag_filter()],
    default_sort="name",
)


def names_where(db, condition) -> set[str]:
    return set(db.scalars(select(Counterparty.name).where(condition)))


def listed(app, db, **args) -> set[str]:
    """Names the test list shows for these filter parameters."""
    with app.test_request_context("/"):
        state = LIST.parse(MultiDict({k: str(v) for k, v in args.items()}))
        return {row.name for row in db.execute(LIST.filtered_query(state))}


def group_named(db, name: str) -> Group:
    return db.scalar(select(Group).where(Group.name == name))


@pytest.fixture
def admin(login, db_session):
    return english(db_session, login([READ, CLASSIFY]))


@pytest.fixture
def tree(db_session):
    """Клієнти / Київ / Поділ, and Партнери; one counterparty in each group and one in none."""
    root = create_group(db_session, "Клієнти")
    kyiv = create_group(db_session, "Київ", root.id)
    podil = create_group(db_session, "Поділ", kyiv.id)
    partners = create_group(db_session, "Партнери")
    for name, group in (
        ("ТОВ «Корінь»", root),
        ("ТОВ «Київ»", kyiv),
        ("ТОВ «Поділ»", podil),
        ("ТОВ «Партнер»", partners),
        ("ТОВ «Ніде»", None),
    ):
        record = Counterparty(name=name)
        db_session.add(record)
        db_session.flush()
        if group is not None:
            db_session.add(CounterpartyGroup(counterparty_id=record.id, group_id=group.id))
    db_session.commit()
    return root, kyiv, podil, partners


# -- the tree -------------------------------------------------------------------------


def test_groups_are_created_over_http_with_their_paths(vitrylo_app, db_session, admin):
    created = post(vitrylo_app, admin, "/crm/classification/groups", {"group-name": " Клієнти "})
    assert created.status_code == 303
    root = group_named(db_session, "Клієнти")
    assert root.path == f"/{root.id}/" and root.parent_id is None
    post(
        vitrylo_app,
        admin,
        "/crm/classification/groups",
        {"group-name": "Київ", "group-parent_id": root.id},
    )
    kyiv = group_named(db_session, "Київ")
    assert kyiv.parent_id == root.id and kyiv.path == f"/{root.id}/{kyiv.id}/"
    page = admin.get("/crm/classification").get_data(as_text=True)
    assert "Клієнти" in page and "Київ" in page and 'data-confirm="Delete the group' in page

    twin = post(
        vitrylo_app,
        admin,
        "/crm/classification/groups",
        {"group-name": "київ", "group-parent_id": root.id},
    )
    assert twin.status_code == 400
    assert "already has a group with this name" in twin.get_data(as_text=True)
    empty = post(vitrylo_app, admin, "/crm/classification/groups", {"group-name": "  "})
    assert empty.status_code == 400 and "field-error" in empty.get_data(as_text=True)
    assert db_session.scalar(select(Group.id).where(Group.name == "")) is None


def test_moving_a_group_carries_its_subtree_in_one_go(vitrylo_app, db_session, admin, tree):
    root, kyiv, podil, partners = tree
    moved = post(
        vitrylo_app,
        admin,
        f"/crm/classification/groups/{kyiv.id}",
        {"group-name": "Київ", "group-parent_id": partners.id, "group-sort": "0"},
    )
    assert moved.status_code == 303
    db_session.expire_all()
    assert kyiv.parent_id == partners.id
    assert kyiv.path == f"/{partners.id}/{kyiv.id}/"
    assert podil.path == f"/{partners.id}/{kyiv.id}/{podil.id}/"
    assert names_where(db_session, group_subtree_condition(root.id, db_session)) == {"ТОВ «Корінь»"}
    # And back to the top level.
    post(
        vitrylo_app,
        admin,
        f"/crm/classification/groups/{kyiv.id}",
        {"group-name": "Київ", "group-parent_id": ""},
    )
    db_session.expire_all()
    assert kyiv.parent_id is None and podil.path == f"/{kyiv.id}/{podil.id}/"


def test_a_group_cannot_move_under_itself_or_its_descendant(vitrylo_app, db_session, admin, tree):
    root, kyiv, podil, _partners = tree
    for parent in (podil, root):
        refused = post(
            vitrylo_app,
            admin,
            f"/crm/classification/groups/{root.id}",
            {"group-name": "Клієнти", "group-parent_id": parent.id},
        )
        assert refused.status_code == 400
        assert "under itself or one of its own subgroups" in refused.get_data(as_text=True)
    db_session.expire_all()
    assert root.parent_id is None and root.path == f"/{root.id}/"
    assert podil.path == f"/{root.id}/{kyiv.id}/{podil.id}/"
    with pytest.raises(ClassificationError):
        move_group(db_session, kyiv, podil.id)
    # The edit page offers the group's own subtree disabled.
    page = admin.get(f"/crm/classification/groups/{kyiv.id}").get_data(as_text=True)
    assert f'<option disabled value="{podil.id}"' in page or f'value="{podil.id}" disabled' in page


def test_deleting_a_group_takes_its_subgroups_and_keeps_the_counterparties(
    vitrylo_app, db_session, admin, tree
):
    root, kyiv, podil, partners = tree
    ids = [root.id, kyiv.id, podil.id]
    deleted = post(vitrylo_app, admin, f"/crm/classification/groups/{root.id}/delete")
    assert deleted.status_code == 303
    db_session.expire_all()
    assert db_session.scalars(select(Group.id).where(Group.id.in_(ids))).all() == []
    assert (
        db_session.scalars(
            select(CounterpartyGroup.group_id).where(CounterpartyGroup.group_id.in_(ids))
        ).all()
        == []
    )
    assert db_session.scalar(select(Counterparty.id).where(Counterparty.name == "ТОВ «Поділ»"))
    assert db_session.get(Group, partners.id) is not None
    assert (
        post(vitrylo_app, admin, f"/crm/classification/groups/{root.id}/delete").status_code == 404
    )
    assert admin.get(f"/crm/classification/groups/{HUGE_ID}").status_code == 404


def test_reading_needs_the_read_right_changing_the_classification_right(
    vitrylo_app, db_session, login, tree
):
    reader = english(db_session, login([READ]))
    page = reader.get("/crm/classification")
    assert page.status_code == 200 and "Поділ" in page.get_data(as_text=True)
    assert 'name="group-name"' not in page.get_data(as_text=True)  # no forms
    root = tree[0]
    for url, data in (
        ("/crm/classification/groups", {"group-name": "Нова"}),
        (f"/crm/classification/groups/{root.id}", {"group-name": "Інша"}),
        (f"/crm/classification/groups/{root.id}/delete", {}),
        ("/crm/classification/tags", {"tag-name": "VIP", "tag-color": "danger"}),
    ):
        assert post(vitrylo_app, reader, url, data).status_code == 403
    assert login([]).get("/crm/classification").status_code == 403
    assert db_session.get(Group, root.id).name == "Клієнти"


# -- list filters ---------------------------------------------------------------------


def test_subtree_condition_finds_counterparties_in_subgroups(db_session, tree):
    root, kyiv, podil, _partners = tree
    assert names_where(db_session, group_subtree_condition(root.id, db_session)) == {
        "ТОВ «Корінь»",
        "ТОВ «Київ»",
        "ТОВ «Поділ»",
    }
    assert names_where(db_session, group_subtree_condition(kyiv.id, db_session)) == {
        "ТОВ «Київ»",
        "ТОВ «Поділ»",
    }
    assert names_where(db_session, group_subtree_condition(podil.id, db_session)) == {"ТОВ «Поділ»"}
    assert names_where(db_session, group_subtree_condition(HUGE_ID, db_session)) == set()


def test_a_path_prefix_of_digits_is_not_a_subtree(db_session):
    """Group 1900001 is not under group 19000011 although its id is a prefix of the other."""
    short = Group(id=1_900_001, name="A", path="/1900001/")
    long = Group(id=19_000_011, name="B", path="/19000011/")
    db_session.add_all([short, long, Counterparty(id=1_900_001, name="ТОВ «Б»")])
    db_session.flush()
    db_session.add(CounterpartyGroup(counterparty_id=1_900_001, group_id=long.id))
    db_session.flush()
    assert names_where(db_session, group_subtree_condition(short.id, db_session)) == set()
    assert names_where(db_session, group_subtree_condition(long.id, db_session)) == {"ТОВ «Б»"}


def test_the_list_filters_by_group_subtree_and_by_tag(vitrylo_app, db_session, tree):
    root, kyiv, _podil, _partners = tree
    vip = Tag(name="VIP", color="danger")
    db_session.add(vip)
    db_session.flush()
    for name in ("ТОВ «Поділ»", "ТОВ «Ніде»"):
        record_id = db_session.scalar(select(Counterparty.id).where(Counterparty.name == name))
        db_session.add(CounterpartyTag(counterparty_id=record_id, tag_id=vip.id))
    db_session.commit()
    assert listed(vitrylo_app, db_session, group=kyiv.id) == {"ТОВ «Київ»", "ТОВ «Поділ»"}
    assert listed(vitrylo_app, db_session, tag=vip.id) == {"ТОВ «Поділ»", "ТОВ «Ніде»"}
    assert listed(vitrylo_app, db_session, group=root.id, tag=vip.id) == {"ТОВ «Поділ»"}
    assert names_where(db_session, tag_condition([])) == set()
    everything = listed(vitrylo_app, db_session)
    assert listed(vitrylo_app, db_session, group="x'; drop") == everything
    assert listed(vitrylo_app, db_session, group=HUGE_ID) == everything  # ignored, not an error
    with vitrylo_app.test_request_context("/"):
        labels = [label for _v, label in LIST.filters[0].options()]
    assert labels.index("Клієнти") < labels.index("\u00a0" * 3 + "Київ")


# -- tags -------------------------------------------------------------------------------


def test_tags_have_unique_names_and_palette_colours(vitrylo_app, db_session, admin):
    created = post(
        vitrylo_app, admin, "/crm/classification/tags", {"tag-name": "VIP", "tag-color": "danger"}
    )
    assert created.status_code == 303
    tag = db_session.scalar(select(Tag).where(Tag.name == "VIP"))
    assert tag.color == "danger"
    twin = post(
        vitrylo_app, admin, "/crm/classification/tags", {"tag-name": "vip", "tag-color": "info"}
    )
    assert twin.status_code == 400 and "already exists" in twin.get_data(as_text=True)
    odd = post(
        vitrylo_app,
        admin,
        "/crm/classification/tags",
        {"tag-name": "Інше", "tag-color": "#ff0000"},
    )
    assert odd.status_code == 400
    assert db_session.scalar(select(Tag.id).where(Tag.name == "Інше")) is None
    renamed = post(
        vitrylo_app,
        admin,
        f"/crm/classification/tags/{tag.id}",
        {"tag-name": "Ключовий", "tag-color": "success"},
    )
    assert renamed.status_code == 303
    db_session.expire_all()
    assert (tag.name, tag.color) == ("Ключовий", "success")
    form = admin.get(f"/crm/classification/tags/{tag.id}").get_data(as_text=True)
    assert 'value="Ключовий"' in form
    assert "text-bg-success" in admin.get("/crm/classification").get_data(as_text=True)
    assert post(vitrylo_app, admin, f"/crm/classification/tags/{tag.id}/delete").status_code == 303
    assert db_session.scalar(select(Tag.id).where(Tag.id == tag.id)) is None


# -- the card tab -----------------------------------------------------------------------


def test_the_card_tab_saves_groups_and_tags_together(vitrylo_app, db_session, login, tree):
    root, kyiv, podil, _partners = tree
    olena = english(db_session, login([READ, UPDATE]))
    record_id = counterparty_of(db_session, olena)
    vip, new = Tag(name="VIP"), Tag(name="Новий", color="info")
    db_session.add_all([vip, new])
    db_session.commit()
    url = f"/crm/counterparties/{record_id}/classification"
    assert "crm_base.classification" in tab_ids(vitrylo_app, db_session, olena, record_id)

    saved = post(vitrylo_app, olena, url, {"groups": [kyiv.id, podil.id], "tags": [vip.id, new.id]})
    assert saved.status_code == 303
    page = olena.get(saved.location).get_data(as_text=True)
    assert "Клієнти / Київ / Поділ" in page and "<html" in page
    fragment = olena.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "text-bg-info" in fragment

    post(vitrylo_app, olena, url, {"groups": [root.id], "tags": [vip.id]})
    groups = db_session.scalars(
        select(CounterpartyGroup.group_id).where(CounterpartyGroup.counterparty_id == record_id)
    ).all()
    tags = db_session.scalars(
        select(CounterpartyTag.tag_id).where(CounterpartyTag.counterparty_id == record_id)
    ).all()
    assert groups == [root.id] and tags == [vip.id]

    # A guessed group id is refused and nothing changes.
    refused = post(vitrylo_app, olena, url, {"groups": [root.id, HUGE_ID], "tags": []})
    assert refused.status_code == 400 and "field-error" in refused.get_data(as_text=True)
    assert db_session.scalars(
        select(CounterpartyTag.tag_id).where(CounterpartyTag.counterparty_id == record_id)
    ).all() == [vip.id]


def test_the_card_tab_is_scoped_and_guarded(vitrylo_app, db_session, login, tree):
    root = tree[0]
    olena = english(db_session, login([READ, UPDATE]))
    theirs = counterparty_of(db_session, login([READ]), "ТОВ «Чуже»")
    for record_id in (theirs, HUGE_ID, 2_000_000_000):
        url = f"/crm/counterparties/{record_id}/classification"
        assert olena.get(url).status_code == 404
        assert post(vitrylo_app, olena, url, {"groups": [root.id]}).status_code == 404
    assert "crm_base.classification" not in tab_ids(vitrylo_app, db_session, olena, theirs)
    assert (
        db_session.scalar(
            select(CounterpartyGroup.group_id).where(CounterpartyGroup.counterparty_id == theirs)
        )
        is None
    )

    reader = english(db_session, login([READ]))
    mine = counterparty_of(db_session, reader, "ТОВ «Моє»")
    url = f"/crm/counterparties/{mine}/classification"
    shown = reader.get(url)
    assert shown.status_code == 200 and 'name="groups"' not in shown.get_data(as_text=True)
    assert post(vitrylo_app, reader, url, {"groups": [root.id]}).status_code == 403
    assert login([]).get(url).status_code == 403


# -- bulk actions ---------------------------------------------------------------------------


def test_bulk_actions_add_a_tag_and_a_group_once(vitrylo_app, db_session, login, tree):
    _root, kyiv, _podil, _partners = tree
    olena = login([READ, UPDATE])
    ids = [counterparty_of(db_session, olena, f"ТОВ «{n}»") for n in range(3)]
    vip = Tag(name="VIP")
    db_session.add(vip)
    db_session.flush()
    db_session.add(CounterpartyTag(counterparty_id=ids[0], tag_id=vip.id))
    db_session.commit()
    user = user_of(db_session, olena)
    tag_action, group_action = add_tag_action(), add_to_group_action()
    assert tag_action.permission == group_action.permission == UPDATE
    with vitrylo_app.test_request_context("/", method="POST", data={BULK_TAG: str(vip.id)}):
        login_user(LoginUser(user))
        assert tag_action.handler(db_session, ids) == 2
    with vitrylo_app.test_request_context("/", method="POST", data={BULK_GROUP: str(kyiv.id)}):
        login_user(LoginUser(user))
        assert group_action.handler(db_session, ids) == 3
        assert group_action.handler(db_session, ids) == 0
    with vitrylo_app.test_request_context("/", method="POST", data={BULK_TAG: str(HUGE_ID)}):
        login_user(LoginUser(user))
        assert tag_action.handler(db_session, ids) == 0  # and a message: choose a tag
    db_session.commit()
    tagged = db_session.scalars(
        select(CounterpartyTag.counterparty_id).where(CounterpartyTag.tag_id == vip.id)
    ).all()
    assert sorted(tagged) == ids
    assert names_where(db_session, group_subtree_condition(kyiv.id, db_session)) >= {
        "ТОВ «0»",
        "ТОВ «2»",
    }


def test_the_list_draws_the_filters_and_the_bulk_drop_downs(vitrylo_app, db_session, login, tree):
    from flask import render_template

    from addons.crm_base.classification import bulk_choices

    kyiv = tree[1]
    client = login([READ, UPDATE])
    db_session.add(Tag(name="VIP"))
    db_session.commit()
    with vitrylo_app.test_request_context(f"/crm/counterparties?group={kyiv.id}"):
        login_user(LoginUser(user_of(db_session, client)))
        html = LIST.render(template="core/ui/list.html").get_data(as_text=True)
        page = LIST.page(db_session)
        bulk = render_template(
            "crm_base/classification_bulk.html", page=page, classification=bulk_choices()
        )
    assert f'<option value="{kyiv.id}" selected>' in html and "ТОВ «Поділ»" in html
    assert "ТОВ «Партнер»" not in html
    assert 'form="list-test_classification-bulk"' in bulk and ">VIP<" in bulk
    assert 'name="bulk_group_id"' in bulk


def test_with_classification_adds_the_filters_and_bulk_actions():
    plain = ListView(
        name="test_plain",
        endpoint="crm_base.counterparties",
        model=Counterparty,
        columns=[Column("name", "Name", Counterparty.name)],
        bulk_endpoint="crm_base.counterparties_bulk",
    )
    view = with_classification(plain)
    assert [f.key for f in view.filters] == ["group", "tag"]
    assert [a.name for a in view.bulk_actions] == ["add_tag", "add_to_group"]
    assert plain.filters == () and with_classification(plain, bulk=False).bulk_actions == ()
