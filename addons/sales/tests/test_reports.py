"""The funnel report (MS-2) and the lead-source effectiveness report (MS-5): figures on a
small hand-made dataset, record scope, rights, the filter's bad input, exports."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.sales.models import (
    CounterpartySource,
    Opportunity,
    Pipeline,
    PipelineStage,
    Source,
    SourceCost,
)
from addons.sales.reports import build_funnel, quarter_of
from core.testing.plugin import create_user

READ = "sales.report.read"
Q2 = {"date_from": "2024-04-01", "date_to": "2024-06-30"}
IN_Q2 = datetime(2024, 5, 10, 12, tzinfo=UTC)
IN_Q1 = datetime(2024, 3, 31, 12, tzinfo=UTC)


@dataclass
class Data:
    main: Pipeline
    other: Pipeline
    exhibition: Source
    website: Source
    me: int
    colleague: int


@pytest.fixture
def data(sdb: Session) -> Callable[[int], Data]:
    """The dataset, with ``me`` (a signed-in manager) owning some deals and a colleague
    the others. Figures expected in Q2 2024 are worked out in each test."""

    def make(me: int) -> Data:
        colleague = create_user(sdb, f"colleague{me}").id
        main = Pipeline(name=f"Main {me}", sort=1)
        other = Pipeline(name=f"Other {me}", sort=2)
        sdb.add_all([main, other])
        sdb.flush()
        stages = [PipelineStage(pipeline_id=main.id, name=n, sort=s) for n, s in STAGES]
        stages.append(PipelineStage(pipeline_id=other.id, name="Only", sort=10))
        exhibition = Source(name="Exhibition", sort=1)
        website = Source(name="Website", sort=2)
        unused = Source(name="Old ads", sort=3, active=False)  # no figures: hidden
        radio = Source(name="Radio", sort=4, active=False)  # only a cost: shown
        sdb.add_all([*stages, exhibition, website, unused, radio])
        sdb.flush()
        first = {s.pipeline_id: s.id for s in reversed(stages)}
        buyer = Counterparty(name="ТОВ «Покупець»", manager_id=me)
        sdb.add(buyer)
        sdb.flush()

        def deal(
            status: str,
            reached: int,
            amount: str,
            owner: int,
            source: Source | None,
            pipeline: Pipeline = main,
            created: datetime = IN_Q2,
        ) -> Opportunity:
            return Opportunity(
                name=f"deal {amount}", counterparty_id=buyer.id, pipeline_id=pipeline.id,
                stage_id=first[pipeline.id], status=status, reached_sort=reached,
                amount=Decimal(amount), responsible_id=owner,
                source_id=source.id if source else None, created_at=created,
            )  # fmt: skip

        sdb.add_all(
            [
                deal("open", 10, "100", me, exhibition),
                deal("open", 20, "200", me, exhibition),
                deal("lost", 20, "300", colleague, website),
                deal("won", 30, "400", me, exhibition),
                deal("won", 20, "500", colleague, None),  # won: counts at every stage
                deal("open", 30, "600", colleague, website),
                deal("won", 30, "1000", me, exhibition, created=IN_Q1),
                deal("won", 10, "50", me, website, pipeline=other),
            ]
        )  # fmt: skip
        attributed = Counterparty(name="ПП «Виставка»", manager_id=me)
        earlier = Counterparty(name="ФОП Давній", manager_id=me)
        unknown = Counterparty(name="ТОВ «Невідомо»", manager_id=colleague, created_at=IN_Q2)
        sdb.add_all([attributed, earlier, unknown])
        sdb.flush()
        sdb.add_all(
            [
                CounterpartySource(
                    counterparty_id=attributed.id, source_id=exhibition.id, created_at=IN_Q2
                ),
                CounterpartySource(
                    counterparty_id=earlier.id,
                    source_id=exhibition.id,
                    created_at=datetime(2024, 1, 5, tzinfo=UTC),
                ),
                SourceCost(source_id=exhibition.id, spent_on=date(2024, 4, 15), amount=300),
                SourceCost(
                    source_id=exhibition.id, spent_on=date(2024, 5, 20), amount=Decimal("100.50")
                ),
                SourceCost(source_id=exhibition.id, spent_on=date(2024, 7, 1), amount=999),
                SourceCost(source_id=radio.id, spent_on=date(2024, 6, 30), amount=100),
            ]
        )
        sdb.commit()
        return Data(main, other, exhibition, website, me, colleague)

    return make


STAGES = [("Qualification", 10), ("Proposal", 20), ("Negotiation", 30)]


def table(client: FlaskClient, url: str, **params: Any) -> list[list[str]]:
    """The report's CSV export (comma-separated), parsed, header first."""
    response = client.get(url, query_string={**params, "sep": "comma"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.reader(io.StringIO(text)))


def funnel(client: FlaskClient, **params: Any) -> dict[str, tuple[int, Decimal, str]]:
    rows = table(client, "/sales/reports/funnel/export.csv", **params)
    assert rows[0] == ["Stage", "Opportunities", "Amount", "Conversion, %"]
    return {r[0]: (int(r[1]), Decimal(r[2]), r[3]) for r in rows[1:]}


def sources(client: FlaskClient, **params: Any) -> dict[str, list[str]]:
    rows = table(client, "/sales/reports/sources/export.csv", **params)
    return {r[0]: r[1:] for r in rows[1:]}


# -- the funnel -------------------------------------------------------------------------


def test_funnel_counts_amounts_and_conversions(slogin, data):
    """MS-2: per stage, opportunities that reached it, their amount, conversion."""
    client = slogin(superuser=True)
    d = data(client.user_id)
    rows = funnel(client, pipeline=d.main.id, **Q2)
    assert rows == {
        "Qualification": (6, Decimal("2100"), ""),
        "Proposal": (5, Decimal("2000"), "83.3"),
        "Negotiation": (3, Decimal("1500"), "60.0"),
        "Won": (2, Decimal("900"), "66.7"),
    }
    page = client.get("/sales/reports/funnel", query_string={"pipeline": d.main.id, **Q2})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "83,3 %" in html or "83.3 %" in html
    assert "data-chart=" in html and "indexAxis" in html
    # the totals by status: 3 open, 2 won, 1 lost
    totals = dict(
        re.findall(r'secondary">(\w+)</div>\s*<div class="fs-5 fw-semibold">(\d+)<', html)
    )
    assert totals == {"Opportunities": "6", "Open": "3", "Won": "2", "Lost": "1"}


def test_funnel_of_another_pipeline_and_a_manager(slogin, data):
    client = slogin(superuser=True)
    d = data(client.user_id)
    assert funnel(client, pipeline=d.other.id, **Q2) == {
        "Only": (1, Decimal("50"), ""),
        "Won": (1, Decimal("50"), "100.0"),
    }
    mine = funnel(client, pipeline=d.main.id, manager=d.me, **Q2)
    assert mine == {
        "Qualification": (3, Decimal("700"), ""),
        "Proposal": (2, Decimal("600"), "66.7"),
        "Negotiation": (1, Decimal("400"), "50.0"),
        "Won": (1, Decimal("400"), "100.0"),
    }


def test_funnel_of_a_manager_with_own_scope_shows_own_deals_only(slogin, data):
    """Record scope: a manager sees only the deals they are responsible for."""
    client = slogin([READ])
    d = data(client.user_id)
    everything = funnel(client, pipeline=d.main.id, **Q2)
    assert everything["Qualification"] == (3, Decimal("700"), "")
    assert everything["Won"] == (1, Decimal("400"), "100.0")
    theirs = funnel(client, pipeline=d.main.id, manager=d.colleague, **Q2)
    assert all(count == 0 for count, _amount, _conv in theirs.values())


def test_funnel_with_team_scope_sees_everything_of_the_team(slogin, data, sdb):
    client = slogin([READ], scopes={"sales.opportunity": "all"})
    d = data(client.user_id)
    assert funnel(client, pipeline=d.main.id, **Q2)["Qualification"][0] == 6


def test_build_funnel_without_stages_or_deals():
    empty = build_funnel([("A", 1), ("B", 2)], [])
    assert [(r.label, r.count, r.conversion) for r in empty.rows] == [
        ("A", 0, None),
        ("B", 0, None),
        ("Won", 0, None),
    ]
    assert build_funnel([], [(0, "won", 2, Decimal(5))]).rows[0].count == 2


def test_default_period_is_the_current_quarter(slogin, data):
    client = slogin(superuser=True)
    data(client.user_id)
    response = client.get("/sales/reports/funnel")
    assert response.status_code == 200
    start, end = quarter_of(datetime.now(UTC).date())
    html = response.get_data(as_text=True)
    assert f'value="{start.isoformat()}"' in html and f'value="{end.isoformat()}"' in html


def test_quarter_of():
    assert quarter_of(date(2024, 5, 10)) == (date(2024, 4, 1), date(2024, 6, 30))
    assert quarter_of(date(2024, 12, 31)) == (date(2024, 10, 1), date(2024, 12, 31))
    assert quarter_of(date(2025, 1, 1)) == (date(2025, 1, 1), date(2025, 3, 31))


def test_funnel_without_pipelines(slogin):
    client = slogin(superuser=True)
    response = client.get("/sales/reports/funnel")
    assert response.status_code == 200
    assert "No pipelines yet." in response.get_data(as_text=True)


# -- the lead sources -------------------------------------------------------------------

SOURCES_HEADER = [
    "Source",
    "Leads",
    "New counterparties",
    "Opportunities",
    "Won",
    "Revenue",
    "Conversion, %",
    "Cost",
    "Cost per won deal",
]


def test_source_report_figures(slogin, data):
    """MS-5: leads, opportunities, won, revenue, conversion, cost, cost per won deal."""
    client = slogin(superuser=True)
    data(client.user_id)
    rows = table(client, "/sales/reports/sources/export.csv", **Q2)
    assert rows[0] == SOURCES_HEADER
    got = {r[0]: r[1:] for r in rows[1:]}
    assert list(got) == ["Exhibition", "Website", "Radio", "No source", "Total"]  # no "Old ads"
    assert _numbers(got["Exhibition"]) == [
        4,
        1,
        3,
        1,
        400,
        Decimal("33.3"),
        Decimal("400.50"),
        Decimal("400.50"),
    ]
    assert _numbers(got["Website"]) == [3, 0, 3, 1, 50, Decimal("33.3"), None, None]
    assert _numbers(got["Radio"]) == [0, 0, 0, 0, 0, None, 100, None]
    assert _numbers(got["No source"]) == [2, 1, 1, 1, 500, 100, None, None]
    total = [9, 2, 7, 3, 950, Decimal("42.9"), Decimal("500.50"), Decimal("166.83")]
    assert _numbers(got["Total"]) == total
    page = client.get("/sales/reports/sources", query_string=Q2)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No source" in html and "Old ads" not in html and html.count("data-chart=") == 2


def _numbers(cells: list[str]) -> list[Any]:
    return [Decimal(c) if c else None for c in cells]


def test_source_report_of_a_manager_with_own_scope(slogin, data):
    """Record scope: own deals (and own counterparties) only; costs stay the company's."""
    client = slogin([READ])
    data(client.user_id)
    got = sources(client, **Q2)
    assert _numbers(got["Exhibition"])[:5] == [4, 1, 3, 1, 400]
    assert _numbers(got["Website"])[:5] == [1, 0, 1, 1, 50]
    assert _numbers(got["No source"])[:5] == [0, 0, 0, 0, 0]  # the colleague's deal and client


def test_source_report_filtered_by_manager(slogin, data):
    client = slogin(superuser=True)
    d = data(client.user_id)
    got = sources(client, manager=d.colleague, **Q2)
    assert _numbers(got["Website"])[:5] == [2, 0, 2, 0, 0]
    assert _numbers(got["No source"])[:5] == [2, 1, 1, 1, 500]


# -- rights and bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/sales/reports/funnel",
        "/sales/reports/sources",
        "/sales/reports/funnel/export.csv",
        "/sales/reports/sources/export.xlsx",
    ],
)
def test_reports_need_the_right(slogin, url):
    client = slogin(["crm_base.counterparty.read", "sales.source.update"])
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2024-13-01"}, "Not a valid date value"),
        ({"date_to": "yesterday"}, "Not a valid date value"),
        ({"date_from": "0001-01-01"}, "between the years"),
        ({"date_from": "2024-06-30", "date_to": "2024-04-01"}, "before its start"),
        ({"manager": "abc"}, "Invalid Choice"),
        ({"manager": "999999999999"}, "Not a valid choice"),
    ],
)
@pytest.mark.parametrize("url", ["/sales/reports/funnel", "/sales/reports/sources"])
def test_bad_filter_is_a_message_not_an_error(slogin, data, url, params, message):
    client = slogin(superuser=True)
    data(client.user_id)
    response = client.get(url, query_string=params)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and "field-error" in html and "data-chart=" not in html
    assert client.get(f"{url}/export.csv", query_string=params).status_code == 400


@pytest.mark.parametrize("pipeline", ["abc", "0", "99999999999999999999"])
def test_bad_pipeline(slogin, data, pipeline):
    client = slogin(superuser=True)
    data(client.user_id)
    response = client.get("/sales/reports/funnel", query_string={"pipeline": pipeline})
    assert response.status_code == 400
    assert "field-error" in response.get_data(as_text=True)


def test_one_bound_takes_the_quarter_of_the_other(slogin, data):
    client = slogin(superuser=True)
    d = data(client.user_id)
    rows = funnel(client, pipeline=d.main.id, date_from="2024-04-01")
    assert rows["Qualification"][0] == 6
    rows = funnel(client, pipeline=d.main.id, date_to="2024-03-31")
    assert rows["Qualification"][0] == 1  # the deal of 31 March only


def test_xlsx_export(slogin, data):
    client = slogin(superuser=True)
    d = data(client.user_id)
    response = client.get(
        "/sales/reports/funnel/export.xlsx", query_string={"pipeline": d.main.id, **Q2}
    )
    assert response.status_code == 200
    assert response.data[:2] == b"PK"
    assert client.get("/sales/reports/funnel/export.pdf").status_code == 404
