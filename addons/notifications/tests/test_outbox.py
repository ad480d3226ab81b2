"""The transactional outbox against a real SMTP server (aiosmtpd) on both databases:
delivery with a Ukrainian subject and body, retries with back-off, exclusive claims by
concurrent workers, and a worker killed in the middle of a batch (fixtures: conftest.py).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, text, update

from addons.notifications import models as m
from addons.notifications.channels import SmtpConfig, message_id
from addons.notifications.events import raise_event
from addons.notifications.outbox import (
    Claimed,
    Policy,
    claim_batch,
    deliver,
    enqueue,
    process_outbox,
    reclaim_expired,
    run_outbox_once,
)
from addons.notifications.tests.helpers import (
    Mailbox,
    configure,
    free_port,
    make_user,
    queue,
    use_smtp,
)
from core.db import Database, utcnow
from core.kernel import Kernel
from core.testing.databases import is_postgres

FAST = Policy(batch_size=20, lease_seconds=300, backoff_base=0.2, backoff_cap=1.0, max_attempts=3)


def states(kernel: Kernel) -> Counter[str]:
    with kernel.db.session_factory() as session:
        return Counter(session.scalars(select(m.OutboxMessage.state)))


# -- delivery ------------------------------------------------------------------------------


def test_mail_arrives_with_ukrainian_subject_and_body(nk: Kernel, napp: Flask, smtp: Mailbox):
    use_smtp(nk, smtp)
    uid = make_user(nk, "olena", email="olena@example.com")
    with nk.db.transaction() as session:
        session.add(m.Preference(user_id=uid, event_type="crm_base.birthday", channels="email"))
    with nk.db.transaction() as session:
        event_id = raise_event(
            session,
            "crm_base.birthday",
            "person:1:2025",
            "День народження: Іван Петренко",
            "Іванові Петренку сьогодні 40 років. Привітайте!",
            "/crm/counterparties/1",
            recipients=[uid],
        )

    report = run_outbox_once(napp, "w1")

    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    (msg,) = smtp.messages
    assert msg["Subject"] == "День народження: Іван Петренко"
    assert msg["To"] == "olena@example.com"
    assert msg["From"].addresses[0].display_name == "Віталій CRM"
    assert "Іванові Петренку сьогодні 40 років. Привітайте!" in msg.get_content()
    assert msg["Message-ID"] == message_id(f"{event_id}:{uid}:email", "vitrylo.test")
    assert smtp.envelopes == [("crm@vitrylo.test", ["olena@example.com"])]
    with nk.db.session_factory() as session:
        row = session.scalars(select(m.OutboxMessage)).one()
        assert (row.state, row.attempts, row.last_error) == ("sent", 0, "")
        assert row.sent_at is not None


def test_retry_with_back_off_when_the_server_refuses(nk: Kernel, smtp: Mailbox):
    use_smtp(nk, smtp)
    queue(nk, 1)
    smtp.fail_next = 1

    first = process_outbox(nk.db, "w1", policy=FAST)
    assert (first.sent, first.retried) == (0, 1)
    with nk.db.session_factory() as session:
        row = session.scalars(select(m.OutboxMessage)).one()
        assert (row.state, row.attempts) == ("pending", 1)
        assert "451" in row.last_error
        wait = row.next_attempt_at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)
        assert timedelta(0) < wait <= timedelta(seconds=FAST.backoff_base)

    assert process_outbox(nk.db, "w1", policy=FAST).claimed == 0  # not due yet
    time.sleep(FAST.backoff_base + 0.05)
    second = process_outbox(nk.db, "w1", policy=FAST)
    assert second.sent == 1
    assert smtp.calls == 2 and len(smtp.messages) == 1
    assert states(nk) == {"sent": 1}


def test_back_off_doubles_is_capped_and_gives_up(nk: Kernel, smtp: Mailbox):
    use_smtp(nk, smtp)
    queue(nk, 1)
    smtp.fail_next = 100
    policy = Policy(backoff_base=0.0, max_attempts=3)
    assert [policy.backoff(n).total_seconds() for n in range(3)] == [0, 0, 0]
    assert [FAST.backoff(n).total_seconds() for n in range(4)] == [0.2, 0.4, 0.8, 1.0]
    for _ in range(3):
        process_outbox(nk.db, "w1", policy=policy)
    with nk.db.session_factory() as session:
        row = session.scalars(select(m.OutboxMessage)).one()
        assert (row.state, row.attempts) == ("failed", 3)
        assert "451" in row.last_error
    assert process_outbox(nk.db, "w1", policy=policy).claimed == 0
    assert smtp.messages == []


def test_an_unreachable_server_puts_the_whole_batch_back_without_trying_each(nk: Kernel):
    configure(
        nk,
        smtp_host="127.0.0.1",
        smtp_port=str(free_port()),
        smtp_security="none",
        smtp_from="crm@vitrylo.test",
    )
    queue(nk, 5)
    report = process_outbox(nk.db, "w1", policy=FAST)
    assert (report.sent, report.retried) == (0, 5)
    assert len(report.errors) == 1 and "cannot connect" in report.errors[0]
    assert states(nk) == {"pending": 5}


def test_messages_wait_while_their_channel_is_not_configured(nk: Kernel, smtp: Mailbox):
    queue(nk, 2)
    assert process_outbox(nk.db, "w1", policy=FAST).claimed == 0
    assert states(nk) == {"pending": 2}
    use_smtp(nk, smtp)
    assert process_outbox(nk.db, "w1", policy=FAST).sent == 2


def test_enqueue_is_idempotent_and_in_the_callers_transaction(nk: Kernel):
    with nk.db.transaction() as session:
        assert enqueue(session, "email", "a@example.com", "Тема", "Текст", "k1") is True
        assert enqueue(session, "email", "a@example.com", "Тема", "Текст", "k1") is False
    with nk.db.session_factory() as session:
        enqueue(session, "email", "b@example.com", "Тема", "Текст", "k2")
        session.rollback()
    with nk.db.session_factory() as session:
        assert session.scalars(select(m.OutboxMessage.idempotency_key)).all() == ["k1"]
    with pytest.raises(ValueError, match="channel"), nk.db.transaction() as session:
        enqueue(session, "fax", "1", "", "", "k3")


# -- claims ------------------------------------------------------------------------------


def test_two_workers_claiming_concurrently_never_get_the_same_row(nk: Kernel):
    """Two threads, each with its own connection, claim in small batches until nothing is
    left: on PostgreSQL they run side by side (SKIP LOCKED), on SQLite one at a time."""
    keys = queue(nk, 300)
    start = threading.Barrier(2)
    got: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            with nk.db.session_factory() as session:
                start.wait()
                while batch := claim_batch(session, name, 7):
                    got[name].extend(item.id for item in batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    a, b = set(got["a"]), set(got["b"])
    assert len(a) == len(got["a"]) and len(b) == len(got["b"])
    assert not a & b
    assert len(a | b) == len(keys)
    with nk.db.session_factory() as session:
        owners = dict(session.execute(select(m.OutboxMessage.id, m.OutboxMessage.claimed_by)).all())
    assert all(owners[i] == "a" for i in a) and all(owners[i] == "b" for i in b)


@pytest.mark.skipif(not is_postgres(), reason="row locks: PostgreSQL only")
def test_claim_skips_rows_locked_by_another_worker(nk: Kernel):
    queue(nk, 10)
    with nk.db.engine.connect() as other:
        other.execute(text("BEGIN"))
        locked = set(
            other.execute(
                select(m.OutboxMessage.id).order_by(m.OutboxMessage.id).limit(4).with_for_update()
            ).scalars()
        )
        started = time.monotonic()
        with nk.db.session_factory() as session:
            claimed = {c.id for c in claim_batch(session, "w2", 100)}
        assert time.monotonic() - started < 2  # skipped, did not wait for the lock
        other.execute(text("ROLLBACK"))
    assert len(claimed) == 6 and not claimed & locked


def test_claim_needs_its_own_transaction(nk: Kernel):
    with nk.db.session_factory() as session:
        session.execute(select(1))
        with pytest.raises(RuntimeError, match="own transaction"):
            claim_batch(session, "w1", 1)


def test_a_claim_outliving_its_lease_is_reclaimed_and_counts_as_an_attempt(nk: Kernel):
    queue(nk, 2)
    with nk.db.session_factory() as session:
        claimed = claim_batch(session, "dead", 10)
    assert len(claimed) == 2
    with nk.db.transaction() as session:
        session.execute(
            update(m.OutboxMessage)
            .where(m.OutboxMessage.id == claimed[0].id)
            .values(claimed_at=utcnow() - timedelta(minutes=6))
        )
    with nk.db.session_factory() as session:
        again = claim_batch(session, "alive", 10, policy=Policy(lease_seconds=300))
    assert [c.id for c in again] == [claimed[0].id] and again[0].attempts == 1
    # A message that keeps killing its workers ends up failed, not in an endless loop.
    with nk.db.transaction() as session:
        session.execute(
            update(m.OutboxMessage).values(
                claimed_at=utcnow() - timedelta(minutes=6), attempts=7, state="sending"
            )
        )
        assert reclaim_expired(session, Policy(max_attempts=8)) == 2
    assert states(nk) == {"failed": 2}


def test_results_are_written_only_by_the_worker_holding_the_claim(nk: Kernel, smtp: Mailbox):
    use_smtp(nk, smtp)
    queue(nk, 3)
    with nk.db.session_factory() as session:
        batch = claim_batch(session, "slow", 10)
        # The lease ran out and another worker took the rows over meanwhile.
        with session.begin():
            session.execute(update(m.OutboxMessage).values(claimed_by="other"))
        from addons.notifications.channels import read_settings, senders

        chan = senders(read_settings(session))
        session.rollback()
        report = deliver(session, "slow", batch, chan)
        chan["email"].close()
    assert report.sent == 3 and report.lost_claims == 3
    assert states(nk) == {"sending": 3}  # untouched: the new owner will report


def test_a_slow_batch_hands_back_what_it_has_no_time_left_for(nk: Kernel, smtp: Mailbox):
    use_smtp(nk, smtp)
    queue(nk, 5)
    ticks = iter([0.0, 0.0, 10.0, 200.0, 200.0, 200.0, 200.0])
    with nk.db.session_factory() as session:
        batch = claim_batch(session, "w1", 10)
        from addons.notifications.channels import read_settings, senders

        chan = senders(read_settings(session))
        session.rollback()
        report = deliver(
            session, "w1", batch, chan, Policy(lease_seconds=300), clock=lambda: next(ticks)
        )
        chan["email"].close()
    assert (report.sent, report.released) == (2, 3)
    assert states(nk) == {"sent": 2, "pending": 3}


# -- a worker killed in the middle of a batch -------------------------------------------


def _worker_process(url: str, worker_id: str, ready: Any) -> None:
    """A separate worker process (spawned) that sends one batch of up to 50 messages."""
    db = Database(url)
    ready.set()
    process_outbox(db, worker_id, policy=Policy(batch_size=50, lease_seconds=300))


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(nk: Kernel, smtp: Mailbox):
    use_smtp(nk, smtp)
    keys = queue(nk, 10, prefix="kill")
    smtp.delay = 0.4  # a slow server: the worker spends most of its time waiting for 250
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    child = ctx.Process(target=_worker_process, args=(nk.db.url, "doomed", ready), daemon=True)
    child.start()
    try:
        _wait_for(lambda: len(smtp.messages) >= 3)
        time.sleep(0.1)  # inside the 4th message's DATA: not accepted yet
        os.kill(child.pid, signal.SIGKILL)
        child.join(10)
    finally:
        if child.is_alive():  # pragma: no cover
            child.kill()
    assert child.exitcode == -signal.SIGKILL
    received_before = len(smtp.messages)
    assert 3 <= received_before < 10
    assert smtp.calls == received_before + 1  # killed while a message was in flight
    left = states(nk)
    assert left["sending"] == 10 - received_before  # claimed by the dead worker
    assert left["sent"] == received_before

    smtp.delay = 0.0
    time.sleep(1.1)
    report = process_outbox(nk.db, "rescuer", policy=Policy(lease_seconds=1.0))

    assert report.sent == 10 - received_before
    domain = "vitrylo.test"
    expected = {message_id(key, domain) for key in keys}
    counts = smtp.by_message_id()
    assert set(counts) == expected  # nothing lost
    assert set(counts.values()) == {1}  # nothing sent twice
    assert states(nk) == {"sent": 10}


# -- the scheduled job -----------------------------------------------------------------


def test_the_worker_runs_the_outbox_job(nk: Kernel, napp: Flask, smtp: Mailbox):
    from core.worker import Worker

    use_smtp(nk, smtp)
    queue(nk, 3)
    ran = Worker(napp).run_due()
    assert "notifications.outbox" in ran and "notifications.birthdays" in ran
    assert len(smtp.messages) == 3


def test_claimed_rows_carry_what_the_sender_needs(nk: Kernel):
    queue(nk, 1)
    with nk.db.session_factory() as session:
        (item,) = claim_batch(session, "w1", 5)
    assert isinstance(item, Claimed)
    assert (item.channel, item.recipient, item.subject, item.body, item.attempts) == (
        "email",
        "user0@example.com",
        "Повідомлення 0",
        "Текст 0",
        0,
    )
    with nk.db.session_factory() as session:
        n = session.scalar(select(func.count()).where(m.OutboxMessage.state == "sending"))
    assert n == 1


def test_smtp_config_reads_the_settings():
    cfg = SmtpConfig.from_settings(
        {
            "notifications.smtp_host": " mail.example.com ",
            "notifications.smtp_port": "nope",
            "notifications.smtp_security": "weird",
            "notifications.smtp_from": "CRM <crm@example.com>",
        }
    )
    assert (cfg.host, cfg.port, cfg.security, cfg.sender_address) == (
        "mail.example.com",
        587,
        "starttls",
        "crm@example.com",
    )
    assert cfg.configured
    assert not SmtpConfig.from_settings({"notifications.smtp_host": "x"}).configured
