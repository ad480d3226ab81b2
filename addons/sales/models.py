"""sales tables (MS-1 … MS-7): planned and done contacts, pipelines and their stages,
opportunities with their stage history, lost reasons, lead sources and what they cost,
telemarketing campaigns with their call queues, commercial proposals and contracts.

Every record that belongs to somebody has ``responsible_id`` (a user): record scope
(own / team / all) is applied through it, per subject (``SUBJECTS``). crm_base's tables are
extended by tables of our own with a foreign key (the lead source of a counterparty), never
by new columns.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

# Record-scope subjects (rights matrix): one per object, owner column ``responsible_id``.
CONTACT = "sales.contact"
OPPORTUNITY = "sales.opportunity"
CAMPAIGN = "sales.campaign"
PROPOSAL = "sales.proposal"
CONTRACT = "sales.contract"
SUBJECTS = (CONTACT, OPPORTUNITY, CAMPAIGN, PROPOSAL, CONTRACT)

CONTACT_KINDS = ("call", "meeting", "letter")
CONTACT_STATUSES = ("planned", "done", "cancelled")
OPPORTUNITY_STATUSES = ("open", "won", "lost")
CAMPAIGN_STATUSES = ("draft", "active", "closed")
CALL_OUTCOMES = ("pending", "reached", "no_answer", "call_back", "not_interested", "interested")
PROPOSAL_STATUSES = ("draft", "sent", "accepted", "rejected")
CONTRACT_STATUSES = ("draft", "active", "completed", "terminated")
VAT_RATES = (Decimal("20"), Decimal("14"), Decimal("7"), Decimal("0"))  # per the domain doc

MONEY = Numeric(16, 2)
USER_FK = "core_user.id"
COUNTERPARTY_FK = "crm_base_counterparty.id"
PERSON_FK = "crm_base_person.id"


class Source(Base):
    """Where a lead came from (MS-5): exhibition, web site, advertisement, recommendation…"""

    __tablename__ = "sales_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)


class SourceCost(Base):
    """Money spent on a source on a day (a stand at an exhibition, an advertisement): the
    effectiveness report divides the cost in a period by the deals won in it."""

    __tablename__ = "sales_source_cost"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sales_source.id", ondelete="CASCADE"), index=True
    )
    spent_on: Mapped[date] = mapped_column(Date, index=True)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    note: Mapped[str] = mapped_column(String(300), default="")


class CounterpartySource(Base):
    """The lead source of a counterparty (crm_base has no such column; we add a row)."""

    __tablename__ = "sales_counterparty_source"

    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"), primary_key=True
    )
    source_id: Mapped[int] = mapped_column(
        ForeignKey("sales_source.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Contact(Base):
    """A call, meeting or letter with a counterparty (MS-1, MS-6): planned, then done with a
    result and the next step. ``planned_at`` is UTC; the list "my contacts today" is a range
    scan of (responsible, status, planned_at)."""

    __tablename__ = "sales_contact"
    __table_args__ = (
        Index(
            "ix_sales_contact_responsible_status_planned", "responsible_id", "status", "planned_at"
        ),
        Index("ix_sales_contact_counterparty_planned", "counterparty_id", "planned_at"),
        Index("ix_sales_contact_status_planned", "status", "planned_at"),
        # The contacts list's default order (newest first, keyset on planned_at, id).
        Index("ix_sales_contact_planned_id", "planned_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), default="call")
    subject: Mapped[str] = mapped_column(String(300))
    planned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), default=None
    )
    counterparty_id: Mapped[int] = mapped_column(ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey(PERSON_FK, ondelete="SET NULL"), index=True, default=None
    )
    direction_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_direction.id", ondelete="SET NULL"), default=None
    )
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="SET NULL"), index=True, default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_campaign.id", ondelete="SET NULL"), index=True, default=None
    )
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_source.id", ondelete="SET NULL"), index=True, default=None
    )
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    result: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(Text, default="")
    # Whether the "planned contact due" notification was raised (the scan runs each minute).
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Pipeline(Base):
    """A sales pipeline (MS-2) with its own ordered stages."""

    __tablename__ = "sales_pipeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    currency: Mapped[str] = mapped_column(String(3), default="UAH")


class PipelineStage(Base):
    """An open stage of a pipeline; won and lost are statuses of the opportunity, not stages.

    ``sort`` orders the stages; the funnel counts an opportunity at every stage up to the
    furthest it reached (``Opportunity.reached_sort``)."""

    __tablename__ = "sales_stage"
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        Index("ix_sales_stage_pipeline_sort", "pipeline_id", "sort"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("sales_pipeline.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[int] = mapped_column(Integer, default=10)


class LostReason(Base):
    """Why a deal was lost (price, competitor, no budget…), configurable."""

    __tablename__ = "sales_lost_reason"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Opportunity(Base):
    """A deal in a pipeline (MS-2). ``position`` orders the cards of a kanban column;
    ``reached_sort`` is the furthest stage's ``sort`` (the funnel report is one GROUP BY)."""

    __tablename__ = "sales_opportunity"
    __table_args__ = (
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        # A kanban column: open deals of a stage in card order (keyset on position, id).
        Index("ix_sales_opportunity_board", "stage_id", "status", "position", "id"),
        Index("ix_sales_opportunity_responsible_status", "responsible_id", "status"),
        Index("ix_sales_opportunity_name_id", "name", "id"),
        # The list's other sort orders (keyset on the column, then the id).
        Index("ix_sales_opportunity_amount_id", "amount", "id"),
        Index("ix_sales_opportunity_expected_close_id", "expected_close", "id"),
        # The reports (addons/sales/reports.py) read only these indexes, never the table:
        # the funnel per pipeline and period, the lead sources per source and period;
        # responsible_id inside serves the record scope and the manager filter.
        Index(
            "ix_sales_opportunity_funnel_report",
            "pipeline_id",
            "created_at",
            "responsible_id",
            "status",
            "reached_sort",
            "amount",
        ),
        Index(
            "ix_sales_opportunity_source_report",
            "source_id",
            "created_at",
            "responsible_id",
            "status",
            "amount",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey(PERSON_FK, ondelete="SET NULL"), default=None
    )
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("sales_pipeline.id", ondelete="RESTRICT"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("sales_stage.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(10), default="open")
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="UAH")
    probability: Mapped[int] = mapped_column(Integer, default=10)
    expected_close: Mapped[date | None] = mapped_column(Date, default=None)
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), default=None
    )
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_source.id", ondelete="SET NULL"), default=None
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_campaign.id", ondelete="SET NULL"), index=True, default=None
    )
    lost_reason_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_lost_reason.id", ondelete="SET NULL"), default=None
    )
    lost_note: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), index=True, default=None
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    reached_sort: Mapped[int] = mapped_column(Integer, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class StageMove(Base):
    """A recorded stage change or close of an opportunity (chronology, notifications)."""

    __tablename__ = "sales_stage_move"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="CASCADE"), index=True
    )
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_stage.id", ondelete="SET NULL"), default=None
    )
    to_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_stage.id", ondelete="SET NULL"), default=None
    )
    status: Mapped[str] = mapped_column(String(10), default="open")  # after the move
    user_id: Mapped[int | None] = mapped_column(ForeignKey(USER_FK, ondelete="SET NULL"))
    moved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Campaign(Base):
    """A telemarketing campaign (MS-3) over a crm_base mailing list, with a call script."""

    __tablename__ = "sales_campaign"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mailing_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_mailing_list.id", ondelete="SET NULL"), default=None
    )
    script: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="draft")
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_pipeline.id", ondelete="SET NULL"), default=None
    )
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_source.id", ondelete="SET NULL"), default=None
    )
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), index=True, default=None
    )
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class CampaignOperator(Base):
    """An operator assigned to a campaign's calls."""

    __tablename__ = "sales_campaign_operator"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("sales_campaign.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey(USER_FK, ondelete="CASCADE"), primary_key=True, index=True
    )


class Call(Base):
    """One number of a campaign's call queue and its outcome. ``due_at`` is when it should
    be called (now for new numbers, the agreed time for "call back at …")."""

    __tablename__ = "sales_call"
    __table_args__ = (
        # The operator's queue: the next due call of a campaign.
        Index("ix_sales_call_queue", "campaign_id", "outcome", "due_at", "id"),
        Index("ix_sales_call_operator", "operator_id", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("sales_campaign.id", ondelete="CASCADE"))
    counterparty_id: Mapped[int | None] = mapped_column(
        ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"), index=True, default=None
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey(PERSON_FK, ondelete="CASCADE"), default=None
    )
    phone: Mapped[str] = mapped_column(String(40), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # Who took the call: set when an operator takes it, so two operators never get the same.
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), default=None
    )
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    called_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    note: Mapped[str] = mapped_column(Text, default="")
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="SET NULL"), default=None
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Proposal(Base):
    """A commercial proposal (MS-7): lines with VAT, printed from a template."""

    __tablename__ = "sales_proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"), index=True
    )
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="SET NULL"), index=True, default=None
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey(PERSON_FK, ondelete="SET NULL"), default=None
    )
    issued_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    currency: Mapped[str] = mapped_column(String(3), default="UAH")
    # Kept in step with the lines (sum of line totals with VAT, and the VAT in it).
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat_total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    template: Mapped[str] = mapped_column(String(40), default="standard")
    intro: Mapped[str] = mapped_column(Text, default="")
    terms: Mapped[str] = mapped_column(Text, default="")
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), index=True, default=None
    )
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class ProposalLine(Base):
    """A line of a proposal: prices are without VAT; ``vat_rate`` is a percentage or
    ``None`` (not a VAT payer / exempt)."""

    __tablename__ = "sales_proposal_line"
    __table_args__ = (UniqueConstraint("proposal_id", "sort"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("sales_proposal.id", ondelete="CASCADE"))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(16, 3), default=Decimal("1"))
    unit: Mapped[str] = mapped_column(String(20), default="шт")
    price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    vat_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), default=Decimal("20"))


class Contract(Base):
    """A contract with a counterparty (MS-7): number, dates, amount, status."""

    __tablename__ = "sales_contract"
    __table_args__ = (Index("ix_sales_contract_status_ends", "status", "ends_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey(COUNTERPARTY_FK, ondelete="CASCADE"), index=True
    )
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="SET NULL"), index=True, default=None
    )
    proposal_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_proposal.id", ondelete="SET NULL"), default=None
    )
    subject: Mapped[str] = mapped_column(Text, default="")
    signed_on: Mapped[date | None] = mapped_column(Date, default=None)
    starts_on: Mapped[date | None] = mapped_column(Date, default=None)
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    amount: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="UAH")
    status: Mapped[str] = mapped_column(String(12), default="draft")
    template: Mapped[str] = mapped_column(String(40), default="standard")
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey(USER_FK, ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
