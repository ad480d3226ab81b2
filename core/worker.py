"""``vitrylo worker``: runs the scheduled jobs that enabled addons contribute.

One process; each job runs when its interval has passed since it last ran in this process.
The notifications addon's transactional outbox is one such job (``notifications.outbox``).
"""

from __future__ import annotations

import logging
import time

from flask import Flask

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.kernel = app.extensions["vitrylo"]
        self.last_run: dict[str, float] = {}

    def run_due(self, now: float | None = None) -> list[str]:
        """Run the jobs whose interval has passed; returns their names."""
        now = time.monotonic() if now is None else now
        ran = []
        with self.app.app_context():
            self.kernel.refresh()
            for job in self.kernel.hooks.scheduled_jobs():
                last = self.last_run.get(job.name)
                if last is not None and now - last < job.every_seconds:
                    continue
                try:
                    job.func(self.app)
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
                finally:
                    self.kernel.db.session.remove()
                self.last_run[job.name] = now
                ran.append(job.name)
        return ran

    def run(self, once: bool = False, interval: float = 5.0) -> None:
        while True:
            self.run_due()
            if once:
                return
            time.sleep(interval)
