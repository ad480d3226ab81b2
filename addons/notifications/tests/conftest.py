"""Fixtures of the notifications tests; each test module gets a database of its own with
the notifications addon (and crm_base, which it needs).

- ``nkernel`` / ``napp``: the module's kernel and app;
- ``db``: the app's session inside the test's transaction, rolled back at its end (for
  tests that stay within one request's session: chat, inbox, private messages);
- ``nkweb``: the kernel, with the notification tables and settings emptied after the test
  (for tests that commit through their own sessions or run workers); ``nk``: the same
  inside an app context (``kernel().hooks`` works);
- ``smtp``: a real SMTP server on 127.0.0.1 recording what it receives (:class:`Mailbox`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from addons.notifications import models as m
from addons.notifications.tests.helpers import Mailbox, free_port
from core.kernel import Kernel
from core.models import Setting
from core.testing.plugin import app_for, kernel_with, rolled_back

NOTIFICATION_TABLES = (
    m.Notification,
    m.Event,
    m.OutboxMessage,
    m.Preference,
    m.DefaultPreference,
)


@pytest.fixture(scope="module")
def nkernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel with crm_base and notifications, on a database of this module's own."""
    with kernel_with(tmp_path_factory.mktemp("notifications"), ["notifications"]) as kernel:
        yield kernel


@pytest.fixture(scope="module")
def napp(nkernel: Kernel) -> Flask:
    return app_for(nkernel)


@pytest.fixture
def db(napp: Flask, nkernel: Kernel) -> Iterator[Session]:
    """The app's session on one connection, rolled back when the test ends."""
    with rolled_back(nkernel.db) as session:
        yield session


@pytest.fixture
def nkweb(nkernel: Kernel) -> Iterator[Kernel]:
    """The module's kernel; the notification tables are emptied after the test. For tests
    making requests: no app context is held (it would share ``g``, so the signed-in user,
    between requests)."""
    yield nkernel
    nkernel.db.session.remove()
    with nkernel.db.transaction() as session:
        for model in NOTIFICATION_TABLES:
            session.execute(delete(model))
        session.execute(delete(Setting).where(Setting.name.like("notifications.%")))


@pytest.fixture
def nk(nkweb: Kernel, napp: Flask) -> Iterator[Kernel]:
    """:func:`nkweb` inside an app context (``kernel().hooks`` works)."""
    with napp.app_context():
        yield nkweb


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A real SMTP server on 127.0.0.1 and a random port, for the length of a test."""
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
