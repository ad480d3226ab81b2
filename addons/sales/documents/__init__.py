"""sales: what commercial proposals and contracts have in common (MS-7).

Both are documents of a counterparty with a number, an amount in a currency, a print
template, a status and a responsible manager; both have a list, a card (a form view), a
"new" page, a printed form, entries in the counterparty's timeline and a global search by
number. A :class:`DocumentKind` says what differs; the rest is written once, in
:mod:`.numbering` (numbers per year), :mod:`.amounts` (typed and printed money),
:mod:`.fields` (form fields and choices), :mod:`.pages` (the list, the card, "new"),
:mod:`.printing` (parties, layouts, dates) and :mod:`.search` (search and timeline rows).

Why these pieces work the way they do:

- **Numbers are unique per year** (``КП-2026-0001``): the next one is the year's largest
  plus one. A proposal is inserted with it in a savepoint; two managers saving at the
  same instant meet the unique constraint, and the loser takes the next number. A
  contract's number is typed; the next free one is only suggested.
- **Amounts are typed the Ukrainian way** (``1 200,50``) and printed as a Ukrainian
  document prints them (``1 200,00 грн``).
- **Scope first**: a counterparty is chosen among those the user may see; lists, search
  and the timeline show only the documents of the user's record scope.
- **A form never drops a stored value** the user may no longer choose (a responsible who
  left, a contact person handed over): it stays among the choices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import url_for

from addons.sales.views import menu
from core.hooktypes import MenuItem, PrintableDocument


@dataclass(frozen=True)
class DocumentKind:
    """A kind of sales document as the shared pieces need it. ``key`` names its endpoints
    (``sales.<key>`` the card, ``sales.<key>s`` the list, ``sales.<key>_edit``,
    ``sales.<key>_delete``, ``sales.<key>_new``) and templates (``sales/<key>.html``,
    ``sales/<key>_new.html``)."""

    key: str
    model: type[Any]
    subject: str  # the record scope, through ``model.responsible_id``
    read: str  # the right to read one
    statuses: Mapping[str, Any]  # status → label, in their order
    plural: Any  # "Proposals": the list and the breadcrumbs
    new_label: Any  # "New proposal"
    title: Callable[[str], str]  # a number → "Proposal КП-2026-0001"
    print_name: str  # its printable document

    @property
    def owner(self) -> Any:
        return self.model.responsible_id

    def status_label(self, status: Any) -> str:
        return str(self.statuses.get(status, status))

    def card_url(self, record_id: int) -> str:
        return url_for(f"sales.{self.key}", record_id=record_id)

    def list_url(self) -> str:
        return url_for(f"sales.{self.key}s")

    def pdf_url(self, record_id: int) -> str:
        return url_for("core.print_document", name=self.print_name, record_id=record_id)

    def menu_item(self, order: int) -> MenuItem:
        """The list under the "Sales" menu."""
        return menu(f"{self.key}s", self.plural, self.read, order)

    def printable(self, label: str, context: Callable[[int], Any]) -> PrintableDocument:
        """The printed document (``templates/sales/print/<key>.html``), readable with
        the right to read the kind; ``context`` loads the record within the user's scope."""
        return PrintableDocument(
            self.print_name,
            label,
            self.subject,
            f"sales/print/{self.key}.html",
            context,
            permission=self.read,
        )
