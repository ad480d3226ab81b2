"""What a contract is to the rest of the area: its rights, its statuses and its
:class:`~addons.sales.documents.DocumentKind`."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from addons.sales.documents import DocumentKind
from addons.sales.models import CONTRACT, Contract

READ = "sales.contract.read"
CREATE = "sales.contract.create"
UPDATE = "sales.contract.update"
DELETE = "sales.contract.delete"
STATUS_LABELS = {
    "draft": _l("Draft"),
    "active": _l("Active"),
    "completed": _l("Completed"),
    "terminated": _l("Terminated"),
}
KIND = DocumentKind(
    key="contract",
    model=Contract,
    subject=CONTRACT,
    read=READ,
    statuses=STATUS_LABELS,
    plural=_l("Contracts"),
    new_label=_l("New contract"),
    title=lambda number: _("Contract %(number)s", number=number),
    print_name="sales.contract",
)
