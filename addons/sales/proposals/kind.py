"""What a commercial proposal is to the rest of the area: its rights, its statuses and
where each may go, and its :class:`~addons.sales.documents.DocumentKind`."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from addons.sales.documents import DocumentKind
from addons.sales.models import PROPOSAL, Proposal

READ = "sales.proposal.read"
CREATE = "sales.proposal.create"
UPDATE = "sales.proposal.update"
DELETE = "sales.proposal.delete"
OPPORTUNITY_READ = "sales.opportunity.read"
STATUS_LABELS = {
    "draft": _l("Draft"),
    "sent": _l("Sent"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
}
#: Where a proposal may go from each status (the card's buttons).
TRANSITIONS = {
    "draft": ("sent",),
    "sent": ("accepted", "rejected", "draft"),
    "accepted": (),
    "rejected": (),
}
KIND = DocumentKind(
    key="proposal",
    model=Proposal,
    subject=PROPOSAL,
    read=READ,
    statuses=STATUS_LABELS,
    plural=_l("Proposals"),
    new_label=_l("New proposal"),
    title=lambda number: _("Proposal %(number)s", number=number),
    print_name="sales.proposal",
)
