"""Sending a proposal: with the notifications addon enabled, "Send" queues an e-mail with
the PDF's link to the contact person, in the transaction that marks the proposal sent
(so there is no e-mail about a proposal that did not become "sent")."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from addons.crm_base.models import Channel
from addons.sales.documents.amounts import money_text
from addons.sales.models import Proposal
from addons.sales.proposals.kind import KIND
from core.web import kernel


def person_email(db: Session, person_id: int | None) -> str:
    """The contact person's main (else first) e-mail, or ``""``."""
    if person_id is None:
        return ""
    stmt = (
        select(Channel.value)
        .where(Channel.person_id == person_id, Channel.kind == "email")
        .order_by(Channel.is_primary.desc(), Channel.id)
        .limit(1)
    )
    return db.scalar(stmt) or ""


def queue_offer_email(db: Session, record: Proposal) -> bool:
    """With the notifications addon enabled, queue (in this transaction) an e-mail with
    the PDF's link to the contact person; ``False`` when there is nobody or no addon."""
    if not kernel().is_enabled("notifications"):
        return False
    address = person_email(db, record.person_id)
    if not address:
        return False
    from addons.notifications.channels import read_settings
    from addons.notifications.outbox import enqueue

    site = read_settings(db).get("notifications.site_url", "").rstrip("/")
    link = site + KIND.pdf_url(record.id)
    subject = f"Комерційна пропозиція № {record.number}"
    body = (
        f"Доброго дня!\n\nНадсилаємо комерційну пропозицію № {record.number} "
        f"на суму {money_text(Decimal(record.total), record.currency)}.\n"
        f"Переглянути: {link}\n"
    )
    return enqueue(
        db, "email", address, subject, body, f"sales.proposal:{record.id}:sent:{record.version}"
    )
