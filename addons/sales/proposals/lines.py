"""A proposal's lines as stored: loaded in order, shown in the form, saved position by
position (updated in place, so the audit log shows what changed), and the proposal's
``total`` and ``vat_total`` kept in step with them in the same transaction."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import null, select
from sqlalchemy.orm import Session
from wtforms import FieldList

from addons.crm_base.contacts import MAX_ROWS, more_requested
from addons.sales.documents.fields import refresh_requested
from addons.sales.models import Proposal, ProposalLine
from addons.sales.proposals.forms import LineData
from addons.sales.proposals.totals import compute_totals, vat_choice_of

BLANK_LINES = 1


def load_lines(db: Session, proposal_id: int) -> list[ProposalLine]:
    return list(
        db.scalars(
            select(ProposalLine)
            .where(ProposalLine.proposal_id == proposal_id)
            .order_by(ProposalLine.sort, ProposalLine.id)
        )
    )


def fill_lines(field: FieldList, lines: Sequence[Any], blank: int = BLANK_LINES) -> None:
    """Show stored (or prefilled) lines and ``blank`` empty rows in a form not posted."""
    while field.entries:
        field.pop_entry()
    for line in lines:
        field.append_entry(
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit": line.unit,
                "price": line.price,
                "vat_rate": vat_choice_of(line.vat_rate),
            }
        )
    for _n in range(blank if lines else max(blank, 1)):
        field.append_entry()


def sync_lines(db: Session, proposal_id: int, rows: Sequence[LineData]) -> bool:
    """Make the stored lines ``rows``, position by position (updated in place, extra
    ones deleted, new ones added); ``True`` if anything changed."""
    stored = load_lines(db, proposal_id)
    changed = False
    for position, (line, row) in enumerate(zip(stored, rows, strict=False)):
        wanted = {
            "sort": position,
            "description": row.description,
            "quantity": row.quantity,
            "unit": row.unit,
            "price": row.price,
            "vat_rate": row.vat_rate,
        }
        for name, value in wanted.items():
            if getattr(line, name) != value:
                setattr(line, name, value)
                changed = True
    for line in stored[len(rows) :]:
        db.delete(line)
        changed = True
    for position, row in enumerate(rows[len(stored) :], start=len(stored)):
        db.add(
            ProposalLine(
                proposal_id=proposal_id,
                sort=position,
                description=row.description,
                quantity=row.quantity,
                unit=row.unit,
                price=row.price,
                # NULL said explicitly: a plain None would let the column's default (20) in.
                vat_rate=null() if row.vat_rate is None else row.vat_rate,
            )
        )
        changed = True
    return changed


def set_totals(record: Proposal, rows: Sequence[LineData]) -> None:
    """``total`` (with VAT) and ``vat_total`` from the lines (only real changes)."""
    totals = compute_totals(r.amounts for r in rows)
    if record.total is None or Decimal(record.total) != totals.total:
        record.total = totals.total
    if record.vat_total is None or Decimal(record.vat_total) != totals.vat:
        record.vat_total = totals.vat


def rows_requested() -> bool:
    """ "One more line" or "Show its contact persons" was pressed: the posted form is
    shown again (with a blank line for the first), nothing is saved or checked."""
    return more_requested("lines") or refresh_requested()


def add_row(form: FlaskForm) -> None:
    """The blank row "One more line" asked for (up to the form's limit)."""
    if more_requested("lines") and len(form.lines.entries) < MAX_ROWS:
        form.lines.append_entry()
