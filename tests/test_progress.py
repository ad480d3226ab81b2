"""Progress of long jobs (issue 4): the helpers, ``GET /jobs/<id>``, and the demo job."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

import core.views.demo_widgets as demo
import core.views.progress  # noqa: F401 - registers /jobs/<id> until web_plugin imports it
from core.models import Job, User
from core.testing.plugin import TEST_PASSWORD, create_user, csrf_token
from core.ui.progress import advance, fail, finish, percent, run_job, start_job

HX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}


def user_id(db_session: Any, client: Any) -> int:
    return db_session.scalar(select(User.id).where(User.login == client.user_login))


def test_job_states_and_percentages(db_session):
    owner = create_user(db_session, "job_owner")
    job = start_job(db_session, "test.import", owner.id, total=8, message="Counting")
    assert (job.state, percent(job)) == ("queued", 0)
    advance(db_session, job.id, 2, "Row 2")
    db_session.refresh(job)
    assert (job.state, job.done, percent(job), job.message) == ("running", 2, 25, "Row 2")
    advance(db_session, job.id, 3, total=4)
    db_session.refresh(job)
    assert percent(job) == 75
    finish(db_session, job.id, {"rows": 4}, "Imported")
    db_session.refresh(job)
    assert (job.state, job.done, percent(job), job.result) == ("done", 4, 100, '{"rows": 4}')
    unknown = start_job(db_session, "test.export", owner.id)
    advance(db_session, unknown.id, 10)
    db_session.refresh(unknown)
    assert percent(unknown) is None  # running, total not known yet: an indeterminate bar
    fail(db_session, unknown.id, "Disk full")
    db_session.refresh(unknown)
    assert (unknown.state, unknown.message) == ("failed", "Disk full")


def test_run_job_records_a_failure(vitrylo_app, db_session):
    owner = create_user(db_session, "job_failer")
    job = start_job(db_session, "test.boom", owner.id, total=3)

    def work(session: Any, job_id: int) -> None:
        advance(session, job_id, 1)
        raise RuntimeError("secret detail")

    with vitrylo_app.app_context():
        run_job(vitrylo_app.extensions["vitrylo"].db.session_factory, job.id, work)
    db_session.refresh(job)
    assert job.state == "failed" and job.done == 1 and "secret" not in job.message


def test_only_the_owner_or_a_superuser_sees_a_job(db_session, login):
    owner = login([])
    job = start_job(db_session, "test.export", user_id(db_session, owner), total=10)
    advance(db_session, job.id, 4, "Half way")
    fragment = owner.get(f"/jobs/{job.id}", headers=HX)
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert 'data-job-state="running"' in html and 'data-job-percent="40"' in html
    assert 'hx-trigger="every 1s"' in html and "progress-pct-40" in html and "Half way" in html
    assert "style=" not in html
    assert fragment.headers["Cache-Control"] == "no-store"
    assert owner.get(f"/jobs/{job.id}", headers=JSON).get_json()["percent"] == 40
    page = owner.get(f"/jobs/{job.id}")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert login([]).get(f"/jobs/{job.id}", headers=HX).status_code == 404
    assert login(["core.user.read"]).get(f"/jobs/{job.id}", headers=JSON).status_code == 404
    assert login(superuser=True).get(f"/jobs/{job.id}", headers=JSON).status_code == 200
    assert owner.get(f"/jobs/{job.id + 1000}", headers=HX).status_code == 404


def test_polling_stops_when_the_job_has_finished(db_session, login):
    owner = login([])
    job = start_job(db_session, "test.export", user_id(db_session, owner), total=5)
    finish(db_session, job.id, None, "All exported")
    html = owner.get(f"/jobs/{job.id}", headers=HX).get_data(as_text=True)
    assert 'data-job-state="done"' in html and "hx-trigger" not in html
    assert "progress-pct-100" in html and "bg-success" in html
    other = start_job(db_session, "test.export", user_id(db_session, owner), total=5)
    fail(db_session, other.id, "No disk space")
    html = owner.get(f"/jobs/{other.id}", headers=HX).get_data(as_text=True)
    assert "hx-trigger" not in html and "bg-danger" in html and "No disk space" in html


def test_demo_job_reaches_done(vitrylo_app, db_session, login, monkeypatch):
    monkeypatch.setitem(vitrylo_app.config, "VITRYLO_JOBS_INLINE", True)
    admin = login(superuser=True)
    started = admin.post(
        "/ui-kit/job", headers={**HX, "X-CSRFToken": csrf_token(vitrylo_app, admin)}
    )
    assert started.status_code == 200
    assert 'data-job-state="done"' in started.get_data(as_text=True)
    job = db_session.scalars(
        select(Job).where(Job.kind == demo.DEMO_JOB_KIND).order_by(Job.id.desc())
    ).first()
    assert job.user_id == user_id(db_session, admin)
    state = admin.get(f"/jobs/{job.id}", headers=JSON).get_json()
    assert state["state"] == "done" and state["percent"] == 100
    assert state["done"] == demo.DEMO_JOB_STEPS and state["result"] == {"steps": 20}
    assert admin.post("/ui-kit/job", headers=HX).status_code == 400  # no CSRF token
    user = login([])
    refused = user.post("/ui-kit/job", headers={**HX, "X-CSRFToken": csrf_token(vitrylo_app, user)})
    assert refused.status_code == 403


@pytest.mark.slow
def test_demo_job_runs_in_a_thread_while_the_page_polls(make_kernel, monkeypatch):
    """On a database of its own (the shared test one is pinned to one connection): the
    thread writes with its own session while requests read the progress."""
    from core.app import create_app

    monkeypatch.setattr(demo, "DEMO_STEP_SECONDS", 0.05)
    kernel = make_kernel()
    with kernel.db.session_factory() as session:
        create_user(session, "thread_admin", superuser=True)
    app = create_app(kernel.settings, kernel=kernel)
    app.config.update(TESTING=True)
    client = app.test_client()
    signed_in = client.post(
        "/login",
        data={
            "login": "thread_admin",
            "password": TEST_PASSWORD,
            "csrf_token": csrf_token(app, client),
        },
    )
    assert signed_in.status_code == 302
    started = client.post("/ui-kit/job", headers={**HX, "X-CSRFToken": csrf_token(app, client)})
    assert started.status_code == 200
    html = started.get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html
    job_id = int(html.split('data-job-id="', 1)[1].split('"', 1)[0])
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = client.get(f"/jobs/{job_id}", headers=JSON).get_json()
        seen.append(state["percent"])
        if state["state"] == "done":
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["percent"] == 100
    assert seen == sorted(x for x in seen if x is not None)  # never goes backwards
    assert len(set(seen)) > 2  # the UI saw it move, not just jump to the end
