"""The transactional outbox (NT-4): e-mails and SMS written with the change that caused them,
sent later by ``vitrylo worker``.

Life of a row: ``pending`` → claimed (``sending``, with ``claimed_by``/``claimed_at``) →
``sent``, or back to ``pending`` with a back-off after a failure, or ``failed`` after
``max_attempts`` (or at once when retrying cannot help). Why each step looks the way it does:

- **Claiming is exclusive.** :func:`claim_batch` runs in its own short transaction:
  PostgreSQL picks due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` (two workers skip each
  other's rows instead of waiting or double-claiming); SQLite takes the write lock first
  (``BEGIN IMMEDIATE``), so claims are serialised. Sending happens after that commit, so no
  lock is held while talking to a mail server.
- **Each result is committed at once**, row by row, and only by the worker that still holds
  the claim (``WHERE claimed_by = me AND state = 'sending'``).
- **A dead worker's rows come back.** A row ``sending`` for longer than the lease (five
  minutes) is put back to ``pending`` by the next claim. A worker stops sending its own
  batch when half the lease is gone and hands the rest back, so a slow batch is never
  reclaimed while it is still being sent.
- **At least once, with a window of milliseconds.** A worker killed after the SMTP server
  accepted a message but before the ``sent`` commit will have that row sent again after
  the lease. The window is one local UPDATE; the Message-ID is derived from the
  idempotency key (:func:`channels.message_id`), so the repeat carries the same
  Message-ID and receivers that deduplicate by it show it once. Nothing is ever lost: a
  row leaves ``sending`` only as ``sent``, ``failed`` or back to ``pending``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, or_, select, text, update
from sqlalchemy.orm import Session

from addons.notifications.channels import (
    DeliveryError,
    OutgoingMessage,
    Sender,
    read_settings,
    senders,
)
from addons.notifications.models import OutboxMessage
from core.db import Database, utcnow, write_intent

log = logging.getLogger(__name__)
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Policy:
    """How the outbox claims and retries (the defaults suit production)."""

    batch_size: int = 50
    lease_seconds: float = 300.0
    backoff_base: float = 30.0  # seconds; the n-th retry waits base * 2**(n-1)
    backoff_cap: float = 3600.0
    max_attempts: int = 10  # with the defaults: about three hours of retries

    def backoff(self, attempts_before: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_base * 2**attempts_before, self.backoff_cap))


POLICY = Policy()


@dataclass(frozen=True)
class Claimed:
    """A row claimed by a worker: what it needs to send, detached from any session."""

    id: int
    channel: str
    recipient: str
    subject: str
    body: str
    idempotency_key: str
    attempts: int


@dataclass
class Report:
    """What one run did (for logs, tests and the benchmark)."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0
    lost_claims: int = 0  # sent, but the claim had been taken over (a possible duplicate)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        for name in ("claimed", "sent", "retried", "failed", "released", "lost_claims"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes (stored in UTC): make them comparable."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


# -- writing ------------------------------------------------------------------------------


def dialect_insert(session: Session) -> Any:
    """The ``insert`` of the session's database, the one with ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def enqueue(
    session: Session,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    idempotency_key: str,
    due: datetime | None = None,
) -> bool:
    """Queue one message in the caller's transaction; ``False`` if the key was already
    queued (the same message is never queued twice)."""
    return (
        enqueue_many(
            session,
            [
                {
                    "channel": channel,
                    "recipient": recipient,
                    "subject": subject,
                    "body": body,
                    "idempotency_key": idempotency_key,
                    "next_attempt_at": due or utcnow(),
                }
            ],
        )
        == 1
    )


def enqueue_many(session: Session, rows: list[dict[str, Any]]) -> int:
    """Queue many messages with one statement per thousand; returns how many were new."""
    if not rows:
        return 0
    for row in rows:
        if row["channel"] not in CHANNELS:
            raise ValueError(f"unknown outbox channel {row['channel']!r}")
    now = utcnow()
    stmt = (
        dialect_insert(session)(OutboxMessage)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxMessage.id)
    )
    added = 0
    for start in range(0, len(rows), 1000):
        chunk = [
            {
                "subject": "",
                "state": "pending",
                "attempts": 0,
                "claimed_by": "",
                "last_error": "",
                "created_at": now,
                "next_attempt_at": now,
                **row,
            }
            for row in rows[start : start + 1000]
        ]
        added += len(session.execute(stmt, chunk).all())
    return added


# -- claiming -----------------------------------------------------------------------------


def reclaim_expired(session: Session, policy: Policy = POLICY, now: datetime | None = None) -> int:
    """Put rows whose claim outlived the lease (their worker died) back to ``pending``.

    It counts as an attempt, so a message that kills every worker that sends it ends up
    ``failed`` instead of looping forever."""
    now = now or utcnow()
    # Lock what we reclaim and skip what another worker is reclaiming: two workers
    # reclaiming the same rows in different orders could otherwise deadlock on PostgreSQL.
    ids = list(
        session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == "sending",
                OutboxMessage.claimed_at < now - timedelta(seconds=policy.lease_seconds),
            )
            .order_by(OutboxMessage.id)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "sending")
        .values(
            state=case(
                (OutboxMessage.attempts + 1 >= policy.max_attempts, "failed"), else_="pending"
            ),
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now,
            last_error="the worker sending it stopped (lease expired)",
            claimed_by="",
            claimed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def has_work(
    session: Session, channels: Iterable[str], policy: Policy = POLICY, now: datetime | None = None
) -> bool:
    """A cheap read (no write lock): is anything due or stuck? Lets an idle worker skip
    taking SQLite's write lock every few seconds."""
    now = now or utcnow()
    due = exists().where(
        or_(
            (OutboxMessage.state == "pending")
            & (OutboxMessage.next_attempt_at <= now)
            & OutboxMessage.channel.in_(list(channels)),
            (OutboxMessage.state == "sending")
            & (OutboxMessage.claimed_at < now - timedelta(seconds=policy.lease_seconds)),
        )
    )
    found = bool(session.scalar(select(due)))
    session.rollback()
    return found


def claim_batch(
    session: Session,
    worker_id: str,
    limit: int = POLICY.batch_size,
    channels: Iterable[str] = CHANNELS,
    policy: Policy = POLICY,
    now: datetime | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due rows for ``worker_id`` and commit.

    Runs its own transaction, so ``session`` must not be in one. On PostgreSQL rows locked
    by another worker's claim are skipped (``FOR UPDATE SKIP LOCKED``); on SQLite the
    transaction starts with ``BEGIN IMMEDIATE``, so one claim runs at a time."""
    if session.in_transaction():
        raise RuntimeError("claim_batch runs its own transaction: commit or roll back first")
    now = now or utcnow()
    with write_intent(), session.begin():
        reclaim_expired(session, policy, now)
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.state == "pending",
                    OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.channel.in_(list(channels)),
                )
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        rows = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.state == "pending")
            .values(state="sending", claimed_by=worker_id, claimed_at=now)
            .returning(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.recipient,
                OutboxMessage.subject,
                OutboxMessage.body,
                OutboxMessage.idempotency_key,
                OutboxMessage.attempts,
            )
            .execution_options(synchronize_session=False)
        ).all()
    order = {row_id: n for n, row_id in enumerate(ids)}
    return sorted((Claimed(*row) for row in rows), key=lambda c: order[c.id])


# -- delivering -----------------------------------------------------------------------------


# Results are written with Core statements on the table: cheaper than ORM bulk updates,
# and they run once per message.
OUTBOX = OutboxMessage.__table__


def _mine(claimed_ids: list[int], worker_id: str) -> Any:
    ids = OUTBOX.c.id == claimed_ids[0] if len(claimed_ids) == 1 else OUTBOX.c.id.in_(claimed_ids)
    return (ids, OUTBOX.c.state == "sending", OUTBOX.c.claimed_by == worker_id)


def _write(session: Session, stmt: Any) -> int:
    """One short writing transaction (BEGIN IMMEDIATE on SQLite) per row's result, so a
    killed worker loses at most the row it was sending.

    On PostgreSQL it commits with ``synchronous_commit = off``: the commit is visible at
    once and survives the worker dying, only a crash of the database server itself within
    a fraction of a second could forget it (the row would then be sent again: the same
    at-least-once case, same Message-ID). It spares a disk flush per e-mail, which
    otherwise bounds a worker to a few hundred e-mails a second."""
    with write_intent(), session.begin():
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        return session.execute(stmt).rowcount or 0


def mark_sent(session: Session, item: Claimed, worker_id: str) -> bool:
    """``False`` if the claim was lost meanwhile (the row was reclaimed by another worker)."""
    return (
        _write(
            session,
            update(OUTBOX)
            .where(*_mine([item.id], worker_id))
            .values(state="sent", sent_at=utcnow(), last_error=""),
        )
        == 1
    )


def mark_failed(
    session: Session, item: Claimed, worker_id: str, error: DeliveryError, policy: Policy = POLICY
) -> str:
    """Back to ``pending`` after a back-off, or ``failed``; returns the new state."""
    attempts = item.attempts + 1
    final = error.permanent or attempts >= policy.max_attempts
    state = "failed" if final else "pending"
    _write(
        session,
        update(OUTBOX)
        .where(*_mine([item.id], worker_id))
        .values(
            state=state,
            attempts=attempts,
            next_attempt_at=utcnow() + policy.backoff(item.attempts),
            last_error=str(error)[:2000],
            claimed_at=None,
        ),
    )
    return state


def release(session: Session, items: list[Claimed], worker_id: str) -> int:
    """Hand claimed rows back untried (out of time, or the channel is gone)."""
    if not items:
        return 0
    return _write(
        session,
        update(OUTBOX)
        .where(*_mine([i.id for i in items], worker_id))
        .values(state="pending", claimed_by="", claimed_at=None),
    )


def deliver(
    session: Session,
    worker_id: str,
    batch: list[Claimed],
    channel_senders: Mapping[str, Sender],
    policy: Policy = POLICY,
    clock: Callable[[], float] = time.monotonic,
) -> Report:
    """Send a claimed batch outside the claim's transaction, committing each result."""
    report = Report(claimed=len(batch))
    started = clock()
    down: dict[str, DeliveryError] = {}  # channels whose server is unreachable this batch
    for index, item in enumerate(batch):
        if clock() - started > policy.lease_seconds / 2:
            report.released += release(session, batch[index:], worker_id)
            break
        sender = channel_senders.get(item.channel)
        if sender is None:
            report.released += release(session, [item], worker_id)
            continue
        error = down.get(item.channel)
        if error is None:
            message = OutgoingMessage(item.recipient, item.subject, item.body, item.idempotency_key)
            try:
                sender.send(message)
            except DeliveryError as exc:
                error = exc
                if exc.connection:
                    down[item.channel] = exc
        if error is None:
            if not mark_sent(session, item, worker_id):
                report.lost_claims += 1
                log.warning("outbox row %s was sent after its claim was lost", item.id)
            report.sent += 1
            continue
        state = mark_failed(session, item, worker_id, error, policy)
        report.failed += state == "failed"
        report.retried += state == "pending"
        if str(error) not in report.errors:
            report.errors.append(str(error))
    return report


def process_outbox(
    db: Database,
    worker_id: str,
    channel_senders: Mapping[str, Sender] | None = None,
    policy: Policy = POLICY,
    max_seconds: float = 20.0,
    max_batches: int | None = None,
) -> Report:
    """Claim and deliver batches until nothing is due or ``max_seconds`` have passed."""
    report = Report()
    deadline = time.monotonic() + max_seconds
    with db.session_factory() as session:
        if channel_senders is None:
            channel_senders = senders(read_settings(session))
            session.rollback()
            own = channel_senders
        else:
            own = {}
        try:
            if not channel_senders or not has_work(session, channel_senders, policy):
                return report
            batches = 0
            while time.monotonic() < deadline and (max_batches is None or batches < max_batches):
                batch = claim_batch(session, worker_id, policy.batch_size, channel_senders, policy)
                if not batch:
                    break
                batches += 1
                report.add(deliver(session, worker_id, batch, channel_senders, policy))
        finally:
            for sender in own.values():
                sender.close()
    return report


def run_outbox_once(app: Any, worker_id: str | None = None, max_seconds: float = 20.0) -> Report:
    """Send what is due, with the app's database and the saved channel settings."""
    kernel = app.extensions["vitrylo"]
    report = process_outbox(kernel.db, worker_id or default_worker_id(), max_seconds=max_seconds)
    if report.claimed:
        log.info(
            "outbox: %s sent, %s to retry, %s failed, %s handed back",
            report.sent,
            report.retried,
            report.failed,
            report.released,
        )
    return report


def outbox_job(app: Any) -> None:
    """The ``notifications.outbox`` scheduled job."""
    run_outbox_once(app)


# -- for the admin page ---------------------------------------------------------------


def counts(session: Session) -> dict[tuple[str, str], int]:
    """(channel, state) → number of rows."""
    rows = session.execute(
        select(OutboxMessage.channel, OutboxMessage.state, func.count()).group_by(
            OutboxMessage.channel, OutboxMessage.state
        )
    )
    return {(channel, state): n for channel, state, n in rows}


def retry_failed(session: Session) -> int:
    """Give every ``failed`` row a fresh start (after the admin fixed the settings)."""
    return (
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.state == "failed")
            .values(state="pending", attempts=0, next_attempt_at=utcnow(), claimed_by="")
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )
