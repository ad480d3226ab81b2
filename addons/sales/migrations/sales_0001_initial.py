"""sales: contacts, pipelines and opportunities, lead sources, campaigns, proposals, contracts

Revision ID: sales_0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sales_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("sales",)
depends_on: Sequence[str] | None = ("crm_base",)


def upgrade() -> None:
    op.create_table(
        "sales_lost_reason",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_lost_reason")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_lost_reason_name")),
    )
    op.create_table(
        "sales_pipeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_pipeline")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_pipeline_name")),
    )
    op.create_table(
        "sales_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_source")),
        sa.UniqueConstraint("name", name=op.f("uq_sales_source_name")),
    )
    op.create_table(
        "sales_source_cost",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_source.id"],
            name=op.f("fk_sales_source_cost_source_id_sales_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_source_cost")),
    )
    op.create_index(
        op.f("ix_sales_source_cost_source_id"), "sales_source_cost", ["source_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_source_cost_spent_on"), "sales_source_cost", ["spent_on"], unique=False
    )
    op.create_table(
        "sales_stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_sales_stage_probability_range")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["sales_pipeline.id"],
            name=op.f("fk_sales_stage_pipeline_id_sales_pipeline"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_stage")),
    )
    op.create_index(
        "ix_sales_stage_pipeline_sort", "sales_stage", ["pipeline_id", "sort"], unique=False
    )
    op.create_table(
        "sales_campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("mailing_list_id", sa.Integer(), nullable=True),
        sa.Column("script", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailing_list_id"],
            ["crm_base_mailing_list.id"],
            name=op.f("fk_sales_campaign_mailing_list_id_crm_base_mailing_list"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["sales_pipeline.id"],
            name=op.f("fk_sales_campaign_pipeline_id_sales_pipeline"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_sales_campaign_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_source.id"],
            name=op.f("fk_sales_campaign_source_id_sales_source"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_campaign")),
    )
    op.create_index(
        op.f("ix_sales_campaign_responsible_id"), "sales_campaign", ["responsible_id"], unique=False
    )
    op.create_table(
        "sales_counterparty_source",
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_counterparty_source_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_source.id"],
            name=op.f("fk_sales_counterparty_source_source_id_sales_source"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("counterparty_id", name=op.f("pk_sales_counterparty_source")),
    )
    op.create_index(
        op.f("ix_sales_counterparty_source_source_id"),
        "sales_counterparty_source",
        ["source_id"],
        unique=False,
    )
    op.create_table(
        "sales_campaign_operator",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["sales_campaign.id"],
            name=op.f("fk_sales_campaign_operator_campaign_id_sales_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_sales_campaign_operator_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "user_id", name=op.f("pk_sales_campaign_operator")),
    )
    op.create_index(
        op.f("ix_sales_campaign_operator_user_id"),
        "sales_campaign_operator",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "sales_opportunity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("lost_reason_id", sa.Integer(), nullable=True),
        sa.Column("lost_note", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("reached_sort", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_sales_opportunity_probability_range")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["sales_campaign.id"],
            name=op.f("fk_sales_opportunity_campaign_id_sales_campaign"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_opportunity_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["lost_reason_id"],
            ["sales_lost_reason.id"],
            name=op.f("fk_sales_opportunity_lost_reason_id_sales_lost_reason"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_sales_opportunity_person_id_crm_base_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["sales_pipeline.id"],
            name=op.f("fk_sales_opportunity_pipeline_id_sales_pipeline"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_sales_opportunity_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_source.id"],
            name=op.f("fk_sales_opportunity_source_id_sales_source"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["sales_stage.id"],
            name=op.f("fk_sales_opportunity_stage_id_sales_stage"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_opportunity")),
    )
    op.create_index(
        "ix_sales_opportunity_board",
        "sales_opportunity",
        ["stage_id", "status", "position", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_opportunity_campaign_id"), "sales_opportunity", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_opportunity_closed_at"), "sales_opportunity", ["closed_at"], unique=False
    )
    op.create_index(
        op.f("ix_sales_opportunity_counterparty_id"),
        "sales_opportunity",
        ["counterparty_id"],
        unique=False,
    )
    op.create_index(
        "ix_sales_opportunity_name_id", "sales_opportunity", ["name", "id"], unique=False
    )
    op.create_index(
        "ix_sales_opportunity_amount_id", "sales_opportunity", ["amount", "id"], unique=False
    )
    op.create_index(
        "ix_sales_opportunity_expected_close_id",
        "sales_opportunity",
        ["expected_close", "id"],
        unique=False,
    )
    op.create_index(
        "ix_sales_opportunity_responsible_status",
        "sales_opportunity",
        ["responsible_id", "status"],
        unique=False,
    )
    op.create_index(
        "ix_sales_opportunity_funnel_report",
        "sales_opportunity",
        ["pipeline_id", "created_at", "responsible_id", "status", "reached_sort", "amount"],
        unique=False,
    )
    op.create_index(
        "ix_sales_opportunity_source_report",
        "sales_opportunity",
        ["source_id", "created_at", "responsible_id", "status", "amount"],
        unique=False,
    )
    op.create_table(
        "sales_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["sales_campaign.id"],
            name=op.f("fk_sales_call_campaign_id_sales_campaign"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_call_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["core_user.id"],
            name=op.f("fk_sales_call_operator_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_call_opportunity_id_sales_opportunity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_sales_call_person_id_crm_base_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_call")),
    )
    op.create_index(
        op.f("ix_sales_call_counterparty_id"), "sales_call", ["counterparty_id"], unique=False
    )
    op.create_index(
        "ix_sales_call_operator", "sales_call", ["operator_id", "outcome"], unique=False
    )
    op.create_index(
        "ix_sales_call_queue",
        "sales_call",
        ["campaign_id", "outcome", "due_at", "id"],
        unique=False,
    )
    op.create_table(
        "sales_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("direction_id", sa.Integer(), nullable=True),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("next_step", sa.Text(), nullable=False),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["sales_campaign.id"],
            name=op.f("fk_sales_contact_campaign_id_sales_campaign"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_contact_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["core_user.id"],
            name=op.f("fk_sales_contact_created_by_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["direction_id"],
            ["crm_base_direction.id"],
            name=op.f("fk_sales_contact_direction_id_crm_base_direction"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_contact_opportunity_id_sales_opportunity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_sales_contact_person_id_crm_base_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_sales_contact_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sales_source.id"],
            name=op.f("fk_sales_contact_source_id_sales_source"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_contact")),
    )
    op.create_index(
        op.f("ix_sales_contact_campaign_id"), "sales_contact", ["campaign_id"], unique=False
    )
    op.create_index(
        "ix_sales_contact_counterparty_planned",
        "sales_contact",
        ["counterparty_id", "planned_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_contact_opportunity_id"), "sales_contact", ["opportunity_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_contact_person_id"), "sales_contact", ["person_id"], unique=False
    )
    op.create_index(
        "ix_sales_contact_responsible_status_planned",
        "sales_contact",
        ["responsible_id", "status", "planned_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_contact_source_id"), "sales_contact", ["source_id"], unique=False
    )
    op.create_index(
        "ix_sales_contact_status_planned", "sales_contact", ["status", "planned_at"], unique=False
    )
    op.create_index(
        "ix_sales_contact_planned_id", "sales_contact", ["planned_at", "id"], unique=False
    )
    op.create_table(
        "sales_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("vat_total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("intro", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_proposal_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_proposal_opportunity_id_sales_opportunity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_sales_proposal_person_id_crm_base_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_sales_proposal_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_proposal")),
        sa.UniqueConstraint("number", name=op.f("uq_sales_proposal_number")),
    )
    op.create_index(
        op.f("ix_sales_proposal_counterparty_id"),
        "sales_proposal",
        ["counterparty_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_proposal_opportunity_id"), "sales_proposal", ["opportunity_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_proposal_responsible_id"), "sales_proposal", ["responsible_id"], unique=False
    )
    op.create_table(
        "sales_stage_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("from_stage_id", sa.Integer(), nullable=True),
        sa.Column("to_stage_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_stage_id"],
            ["sales_stage.id"],
            name=op.f("fk_sales_stage_move_from_stage_id_sales_stage"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_stage_move_opportunity_id_sales_opportunity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_stage_id"],
            ["sales_stage.id"],
            name=op.f("fk_sales_stage_move_to_stage_id_sales_stage"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_sales_stage_move_user_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_stage_move")),
    )
    op.create_index(
        op.f("ix_sales_stage_move_opportunity_id"),
        "sales_stage_move",
        ["opportunity_id"],
        unique=False,
    )
    op.create_table(
        "sales_contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("opportunity_id", sa.Integer(), nullable=True),
        sa.Column("proposal_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_sales_contract_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_contract_opportunity_id_sales_opportunity"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["sales_proposal.id"],
            name=op.f("fk_sales_contract_proposal_id_sales_proposal"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_sales_contract_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_sales_contract_number")),
    )
    op.create_index(
        op.f("ix_sales_contract_counterparty_id"),
        "sales_contract",
        ["counterparty_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sales_contract_opportunity_id"), "sales_contract", ["opportunity_id"], unique=False
    )
    op.create_index(
        op.f("ix_sales_contract_responsible_id"), "sales_contract", ["responsible_id"], unique=False
    )
    op.create_index(
        "ix_sales_contract_status_ends", "sales_contract", ["status", "ends_on"], unique=False
    )
    op.create_table(
        "sales_proposal_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("price", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["sales_proposal.id"],
            name=op.f("fk_sales_proposal_line_proposal_id_sales_proposal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_proposal_line")),
        sa.UniqueConstraint("proposal_id", "sort", name=op.f("uq_sales_proposal_line_proposal_id")),
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table("sales_proposal_line")
    op.drop_table("sales_contract")
    op.drop_table("sales_stage_move")
    op.drop_table("sales_proposal")
    op.drop_table("sales_contact")
    op.drop_table("sales_call")
    op.drop_table("sales_opportunity")
    op.drop_table("sales_campaign_operator")
    op.drop_table("sales_counterparty_source")
    op.drop_table("sales_campaign")
    op.drop_table("sales_stage")
    op.drop_table("sales_source_cost")
    op.drop_table("sales_source")
    op.drop_table("sales_pipeline")
    op.drop_table("sales_lost_reason")
