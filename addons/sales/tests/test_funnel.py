"""The sales funnel (MS-2): opportunities through the stages of a pipeline — the API, the
list, the card with won / lost / reopen, the kanban board with lazy columns and drag and
drop, the counterparty's tab and chronology, search, merge and the stage_changed event."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from addons.crm_base.models import Counterparty
from addons.sales import funnel
from addons.sales.funnel import (
    FunnelError,
    close_lost,
    close_won,
    create_opportunity,
    default_pipeline,
    move_to_stage,
    pipeline_stages,
    reopen,
)
from addons.sales.models import LostReason, Opportunity, Pipeline, PipelineStage, StageMove
from addons.sales.tests.helpers import as_user, count, make_opportunity
from core.testing.plugin import create_user, csrf_token, rolled_back
from core.ui.widgets import make_room

pytest_plugins = ("addons.sales.tests.helpers",)  # nkernel, napp: sales with notifications

READ, CREATE, UPDATE = funnel.READ, funnel.CREATE, funnel.UPDATE
DELETE, EXPORT = funnel.DELETE, funnel.EXPORT
CP_READ = "crm_base.counterparty.read"
ALL = (READ, CREATE, UPDATE, DELETE, EXPORT, CP_READ)


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def pipe(sdb: Session) -> tuple[Pipeline, list[PipelineStage]]:
    """The default pipeline (made here) and its four stages."""
    pipeline = default_pipeline(sdb)
    sdb.commit()
    return pipeline, pipeline_stages(sdb, pipeline.id)


@pytest.fixture
def other_pipe(sdb: Session) -> tuple[Pipeline, list[PipelineStage]]:
    pipeline = Pipeline(name="Сервіс", sort=50)
    sdb.add(pipeline)
    sdb.flush()
    stage = PipelineStage(pipeline_id=pipeline.id, name="Запит", sort=10, probability=20)
    sdb.add(stage)
    sdb.commit()
    return pipeline, [stage]


@pytest.fixture
def deal(sdb: Session, pipe: Any) -> Callable[..., Opportunity]:
    def make(counterparty: Counterparty, responsible_id: int | None, **kw: Any) -> Opportunity:
        kw.setdefault("name", "Постачання обладнання")
        return make_opportunity(sdb, counterparty.id, responsible_id, **kw)

    return make


def form_data(app: Flask, client: FlaskClient, opp: Opportunity, **changes: Any) -> dict:
    """What the card's form posts for ``opp`` unchanged, with ``changes``."""
    data = {
        "csrf_token": csrf_token(app, client),
        "version": str(opp.version),
        "original": "",
        "name": opp.name,
        "counterparty": f"x (#{opp.counterparty_id})",
        "pipeline_id": str(opp.pipeline_id),
        "stage_id": str(opp.stage_id),
        "amount": str(opp.amount),
        "currency": opp.currency,
        "probability": str(opp.probability),
        "expected_close": "",
        "responsible_id": str(opp.responsible_id or ""),
        "source_id": "",
        "notes": "",
    }
    data.update(changes)
    return data


# -- the API ---------------------------------------------------------------------------------


def test_default_pipeline_is_made_once_with_four_stages(sdb, pipe):
    """MS-2: "Продажі" with Кваліфікація 10 % … Переговори 75 %, made only when missing."""
    pipeline, stages = pipe
    assert pipeline.name == "Продажі"
    assert [(s.name, s.probability) for s in stages] == [
        ("Кваліфікація", 10),
        ("Потреби", 25),
        ("Пропозиція", 50),
        ("Переговори", 75),
    ]
    assert default_pipeline(sdb).id == pipeline.id
    assert count(sdb, Pipeline) == 1


def test_create_move_close_reopen_keep_history_and_reached_sort(sdb, pipe, counterparty):
    """MS-2: each change records a move; the furthest stage reached is kept."""
    _pipeline, stages = pipe
    opp = create_opportunity(
        sdb, counterparty_id=counterparty().id, name="Угода", responsible_id=None
    )
    assert (opp.stage_id, opp.probability, opp.reached_sort) == (stages[0].id, 10, 10)
    move_to_stage(sdb, opp, stages[2], None)
    move_to_stage(sdb, opp, stages[1], None)
    assert (opp.probability, opp.reached_sort) == (25, stages[2].sort)
    close_won(sdb, opp, None)
    assert (opp.status, opp.probability) == ("won", 100) and opp.closed_at is not None
    with pytest.raises(FunnelError):
        move_to_stage(sdb, opp, stages[3], None)
    reopen(sdb, opp, None)
    reason = LostReason(name="Ціна")
    sdb.add(reason)
    sdb.flush()
    close_lost(sdb, opp, reason.id, "дорого", None)
    sdb.commit()
    assert (opp.status, opp.probability, opp.lost_reason_id, opp.lost_note) == (
        "lost",
        0,
        reason.id,
        "дорого",
    )
    statuses = sdb.scalars(
        select(StageMove.status).where(StageMove.opportunity_id == opp.id).order_by(StageMove.id)
    ).all()
    assert statuses == ["open", "open", "open", "won", "open", "lost"]


def test_api_refuses_a_stage_of_another_pipeline(sdb, pipe, other_pipe, counterparty):
    opp = create_opportunity(sdb, counterparty_id=counterparty().id, name="X", responsible_id=None)
    with pytest.raises(FunnelError):
        move_to_stage(sdb, opp, other_pipe[1][0], None)
    with pytest.raises(FunnelError):
        create_opportunity(
            sdb,
            counterparty_id=opp.counterparty_id,
            name="Y",
            responsible_id=None,
            pipeline_id=pipe[0].id,
            stage_id=other_pipe[1][0].id,
        )


# -- the form --------------------------------------------------------------------------------


def test_create_through_the_form(sales_app, sdb, slogin, counterparty, pipe):
    """MS-2: a new deal starts at the first stage with its probability, last in the column."""
    client = slogin(ALL)
    cp = counterparty("ТОВ «Ромашка»", manager_id=client.user_id)
    page = client.get(f"/sales/opportunities/new?counterparty={cp.id}")
    assert page.status_code == 200 and f"ТОВ «Ромашка» (#{cp.id})" in page.get_data(as_text=True)
    response = client.post(
        "/sales/opportunities/new",
        data={
            "csrf_token": csrf_token(sales_app, client),
            "name": "Ліцензії на 20 місць",
            "counterparty": f"ТОВ «Ромашка» (#{cp.id})",
            "pipeline_id": str(pipe[0].id),
            "stage_id": "",
            "amount": "1 500,50",
            "currency": "UAH",
            "probability": "",
            "responsible_id": str(client.user_id),
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    opp = sdb.scalars(select(Opportunity)).one()
    assert opp.amount == Decimal("1500.50") and opp.probability == 10
    assert opp.stage_id == pipe[1][0].id and opp.reached_sort == pipe[1][0].sort
    assert count(sdb, StageMove) == 1
    card = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ліцензії на 20 місць" in card and "Кваліфікація" in card


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "-5"}, "Number must be"),
        ({"amount": "1.005"}, "At most two decimal places"),
        ({"amount": "NaN"}, "Enter an amount"),
        ({"amount": "1e400"}, "Number must be"),
        ({"pipeline_id": "999999"}, "Not a valid choice"),
        ({"pipeline_id": "abc"}, ""),
        ({"stage_id": "other"}, "another pipeline"),
        ({"currency": "GBP"}, "Not a valid choice"),
        ({"probability": "101"}, "Number must be"),
        ({"counterparty": "Нема такого"}, "No counterparty"),
        ({"name": "  "}, ""),
    ],
)
def test_bad_input_says_why_and_saves_nothing(
    sales_app, sdb, slogin, counterparty, pipe, other_pipe, changes, message
):
    """MS-2: a negative amount, a stage of another pipeline, an unknown pipeline…: 400."""
    client = slogin(ALL)
    cp = counterparty(manager_id=client.user_id)
    if changes.get("stage_id") == "other":
        changes = {"stage_id": str(other_pipe[1][0].id)}
    data = {
        "csrf_token": csrf_token(sales_app, client),
        "name": "Угода",
        "counterparty": f"#{cp.id}",
        "pipeline_id": str(pipe[0].id),
        "stage_id": "",
        "amount": "100",
        "currency": "UAH",
        "probability": "",
        "responsible_id": str(client.user_id),
        **changes,
    }
    response = client.post("/sales/opportunities/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(sdb, Opportunity) == 0 and count(sdb, StageMove) == 0


def test_edit_moves_the_stage_through_the_funnel(sales_app, sdb, slogin, counterparty, deal, pipe):
    """MS-2: changing the stage on the card records a move and takes the stage's probability."""
    client = slogin(ALL)
    opp = deal(counterparty(manager_id=client.user_id), client.user_id)
    stages = pipe[1]
    response = client.post(
        f"/sales/opportunities/{opp.id}/edit",
        data=form_data(sales_app, client, opp, stage_id=str(stages[2].id), amount="2000"),
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    sdb.refresh(opp)
    assert (opp.stage_id, opp.probability, opp.reached_sort) == (stages[2].id, 50, stages[2].sort)
    assert opp.amount == Decimal("2000.00")
    assert count(sdb, StageMove) == 2
    history = client.get(f"/sales/opportunities/{opp.id}").get_data(as_text=True)
    assert "Moved from Кваліфікація to Пропозиція" in history or "Пропозиція" in history


def test_edit_refuses_a_stage_of_another_pipeline_and_a_stale_version(
    sales_app, sdb, slogin, counterparty, deal, other_pipe
):
    client = slogin(ALL)
    opp = deal(counterparty(manager_id=client.user_id), client.user_id)
    bad = form_data(sales_app, client, opp, stage_id=str(other_pipe[1][0].id))
    response = client.post(f"/sales/opportunities/{opp.id}/edit", data=bad)
    assert response.status_code == 400
    assert "another pipeline" in response.get_data(as_text=True)
    stale = form_data(sales_app, client, opp, version=str(opp.version - 1), name="Інша")
    assert client.post(f"/sales/opportunities/{opp.id}/edit", data=stale).status_code == 409
    sdb.refresh(opp)
    assert opp.name == "Постачання обладнання" and count(sdb, StageMove) == 1


def test_won_lost_and_reopen_buttons(sales_app, sdb, slogin, counterparty, deal):
    """MS-2: won; reopened; lost with a reason from the list and a note."""
    client = slogin(ALL)
    opp = deal(counterparty(manager_id=client.user_id), client.user_id)
    url = f"/sales/opportunities/{opp.id}"

    def post(action: str, **data: Any) -> Any:
        sdb.refresh(opp)
        data = {"csrf_token": csrf_token(sales_app, client), "version": str(opp.version), **data}
        return client.post(f"{url}/{action}", data=data)

    assert post("won").status_code == 303
    sdb.refresh(opp)
    assert opp.status == "won" and opp.probability == 100
    assert post("won").status_code == 303  # already closed: a message, nothing changes
    assert post("reopen").status_code == 303
    sdb.refresh(opp)
    assert opp.status == "open" and opp.closed_at is None
    reason = LostReason(name="Обрали конкурента")
    sdb.add(reason)
    sdb.commit()
    refused = post("lost", reason_id="", note="")
    assert refused.status_code == 400 and "Choose why" in refused.get_data(as_text=True)
    assert post("lost", reason_id=str(reason.id), note="дешевше").status_code == 303
    sdb.refresh(opp)
    assert (opp.status, opp.lost_reason_id, opp.lost_note) == ("lost", reason.id, "дешевше")
    card = client.get(url).get_data(as_text=True)
    assert "Обрали конкурента" in card and "Reopen" in card
    moves = sdb.scalars(select(StageMove.status).where(StageMove.opportunity_id == opp.id)).all()
    assert sorted(moves) == ["lost", "open", "open", "won"]


def test_stale_version_on_won_changes_nothing(sales_app, sdb, slogin, counterparty, deal):
    client = slogin(ALL)
    opp = deal(counterparty(manager_id=client.user_id), client.user_id)
    data = {"csrf_token": csrf_token(sales_app, client), "version": str(opp.version + 5)}
    assert client.post(f"/sales/opportunities/{opp.id}/won", data=data).status_code == 303
    sdb.refresh(opp)
    assert opp.status == "open"


def test_rights_and_scope_on_the_card(sales_app, sdb, slogin, counterparty, deal):
    """Another manager's deal answers 404 (also for a guessed id); no right answers 403."""
    owner = slogin(ALL)
    opp = deal(counterparty(manager_id=owner.user_id), owner.user_id)
    stranger = slogin(ALL)
    for url in (f"/sales/opportunities/{opp.id}", "/sales/opportunities/999999"):
        assert stranger.get(url).status_code == 404
    assert stranger.get(f"/sales/opportunities/{2**40}").status_code == 404
    data = {"csrf_token": csrf_token(sales_app, stranger), "version": str(opp.version)}
    assert stranger.post(f"/sales/opportunities/{opp.id}/won", data=data).status_code == 404
    reader = slogin([READ], scopes={"sales.opportunity": "all"})
    data = {"csrf_token": csrf_token(sales_app, reader), "version": str(opp.version)}
    assert reader.get(f"/sales/opportunities/{opp.id}").status_code == 200
    assert reader.post(f"/sales/opportunities/{opp.id}/won", data=data).status_code == 403
    assert slogin([]).get("/sales/opportunities").status_code == 403
    sdb.refresh(opp)
    assert opp.status == "open"


def test_delete_takes_the_history_along(sales_app, sdb, slogin, counterparty, deal):
    client = slogin(ALL)
    opp = deal(counterparty(manager_id=client.user_id), client.user_id)
    data = {"csrf_token": csrf_token(sales_app, client), "version": str(opp.version)}
    assert client.post(f"/sales/opportunities/{opp.id}/delete", data=data).status_code == 303
    sdb.expire_all()
    assert count(sdb, Opportunity) == 0 and count(sdb, StageMove) == 0


def test_list_is_scoped_and_exports(sales_app, sdb, slogin, counterparty, deal):
    client = slogin(ALL)
    mine = deal(counterparty(manager_id=client.user_id), client.user_id, name="Моя угода")
    deal(counterparty("ТОВ «Чужий»"), None, name="Чужа угода")
    page = client.get("/sales/opportunities").get_data(as_text=True)
    assert "Моя угода" in page and "Чужа угода" not in page
    found = client.get("/sales/opportunities?q=моя").get_data(as_text=True)
    assert f"/sales/opportunities/{mine.id}" in found
    csv = client.get("/sales/opportunities/export.csv")
    assert csv.status_code == 200 and "Моя угода" in csv.get_data(as_text=True)
    assert slogin([READ]).get("/sales/opportunities/export.csv").status_code == 403


# -- the board -------------------------------------------------------------------------------


def board_url(pipe: Any) -> str:
    return f"/sales/board/{pipe[0].id}"


def test_board_first_render_shows_totals(sales_app, sdb, slogin, counterparty, deal, pipe):
    """MS-2: each column's header counts all its open deals and sums them (pipeline currency)."""
    client = slogin(ALL)
    cp = counterparty(manager_id=client.user_id)
    for amount in ("100", "200", "300.50"):
        deal(cp, client.user_id, amount=Decimal(amount))
    deal(cp, client.user_id, amount=Decimal("999"), currency="USD")
    won = deal(cp, client.user_id, name="Виграна")
    close_won(sdb, won, None)
    sdb.commit()
    assert client.get("/sales/board").headers["Location"].endswith(board_url(pipe))
    html = client.get(board_url(pipe)).get_data(as_text=True)
    column = html.split(f'data-column="{pipe[1][0].id}"', 1)[1]
    assert re.search(r"data-kanban-count[^>]*>4<", column)
    assert re.search(r"600[,.]50", column) and "999" in column  # USD counted, shown, not summed
    assert "Виграна" not in html
    assert 'data-move-url="/sales/board/' in html


def test_board_column_is_lazy(sales_app, sdb, slogin, counterparty, deal, pipe):
    """MS-2: a column shows 25 cards and loads the next ones by keyset."""
    client = slogin(ALL)
    cp = counterparty(manager_id=client.user_id)
    made = [deal(cp, client.user_id, name=f"Угода {n:02d}") for n in range(30)]
    html = client.get(board_url(pipe)).get_data(as_text=True)
    assert html.count('class="card kanban-card') == 25
    more = re.search(r'hx-get="([^"]+)"', html.split("data-kanban-more", 1)[1]).group(1)
    page = client.get(more.replace("&amp;", "&"))
    assert page.status_code == 200
    rest = page.get_data(as_text=True)
    assert rest.count('class="card kanban-card') == 5 and "data-kanban-more" not in rest
    assert f'data-card-id="{made[-1].id}"' in rest
    bad = client.get(f"{board_url(pipe)}/cards?column={pipe[1][0].id}&cursor=forged")
    assert bad.status_code == 400


def drop(app: Flask, client: FlaskClient, pipe: Any, card: Any, column: Any, position: int = 0):
    return client.post(
        f"{board_url(pipe)}/move",
        data={
            "csrf_token": csrf_token(app, client),
            "card": str(card),
            "column": str(column),
            "position": str(position),
        },
        headers={"HX-Request": "true"},
    )


def test_drag_to_another_stage_saves_records_and_answers_totals(
    sales_app, sdb, slogin, counterparty, deal, pipe
):
    """MS-2: a drop moves the deal, records the move, keeps the furthest stage reached."""
    client = slogin(ALL)
    cp = counterparty(manager_id=client.user_id)
    opp = deal(cp, client.user_id, amount=Decimal("10"))
    first, second = deal(cp, client.user_id), deal(cp, client.user_id)
    stages = pipe[1]
    for other in (first, second):
        move_to_stage(sdb, other, stages[3], client.user_id)
    sdb.commit()
    response = drop(sales_app, client, pipe, opp.id, stages[3].id, position=1)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["ok"] and body["totals"][str(stages[3].id)]["count"] == 3
    sdb.refresh(opp)
    assert (opp.stage_id, opp.probability, opp.reached_sort) == (stages[3].id, 75, stages[3].sort)
    order = sdb.scalars(
        select(Opportunity.id)
        .where(Opportunity.stage_id == stages[3].id)
        .order_by(Opportunity.position, Opportunity.id)
    ).all()
    assert order == [first.id, opp.id, second.id]
    move = sdb.scalars(
        select(StageMove).where(StageMove.opportunity_id == opp.id).order_by(StageMove.id.desc())
    ).first()
    assert (move.from_stage_id, move.to_stage_id, move.user_id) == (
        stages[0].id,
        stages[3].id,
        client.user_id,
    )
    third = deal(cp, client.user_id)  # no room between two cards: those below shift
    for record, position in ((first, 7), (opp, 8)):
        sdb.execute(
            update(Opportunity).where(Opportunity.id == record.id).values(position=position)
        )
    sdb.commit()
    assert drop(sales_app, client, pipe, third.id, stages[3].id, position=1).status_code == 200
    rows = sdb.execute(
        select(Opportunity.id, Opportunity.position)
        .where(Opportunity.stage_id == stages[3].id)
        .order_by(Opportunity.position, Opportunity.id)
    ).all()
    assert [r.id for r in rows] == [first.id, third.id, opp.id, second.id]
    assert len({r.position for r in rows}) == 4
    back = drop(sales_app, client, pipe, opp.id, stages[1].id)
    assert back.status_code == 200
    sdb.refresh(opp)
    assert opp.reached_sort == stages[3].sort  # the furthest stage stays


def test_drag_refused_without_right_for_others_and_for_bad_input(
    sales_app, sdb, slogin, counterparty, deal, pipe
):
    """MS-2: 403 without the right, 404 for another manager's deal, 400 for a bad column."""
    owner = slogin(ALL)
    opp = deal(counterparty(manager_id=owner.user_id), owner.user_id)
    target = pipe[1][1].id
    reader = slogin([READ], scopes={"sales.opportunity": "all"})
    assert drop(sales_app, reader, pipe, opp.id, target).status_code == 403
    stranger = slogin(ALL)
    assert drop(sales_app, stranger, pipe, opp.id, target).status_code == 404
    assert drop(sales_app, stranger, pipe, 999999, target).status_code == 404
    assert drop(sales_app, owner, pipe, opp.id, "nope").status_code == 400
    assert drop(sales_app, owner, pipe, opp.id, target, position=-1).status_code == 400
    assert drop(sales_app, owner, pipe, "abc", target).status_code == 404
    assert owner.get("/sales/board/999999").status_code == 404
    sdb.refresh(opp)
    assert opp.stage_id == pipe[1][0].id and count(sdb, StageMove) == 1


# -- the counterparty's card, search, merge --------------------------------------------------


def test_counterparty_tab_and_chronology(sales_app, sdb, slogin, counterparty, deal, pipe):
    """MS-2, MS-6: the "Opportunities" tab and the deal's moves in the chronology."""
    client = slogin(ALL)
    cp = counterparty("ТОВ «Вишня»", manager_id=client.user_id)
    opp = deal(cp, client.user_id, name="Річне обслуговування")
    move_to_stage(sdb, opp, pipe[1][1], client.user_id)
    deal(cp, None, name="Не моя")
    sdb.commit()
    tab = client.get(f"/sales/counterparties/{cp.id}/opportunities", headers={"HX-Request": "true"})
    text = tab.get_data(as_text=True)
    assert tab.status_code == 200 and "<html" not in text
    assert "Річне обслуговування" in text and "Не моя" not in text
    assert f"/sales/opportunities/new?counterparty={cp.id}" in text
    page = client.get(f"/sales/counterparties/{cp.id}/opportunities").get_data(as_text=True)
    assert "<html" in page
    card = client.get(f"/crm/counterparties/{cp.id}").get_data(as_text=True)
    assert f"/sales/counterparties/{cp.id}/opportunities" in card
    assert "Річне обслуговування" in card  # the chronology


def test_hooks_see_only_what_the_user_may(sales_app, sdb, slogin, counterparty, deal, pipe):
    client = slogin(ALL)
    cp = counterparty("ТОВ «Калина»", manager_id=client.user_id)
    opp = deal(cp, client.user_id, name="Аудит безпеки")
    close_won(sdb, opp, client.user_id)
    deal(cp, None, name="Аудит чужий")
    sdb.commit()
    user = as_user(sdb, client.user_id)
    with sales_app.test_request_context():
        entries = funnel.timeline_entries("crm_base.counterparty", cp.id, user)
        tabs = funnel.card_tabs("crm_base.counterparty", cp.id, user)
        hits = funnel.global_search(user, "аудит", 10)
        nothing = funnel.global_search(as_user(sdb, slogin([]).user_id), "аудит", 10)
    titles = [e.title for e in entries]
    assert len(titles) == 2 and all("Аудит безпеки" in t for t in titles)
    assert tabs[0].count == 1
    assert [h.title for h in hits] == ["Аудит безпеки"] and nothing == []


def test_merge_moves_deals_to_the_surviving_counterparty(sdb, counterparty, deal):
    source, target = counterparty("Дубль"), counterparty("Основний")
    opp = deal(source, None)
    assert funnel.merge_records("crm_base.counterparty", source.id, target.id, sdb) == 1
    assert funnel.merge_records("crm_base.tag", source.id, target.id, sdb) == 0
    sdb.expire_all()
    assert sdb.get(Opportunity, opp.id).counterparty_id == target.id


# -- notifications (a kernel of its own: sales + notifications) ------------------------------


def test_stage_changed_is_raised_to_the_responsible_not_to_the_mover(nkernel, napp):
    """MS-2: the responsible hears when someone else moves or closes their deal."""
    from addons.notifications.models import Event, Notification

    with rolled_back(nkernel.db) as db, napp.test_request_context():
        manager = create_user(db, "manager", [READ])
        boss = create_user(db, "boss", [READ])
        cp = Counterparty(name="ТОВ «Подія»")
        db.add(cp)
        db.flush()
        opp = create_opportunity(db, counterparty_id=cp.id, name="Угода", responsible_id=manager.id)
        stages = pipeline_stages(db, opp.pipeline_id)
        move_to_stage(db, opp, stages[1], manager.id)  # by the manager: no event
        db.commit()
        assert db.scalar(select(func.count()).select_from(Event)) == 0
        move_to_stage(db, opp, stages[2], boss.id)
        close_won(db, opp, boss.id)
        db.commit()
        events = db.scalars(select(Event).where(Event.type == funnel.STAGE_CHANGED)).all()
        assert len(events) == 2 and "Пропозиція" in events[0].title
        told = db.scalars(select(Notification.user_id)).all()
        assert told == [manager.id, manager.id]
        types = {t.name for t in nkernel.hooks.notification_event_types()}
        assert funnel.STAGE_CHANGED in types


def test_making_room_shifts_only_the_cards_up_to_the_next_gap(sdb, counterparty):
    """A drop with no gap left (MS-2 board) moves the card at that position and the ones
    right below it without a gap — not the rest of the column."""
    cp = counterparty()
    deals = [make_opportunity(sdb, cp.id, None, f"Угода {n}") for n in range(5)]
    stage_id = deals[0].stage_id
    for deal, position in zip(deals, (10, 11, 12, 100, 164), strict=True):
        deal.position = position
    sdb.commit()
    in_column = (Opportunity.stage_id == stage_id, Opportunity.status == "open")
    make_room(sdb, Opportunity, Opportunity.position, in_column, 11)
    sdb.commit()
    sdb.expire_all()
    assert [d.position for d in deals] == [10, 12, 13, 100, 164]
    make_room(sdb, Opportunity, Opportunity.position, in_column, 50)  # free: nothing moves
    sdb.commit()
    sdb.expire_all()
    assert [d.position for d in deals] == [10, 12, 13, 100, 164]
