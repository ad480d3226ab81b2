"""What every part of the telemarketing area uses: the rights, the campaign statuses and
where they may go, and the call outcomes (which are open, which final)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

READ = "sales.campaign.read"
CREATE = "sales.campaign.create"
UPDATE = "sales.campaign.update"
DELETE = "sales.campaign.delete"
CALL = "sales.campaign.call"

OPEN = ("pending", "call_back")
FINAL = ("reached", "not_interested", "interested", "no_answer")
ACTIONS = ("reached", "no_answer", "call_back", "not_interested", "interested")

STATUS_LABELS = {"draft": _l("Draft"), "active": _l("Active"), "closed": _l("Closed")}
# Where each status may go: activate, close, and reopen a closed campaign.
TRANSITIONS = {"draft": ("active",), "active": ("closed",), "closed": ("active",)}
OUTCOME_LABELS = {
    "pending": _l("To call"),
    "call_back": _l("Call back"),
    "reached": _l("Reached"),
    "no_answer": _l("No answer"),
    "not_interested": _l("Not interested"),
    "interested": _l("Interested"),
}


def status_label(value: Any) -> str:
    return str(STATUS_LABELS.get(value, value))
