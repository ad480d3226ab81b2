"""Configuration of the sales funnel (MS-2): pipelines, their ordered stages with a default
probability, and lost reasons — validation, reordering, and deletions refused while used."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from addons.sales.funnel import close_lost, create_opportunity, default_pipeline, pipeline_stages
from addons.sales.models import LostReason, Opportunity, Pipeline, PipelineStage
from addons.sales.settings_pages import ADMIN
from addons.sales.tests.helpers import post as post_as


@pytest.fixture
def admin(slogin: Callable[..., FlaskClient]) -> FlaskClient:
    return slogin([ADMIN])


@pytest.fixture
def post(sales_app: Any, admin: FlaskClient) -> Callable[..., Any]:
    """The admin posts (with the CSRF token)."""
    return partial(post_as, sales_app, admin)


def names(sdb: Any, pipeline_id: int) -> list[tuple[str, int, int]]:
    sdb.expire_all()
    return [(s.name, s.sort, s.probability) for s in pipeline_stages(sdb, pipeline_id)]


def test_pages_need_the_right(slogin, admin):
    for url in ("/sales/config/pipelines", "/sales/config/lost-reasons"):
        assert admin.get(url).status_code == 200
        assert slogin(["sales.opportunity.read"]).get(url).status_code == 403


def test_pipeline_create_rename_and_refusals(sdb, admin, post):
    """MS-2: pipelines are created, renamed; a duplicate or empty name is refused in place."""
    assert post("/sales/config/pipelines", name="Опт", currency="EUR").status_code == 303
    pipeline = sdb.scalars(select(Pipeline).where(Pipeline.name == "Опт")).one()
    assert pipeline.currency == "EUR"
    twice = post("/sales/config/pipelines", name="опт", currency="UAH")
    assert twice.status_code == 400 and "already exists" in twice.get_data(as_text=True)
    empty = post("/sales/config/pipelines", name="  ", currency="UAH")
    assert empty.status_code == 400 and "field-error" in empty.get_data(as_text=True)
    bad = post(f"/sales/config/pipelines/{pipeline.id}", name="Гурт", currency="GBP")
    assert bad.status_code == 400
    renamed = post(f"/sales/config/pipelines/{pipeline.id}", name="Гурт", currency="USD")
    assert renamed.status_code == 303
    sdb.refresh(pipeline)
    assert (pipeline.name, pipeline.currency) == ("Гурт", "USD")
    assert post("/sales/config/pipelines/999999", name="X", currency="UAH").status_code == 404
    missing_csrf = admin.post("/sales/config/pipelines", data={"name": "Без токена"})
    assert missing_csrf.status_code == 400
    assert sdb.scalar(select(Pipeline.id).where(Pipeline.name == "Без токена")) is None


def test_stages_add_edit_reorder(sdb, post, counterparty):
    """MS-2: stages are added last, edited, moved up and down (deals' furthest stage follows)."""
    pipeline = default_pipeline(sdb)
    sdb.commit()
    base = f"/sales/config/pipelines/{pipeline.id}/stages"
    assert post(base, name="Договір", probability="90").status_code == 303
    assert names(sdb, pipeline.id)[-1] == ("Договір", 50, 90)
    refused = post(base, name="Рахунок", probability="150")
    assert refused.status_code == 400 and "Рахунок" in refused.get_data(as_text=True)
    assert post(base, name="договір", probability="10").status_code == 400
    stages = pipeline_stages(sdb, pipeline.id)
    edit = post(f"/sales/config/stages/{stages[1].id}", name="Аналіз потреб", probability="30")
    assert edit.status_code == 303
    opp = create_opportunity(sdb, counterparty_id=counterparty().id, name="X", responsible_id=None)
    opp.reached_sort = stages[1].sort  # reached "Аналіз потреб"
    sdb.commit()
    moved = post(f"/sales/config/stages/{stages[1].id}/move", way="up")
    assert moved.status_code == 303
    order = names(sdb, pipeline.id)
    assert [n for n, _s, _p in order] == [
        "Аналіз потреб",
        "Кваліфікація",
        "Пропозиція",
        "Переговори",
        "Договір",
    ]
    assert [s for _n, s, _p in order] == [10, 20, 30, 40, 50]
    sdb.refresh(opp)
    assert opp.reached_sort == 10  # still "Аналіз потреб"
    assert post(f"/sales/config/stages/{stages[1].id}/move", way="sideways").status_code == 400
    assert post(f"/sales/config/stages/{stages[3].id}/move", way="down").status_code == 303
    assert [n for n, _s, _p in names(sdb, pipeline.id)][-2:] == ["Договір", "Переговори"]


def test_stage_delete_refused_while_used_and_for_the_last_one(sdb, admin, post, counterparty):
    """MS-2: a stage a deal is at stays (clear message); an unused one goes."""
    pipeline = default_pipeline(sdb)
    sdb.commit()
    stages = pipeline_stages(sdb, pipeline.id)
    create_opportunity(sdb, counterparty_id=counterparty().id, name="X", responsible_id=None)
    sdb.commit()
    assert post(f"/sales/config/stages/{stages[0].id}/delete").status_code == 303
    page = admin.get("/sales/config/pipelines").get_data(as_text=True)
    assert "cannot be deleted: 1 deals are at it" in page
    assert sdb.get(PipelineStage, stages[0].id) is not None
    assert post(f"/sales/config/stages/{stages[3].id}/delete").status_code == 303
    sdb.expire_all()
    assert sdb.get(PipelineStage, stages[3].id) is None
    lone = Pipeline(name="Одна стадія", sort=90)
    sdb.add(lone)
    sdb.flush()
    only = PipelineStage(pipeline_id=lone.id, name="Єдина", sort=10)
    sdb.add(only)
    sdb.commit()
    post(f"/sales/config/stages/{only.id}/delete")
    assert "at least one stage" in admin.get("/sales/config/pipelines").get_data(as_text=True)
    assert sdb.get(PipelineStage, only.id) is not None


def test_pipeline_with_deals_is_kept_and_the_last_active_stays(sdb, admin, post, counterparty):
    pipeline = default_pipeline(sdb)
    sdb.commit()
    post(f"/sales/config/pipelines/{pipeline.id}/active")
    assert "must stay active" in admin.get("/sales/config/pipelines").get_data(as_text=True)
    create_opportunity(sdb, counterparty_id=counterparty().id, name="X", responsible_id=None)
    sdb.commit()
    post(f"/sales/config/pipelines/{pipeline.id}/delete")
    assert "has deals" in admin.get("/sales/config/pipelines").get_data(as_text=True)
    spare = Pipeline(name="Запасна", sort=90)
    sdb.add(spare)
    sdb.commit()
    assert post(f"/sales/config/pipelines/{spare.id}/move", way="up").status_code == 303
    sdb.expire_all()
    assert default_pipeline(sdb).id == spare.id  # the first active one is the default
    assert post(f"/sales/config/pipelines/{pipeline.id}/active").status_code == 303
    sdb.refresh(pipeline)
    assert pipeline.active is False
    post(f"/sales/config/pipelines/{spare.id}/delete")  # the only active one now: refused
    assert sdb.scalar(select(Pipeline.id).where(Pipeline.name == "Запасна")) == spare.id
    post(f"/sales/config/pipelines/{pipeline.id}/active")
    assert post(f"/sales/config/pipelines/{spare.id}/delete").status_code == 303
    assert sdb.scalar(select(Pipeline.id).where(Pipeline.name == "Запасна")) is None


def test_lost_reasons(sdb, admin, post, counterparty):
    """MS-2: reasons are created, renamed, deactivated; one that a lost deal names stays."""
    assert post("/sales/config/lost-reasons", name="Ціна").status_code == 303
    reason = sdb.scalars(select(LostReason)).one()
    assert post("/sales/config/lost-reasons", name="ціна").status_code == 400
    assert post(f"/sales/config/lost-reasons/{reason.id}", name="Висока ціна").status_code == 303
    assert post(f"/sales/config/lost-reasons/{reason.id}/active").status_code == 303
    sdb.refresh(reason)
    assert (reason.name, reason.active) == ("Висока ціна", False)
    opp = create_opportunity(sdb, counterparty_id=counterparty().id, name="X", responsible_id=None)
    close_lost(sdb, opp, reason.id, "", None)
    sdb.commit()
    post(f"/sales/config/lost-reasons/{reason.id}/delete")
    page = admin.get("/sales/config/lost-reasons").get_data(as_text=True)
    assert "cannot be deleted" in page and "Lost deals: 1" in page
    spare = LostReason(name="Не на часі")
    sdb.add(spare)
    sdb.commit()
    assert post(f"/sales/config/lost-reasons/{spare.id}/delete").status_code == 303
    sdb.expire_all()
    assert sdb.get(LostReason, spare.id) is None
    assert sdb.get(Opportunity, opp.id).lost_reason_id == reason.id
