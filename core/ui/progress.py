"""Progress of long jobs (imports, mass mailings, big exports) that the user watches.

A job is a row of ``core_job``. The code doing the work calls :func:`start_job` once, then
:func:`advance` as it goes and :func:`finish` or :func:`fail` at the end. Each of these is
its own short transaction (an UPDATE and a commit), so a browser polling ``/jobs/<id>``
sees the numbers move while the work runs; give them a session of their own (not the one
holding the work's open transaction, which they would commit). :func:`run_in_thread`
does all of that for work run in a background thread of the web process; the worker
process uses the same functions.

The component (:func:`render_progress`) is a Bootstrap progress bar that htmx re-fetches
every second (``hx-trigger="every 1s"``, swapping itself); once the job is done or failed
the answer carries no trigger, so polling stops by itself. Only the job's owner (or a
superuser) can see it: :func:`visible_job` answers ``None`` otherwise, and the route 404s.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from core.db import utcnow, write_intent
from core.models import Job

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
FINISHED = frozenset({DONE, FAILED})
MAX_MESSAGE = 2000


def start_job(
    session: Session, kind: str, user_id: int | None, total: int = 0, message: str = ""
) -> Job:
    """Record a new job (queued) for ``user_id`` and commit, so it can be watched at once."""
    job = Job(
        kind=kind,
        user_id=user_id,
        state=QUEUED,
        total=max(0, int(total)),
        done=0,
        message=message[:MAX_MESSAGE],
        result="",
    )
    with write_intent():
        session.add(job)
        session.commit()
    return job


def _set(session: Session, job_id: int, **values: Any) -> None:
    """One short writing transaction: the UI polling the job sees it on commit."""
    values["updated_at"] = utcnow()
    with write_intent():
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
    loaded = session.identity_map.get(identity_key(Job, job_id))
    if loaded is not None:
        session.expire(loaded)  # a Job this session holds shows the new figures


def advance(
    session: Session, job_id: int, done: int, message: str | None = None, total: int | None = None
) -> None:
    """The job is running and has ``done`` units of ``total`` behind it (``total`` may be
    corrected on the way, e.g. once an import has counted its rows)."""
    values: dict[str, Any] = {"state": RUNNING, "done": max(0, int(done))}
    if message is not None:
        values["message"] = message[:MAX_MESSAGE]
    if total is not None:
        values["total"] = max(0, int(total))
    _set(session, job_id, **values)


def finish(session: Session, job_id: int, result: Any = None, message: str | None = None) -> None:
    """The job succeeded; ``result`` (JSON-able: counts, a file's id) is kept for the UI."""
    values: dict[str, Any] = {
        "state": DONE,
        "result": "" if result is None else json.dumps(result, ensure_ascii=False, default=str),
        "done": case((Job.total > 0, Job.total), else_=Job.done),
    }
    if message is not None:
        values["message"] = message[:MAX_MESSAGE]
    _set(session, job_id, **values)


def fail(session: Session, job_id: int, message: str) -> None:
    """The job stopped with an error; ``message`` is what the user reads (no traceback)."""
    _set(session, job_id, state=FAILED, message=message[:MAX_MESSAGE])


def percent(job: Job) -> int | None:
    """0..100, or ``None`` while a running job does not know its total yet."""
    if job.state == DONE:
        return 100
    if not job.total:
        return None if job.state == RUNNING else 0
    return max(0, min(100, (job.done * 100) // job.total))


def job_result(job: Job) -> Any:
    try:
        return json.loads(job.result) if job.result else None
    except ValueError:
        return None


def job_state(job: Job) -> dict[str, Any]:
    """What the component and the JSON answer show of a job."""
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "total": job.total,
        "done": job.done,
        "percent": percent(job),
        "message": job.message,
        "finished": job.state in FINISHED,
        "result": job_result(job),
    }


def state_label(state: str) -> str:
    return {
        QUEUED: _("Waiting to start"),
        RUNNING: _("Running"),
        DONE: _("Done"),
        FAILED: _("Failed"),
    }.get(state, state)


def visible_job(session: Session, job_id: int, user: Any) -> Job | None:
    """The job if ``user`` owns it or is a superuser; ``None`` otherwise (answer 404, so
    job ids can't be probed)."""
    job = session.scalars(
        select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).first()
    if job is None or not getattr(user, "is_authenticated", False):
        return None
    if job.user_id != user.id and not getattr(user, "is_superuser", False):
        return None
    return job


def render_progress(job: Job, label: str | None = None) -> Markup:
    """The progress component of ``job`` (polls itself until the job has finished)."""
    state = job_state(job)
    html = render_template(
        "core/ui/progress.html",
        job=state,
        label=label or state_label(job.state),
        state_text=state_label(job.state),
    )
    return Markup(html)  # noqa: S704 - a rendered template, autoescaped


Work = Callable[[Session, int], Any]
FAILED_MESSAGE = "The job failed; the error has been logged."


def run_job(
    session_factory: Callable[[], Session],
    job_id: int,
    work: Work,
    failed_message: str = FAILED_MESSAGE,
) -> None:
    """Run ``work(session, job_id)`` in a session of its own and record the outcome:
    :func:`finish` with what it returns, or :func:`fail` with ``failed_message`` if it
    raises (the error is logged; a traceback may hold data, so the user never sees it).

    Translate ``failed_message`` in the request that starts the job: a thread has no
    request, so it cannot know the user's language.
    """
    with session_factory() as session:
        try:
            result = work(session, job_id)
        except Exception:
            log.exception("job %s failed", job_id)
            session.rollback()
            fail(session, job_id, failed_message)
            return
        finish(session, job_id, result)


def run_in_thread(
    session_factory: Callable[[], Session],
    job_id: int,
    work: Work,
    inline: bool = False,
    failed_message: str = FAILED_MESSAGE,
) -> threading.Thread | None:
    """Start :func:`run_job` in a daemon thread of this process (``inline``: right here,
    for tests). Fine for work of seconds to minutes; longer work belongs to the worker,
    as a thread dies with its web process."""
    if inline:
        run_job(session_factory, job_id, work, failed_message)
        return None
    thread = threading.Thread(
        target=run_job,
        args=(session_factory, job_id, work, failed_message),
        name=f"vitrylo-job-{job_id}",
        daemon=True,
    )
    thread.start()
    return thread
