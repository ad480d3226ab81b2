"""Lead sources (MS-5): the admin page, costs, the counterparty's source on its card,
merging counterparties, the choices offered to other forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.sales.models import (
    CounterpartySource,
    Source,
    SourceCost,
)
from addons.sales.sources import merge_records, source_choices
from addons.sales.tests.helpers import make_opportunity, post

ADMIN = "sales.source.update"
CARD = ["crm_base.counterparty.read", "crm_base.counterparty.update"]


@pytest.fixture
def admin(slogin):
    return slogin([ADMIN])


def make_source(sdb, name="Exhibition", sort=1, active=True):
    source = Source(name=name, sort=sort, active=active)
    sdb.add(source)
    sdb.commit()
    return source


# -- the sources page -------------------------------------------------------------------


def test_create_rename_reorder_and_deactivate(sales_app, sdb, admin):
    """MS-5: sources are configurable."""
    response = post(sales_app, admin, "/sales/sources", name="  Виставка «Агро»  ")
    assert response.status_code == 303
    source = sdb.scalar(select(Source).where(Source.name == "Виставка «Агро»"))
    assert source is not None and source.active
    response = post(sales_app, admin, f"/sales/sources/{source.id}", name="Web site", sort="5")
    assert response.status_code == 303
    sdb.refresh(source)
    assert (source.name, source.sort, source.active) == ("Web site", 5, False)
    post(sales_app, admin, f"/sales/sources/{source.id}", name="Web site", sort="5", active="y")
    sdb.refresh(source)
    assert source.active
    page = admin.get("/sales/sources").get_data(as_text=True)
    assert "Web site" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "This field is required"),
        ({"name": "x" * 201}, "200"),
        ({"name": "exhibition"}, "already exists"),
        ({"name": "Radio", "sort": "abc"}, "Not a valid integer"),
        ({"name": "Radio", "sort": "99999999999"}, "between"),
    ],
)
def test_bad_source_input_saves_nothing(sales_app, sdb, admin, data, message):
    make_source(sdb)
    response = post(sales_app, admin, "/sales/sources", **data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert sdb.scalar(select(func.count()).select_from(Source)) == 1


def test_rename_to_a_taken_name_is_refused(sales_app, sdb, admin):
    make_source(sdb, "Exhibition")
    radio = make_source(sdb, "Radio", 2)
    response = post(sales_app, admin, f"/sales/sources/{radio.id}", name="EXHIBITION")
    assert response.status_code == 400
    sdb.refresh(radio)
    assert radio.name == "Radio"


def test_delete_an_unused_source(sales_app, sdb, admin):
    source = make_source(sdb)
    response = post(sales_app, admin, f"/sales/sources/{source.id}/delete")
    assert response.status_code == 303
    sdb.expire_all()
    assert sdb.get(Source, source.id) is None


def test_a_source_in_use_is_deactivated_not_deleted(sales_app, sdb, admin, counterparty):
    source = make_source(sdb)
    sdb.add(CounterpartySource(counterparty_id=counterparty().id, source_id=source.id))
    sdb.commit()
    response = post(sales_app, admin, f"/sales/sources/{source.id}/delete")
    assert response.status_code == 303
    sdb.expire_all()
    kept = sdb.get(Source, source.id)
    assert kept is not None and not kept.active
    page = admin.get("/sales/sources").get_data(as_text=True)
    assert "made inactive instead of deleted" in page


def test_a_source_with_an_opportunity_is_in_use(sales_app, sdb, admin, counterparty):
    source = make_source(sdb)
    make_opportunity(sdb, counterparty().id, None, source_id=source.id)
    post(sales_app, admin, f"/sales/sources/{source.id}/delete")
    sdb.expire_all()
    assert sdb.get(Source, source.id).active is False


def test_sources_need_the_right(sales_app, sdb, slogin):
    source = make_source(sdb)
    client = slogin(["sales.report.read"])
    assert client.get("/sales/sources").status_code == 403
    assert post(sales_app, client, "/sales/sources", name="New").status_code == 403
    assert post(sales_app, client, f"/sales/sources/{source.id}/delete").status_code == 403
    assert client.get(f"/sales/sources/{source.id}/costs").status_code == 403


def test_unknown_source_is_404_and_a_post_needs_csrf(sales_app, sdb, admin):
    source = make_source(sdb)
    assert admin.get("/sales/sources/999999/costs").status_code == 404
    assert admin.get("/sales/sources/99999999999/costs").status_code == 404
    assert post(sales_app, admin, "/sales/sources/999999", name="X").status_code == 404
    assert admin.post(f"/sales/sources/{source.id}/delete").status_code == 400
    assert sdb.get(Source, source.id) is not None


# -- costs ------------------------------------------------------------------------------


def test_add_and_delete_costs(sales_app, sdb, admin):
    """MS-5: what a source cost, per day."""
    source = make_source(sdb)
    url = f"/sales/sources/{source.id}/costs"
    response = post(sales_app, admin, url, spent_on="2024-05-20", amount="1 200,505", note="Stand")
    assert response.status_code == 303
    cost = sdb.scalar(select(SourceCost).where(SourceCost.source_id == source.id))
    assert cost.amount == Decimal("1200.51") and cost.note == "Stand"
    assert post(sales_app, admin, url, spent_on="2024-05-21", amount="0").status_code == 303
    page = admin.get(url).get_data(as_text=True)
    assert "Stand" in page and "1" in page
    response = post(sales_app, admin, f"/sales/sources/costs/{cost.id}/delete")
    assert response.status_code == 303
    sdb.expire_all()
    assert sdb.get(SourceCost, cost.id) is None
    assert post(sales_app, admin, "/sales/sources/costs/999999/delete").status_code == 404


@pytest.mark.parametrize(
    "data",
    [
        {"spent_on": "2024-05-20", "amount": "-1"},
        {"spent_on": "2024-05-20", "amount": "abc"},
        {"spent_on": "2024-05-20", "amount": "NaN"},
        {"spent_on": "2024-05-20", "amount": "Infinity"},
        {"spent_on": "2024-05-20", "amount": "1e20"},
        {"spent_on": "2024-05-20", "amount": ""},
        {"spent_on": "", "amount": "10"},
        {"spent_on": "2024-02-30", "amount": "10"},
        {"spent_on": "0001-01-01", "amount": "10"},
        {"spent_on": "2024-05-20", "amount": "10", "note": "x" * 301},
    ],
)
def test_bad_cost_input_saves_nothing(sales_app, sdb, admin, data):
    source = make_source(sdb)
    response = post(sales_app, admin, f"/sales/sources/{source.id}/costs", **data)
    assert response.status_code == 400
    assert "field-error" in response.get_data(as_text=True)
    assert sdb.scalar(select(func.count()).select_from(SourceCost)) == 0


def test_costs_page_is_keyset_paginated(sales_app, sdb, admin):
    source = make_source(sdb)
    sdb.add_all(
        SourceCost(source_id=source.id, spent_on=datetime(2024, 1, 1 + n % 28).date(), amount=n)
        for n in range(60)
    )
    sdb.commit()
    first = admin.get(f"/sales/sources/{source.id}/costs").get_data(as_text=True)
    assert "Older costs" in first and first.count('data-confirm="Delete this cost?"') == 50
    more = re.search(r'href="([^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    second = admin.get(more)
    assert second.status_code == 200
    assert second.get_data(as_text=True).count('data-confirm="Delete this cost?"') == 10
    assert admin.get(f"/sales/sources/{source.id}/costs?after=garbage").status_code == 200


# -- the counterparty's source ----------------------------------------------------------


def test_card_tab_sets_changes_and_clears_the_source(sales_app, sdb, slogin, counterparty):
    """MS-5: the source of a counterparty, on its card."""
    client = slogin(CARD)
    company = counterparty(manager_id=client.user_id)
    exhibition, web = make_source(sdb), make_source(sdb, "Web", 2)
    url = f"/sales/counterparties/{company.id}/source"
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and "not known" in text and "Exhibition" in text
    assert post(sales_app, client, url, source_id=str(exhibition.id)).status_code == 303
    row = sdb.get(CounterpartySource, company.id)
    assert row.source_id == exhibition.id
    since = row.created_at
    assert post(sales_app, client, url, source_id=str(web.id)).status_code == 303
    sdb.expire_all()
    row = sdb.get(CounterpartySource, company.id)
    assert row.source_id == web.id and row.created_at == since
    page = client.get(url).get_data(as_text=True)
    assert "Web" in page and "Back to the card" in page
    assert post(sales_app, client, url, source_id="").status_code == 303
    sdb.expire_all()
    assert sdb.get(CounterpartySource, company.id) is None


def test_card_tab_refuses_unknown_and_inactive_sources(sales_app, sdb, slogin, counterparty):
    client = slogin(CARD)
    company = counterparty(manager_id=client.user_id)
    old = make_source(sdb, "Old", active=False)
    url = f"/sales/counterparties/{company.id}/source"
    for value in (str(old.id), "999999", "abc"):
        response = post(sales_app, client, url, source_id=value)
        assert response.status_code == 400
        assert "field-error" in response.get_data(as_text=True)
    assert sdb.get(CounterpartySource, company.id) is None
    # an inactive source already set stays selectable
    sdb.add(CounterpartySource(counterparty_id=company.id, source_id=old.id))
    sdb.commit()
    assert post(sales_app, client, url, source_id=str(old.id)).status_code == 303


def test_card_tab_rights_and_scope(sales_app, sdb, slogin, counterparty):
    source = make_source(sdb)
    reader = slogin(["crm_base.counterparty.read"])
    mine = counterparty(manager_id=reader.user_id)
    url = f"/sales/counterparties/{mine.id}/source"
    page = reader.get(url, headers={"HX-Request": "true"})
    assert page.status_code == 200 and "<form" not in page.get_data(as_text=True)
    assert post(sales_app, reader, url, source_id=str(source.id)).status_code == 403
    editor = slogin(CARD)
    theirs = f"/sales/counterparties/{mine.id}/source"  # the reader's, not the editor's
    assert editor.get(theirs).status_code == 404
    assert post(sales_app, editor, theirs, source_id=str(source.id)).status_code == 404
    assert editor.get("/sales/counterparties/99999999/source").status_code == 404
    assert editor.get("/sales/counterparties/99999999999/source").status_code == 404
    assert slogin([]).get(url).status_code == 403
    assert sdb.get(CounterpartySource, mine.id) is None


def test_the_card_shows_the_tab(sdb, slogin, counterparty):
    client = slogin(CARD)
    company = counterparty(manager_id=client.user_id)
    card = client.get(f"/crm/counterparties/{company.id}").get_data(as_text=True)
    assert "Lead source" in card and f"/sales/counterparties/{company.id}/source" in card


# -- merging counterparties -------------------------------------------------------------


def test_merge_moves_the_source_when_the_survivor_has_none(sales_app, sdb, counterparty):
    source = make_source(sdb)
    duplicate, survivor = counterparty("Дубль"), counterparty("Основний")
    sdb.add(CounterpartySource(counterparty_id=duplicate.id, source_id=source.id))
    sdb.commit()
    assert merge_records("crm_base.counterparty", duplicate.id, survivor.id, sdb) == 1
    assert merge_records("crm_base.person", duplicate.id, survivor.id, sdb) == 0
    sdb.commit()
    sdb.expire_all()
    assert sdb.get(CounterpartySource, survivor.id).source_id == source.id
    assert sdb.get(CounterpartySource, duplicate.id) is None


def test_merge_keeps_the_survivors_source(sales_app, sdb, slogin, counterparty):
    """Through crm_base's merge page: the kept counterparty's source wins."""
    exhibition, web = make_source(sdb), make_source(sdb, "Web", 2)
    duplicate, survivor = counterparty("Дубль"), counterparty("Основний")
    sdb.add_all(
        [
            CounterpartySource(counterparty_id=duplicate.id, source_id=exhibition.id),
            CounterpartySource(counterparty_id=survivor.id, source_id=web.id),
        ]
    )
    sdb.commit()
    client = slogin(superuser=True)
    response = post(
        sales_app,
        client,
        f"/crm/counterparties/{survivor.id}/merge/{duplicate.id}",
        source_version=str(duplicate.version),
        target_version=str(survivor.version),
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    sdb.expire_all()
    assert sdb.get(CounterpartySource, survivor.id).source_id == web.id
    assert sdb.scalar(select(func.count()).select_from(CounterpartySource)) == 1


# -- choices for other forms ------------------------------------------------------------


def test_source_choices(sdb):
    web = make_source(sdb, "Web", 2)
    fair = make_source(sdb, "Fair", 1)
    old = make_source(sdb, "Old", 0, active=False)
    assert source_choices(sdb) == [(fair.id, "Fair"), (web.id, "Web")]
    assert source_choices(sdb, keep=old.id) == [(old.id, "Old"), (fair.id, "Fair"), (web.id, "Web")]


def test_permissions_and_menu(sales_app):
    from addons.sales import reports, sources

    with sales_app.test_request_context():
        names = {p.name for p in sources.permissions() + reports.permissions()}
        assert names == {"sales.source.update", "sales.report.read"}
        items = {m.id: m for m in sources.menu_items() + reports.menu_items()}
        assert items["sales.sources"].order >= 900
        assert {"sales.report_funnel", "sales.report_sources"} <= set(items)


def test_created_at_is_utc(sdb, counterparty):
    row = CounterpartySource(counterparty_id=counterparty().id, source_id=make_source(sdb).id)
    sdb.add(row)
    sdb.commit()
    assert row.created_at.year >= datetime.now(UTC).year - 1
