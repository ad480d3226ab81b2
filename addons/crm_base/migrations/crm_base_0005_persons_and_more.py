"""crm_base: persons, channels, addresses, classification, attributes, directions, requisites,
employees, notes and mailing lists (issue 5 schema).

Revision ID: crm_base_0005
Revises: crm_base_0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_base_0005"
down_revision: str | None = "crm_base_0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_base_attribute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=10), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_attribute")),
        sa.UniqueConstraint("subject", "code", name=op.f("uq_crm_base_attribute_subject")),
    )
    op.create_table(
        "crm_base_direction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_direction")),
        sa.UniqueConstraint("name", name=op.f("uq_crm_base_direction_name")),
    )
    op.create_table(
        "crm_base_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["crm_base_group.id"],
            name=op.f("fk_crm_base_group_parent_id_crm_base_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_group")),
    )
    with op.batch_alter_table("crm_base_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_group_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_base_group_path"), ["path"], unique=False)

    op.create_table(
        "crm_base_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_crm_base_tag_name")),
    )
    op.create_table(
        "crm_base_attribute_value",
        sa.Column("attribute_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("value_text", sa.String(length=500), nullable=True),
        sa.Column("value_number", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("value_bool", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["crm_base_attribute.id"],
            name=op.f("fk_crm_base_attribute_value_attribute_id_crm_base_attribute"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "attribute_id", "record_id", name=op.f("pk_crm_base_attribute_value")
        ),
    )
    with op.batch_alter_table("crm_base_attribute_value", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_base_attribute_value_date", ["attribute_id", "value_date"], unique=False
        )
        batch_op.create_index(
            "ix_crm_base_attribute_value_number", ["attribute_id", "value_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_attribute_value_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(
            "ix_crm_base_attribute_value_text", ["attribute_id", "value_text"], unique=False
        )

    op.create_table(
        "crm_base_stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["direction_id"],
            ["crm_base_direction.id"],
            name=op.f("fk_crm_base_stage_direction_id_crm_base_direction"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_stage")),
    )
    with op.batch_alter_table("crm_base_stage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_stage_direction_id"), ["direction_id"], unique=False
        )

    op.create_table(
        "crm_base_employee",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=False),
        sa.Column("full_name", sa.String(length=310), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("birth_key", sa.Integer(), nullable=True),
        sa.Column("home_address", sa.String(length=400), nullable=False),
        sa.Column("documents", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_crm_base_employee_user_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_employee")),
        sa.UniqueConstraint("user_id", name=op.f("uq_crm_base_employee_user_id")),
    )
    with op.batch_alter_table("crm_base_employee", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_employee_birth_key"), ["birth_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_employee_full_name"), ["full_name"], unique=False
        )

    op.create_table(
        "crm_base_mailing_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=20), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["core_user.id"],
            name=op.f("fk_crm_base_mailing_list_owner_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_mailing_list")),
    )
    with op.batch_alter_table("crm_base_mailing_list", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_mailing_list_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "crm_base_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=False),
        sa.Column("full_name", sa.String(length=310), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("birth_key", sa.Integer(), nullable=True),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=400), nullable=False),
        sa.Column("id_document", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("manager_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["manager_id"],
            ["core_user.id"],
            name=op.f("fk_crm_base_person_manager_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_person")),
        sa.UniqueConstraint("external_id", name=op.f("uq_crm_base_person_external_id")),
    )
    with op.batch_alter_table("crm_base_person", schema=None) as batch_op:
        batch_op.create_index("ix_crm_base_person_birth_key", ["birth_key"], unique=False)
        batch_op.create_index("ix_crm_base_person_full_name_id", ["full_name", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_crm_base_person_manager_id"), ["manager_id"], unique=False
        )

    op.create_table(
        "crm_base_address",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("postal_code", sa.String(length=10), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("line", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_address_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_address")),
    )
    with op.batch_alter_table("crm_base_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_address_counterparty_id"), ["counterparty_id"], unique=False
        )

    op.create_table(
        "crm_base_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("employee_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN counterparty_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN employee_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_crm_base_channel_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_channel_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["crm_base_employee.id"],
            name=op.f("fk_crm_base_channel_employee_id_crm_base_employee"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_crm_base_channel_person_id_crm_base_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_channel")),
    )
    with op.batch_alter_table("crm_base_channel", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_channel_counterparty_id"), ["counterparty_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_channel_employee_id"), ["employee_id"], unique=False
        )
        batch_op.create_index("ix_crm_base_channel_kind_value", ["kind", "value"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_crm_base_channel_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "crm_base_counterparty_group",
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_counterparty_group_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["crm_base_group.id"],
            name=op.f("fk_crm_base_counterparty_group_group_id_crm_base_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "counterparty_id", "group_id", name=op.f("pk_crm_base_counterparty_group")
        ),
    )
    with op.batch_alter_table("crm_base_counterparty_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_counterparty_group_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "crm_base_counterparty_tag",
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_counterparty_tag_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["crm_base_tag.id"],
            name=op.f("fk_crm_base_counterparty_tag_tag_id_crm_base_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "counterparty_id", "tag_id", name=op.f("pk_crm_base_counterparty_tag")
        ),
    )
    with op.batch_alter_table("crm_base_counterparty_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_counterparty_tag_tag_id"), ["tag_id"], unique=False
        )

    op.create_table(
        "crm_base_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["core_user.id"],
            name=op.f("fk_crm_base_note_author_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_note_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_note")),
    )
    with op.batch_alter_table("crm_base_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_note_counterparty_id"), ["counterparty_id"], unique=False
        )

    op.create_table(
        "crm_base_person_link",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_person_link_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_crm_base_person_link_person_id_crm_base_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "person_id", "counterparty_id", name=op.f("pk_crm_base_person_link")
        ),
    )
    with op.batch_alter_table("crm_base_person_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_person_link_counterparty_id"), ["counterparty_id"], unique=False
        )

    op.create_table(
        "crm_base_person_tag",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["crm_base_person.id"],
            name=op.f("fk_crm_base_person_tag_person_id_crm_base_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["crm_base_tag.id"],
            name=op.f("fk_crm_base_person_tag_tag_id_crm_base_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "tag_id", name=op.f("pk_crm_base_person_tag")),
    )
    with op.batch_alter_table("crm_base_person_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_base_person_tag_tag_id"), ["tag_id"], unique=False)

    op.create_table(
        "crm_base_requisites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=True),
        sa.Column("full_name", sa.String(length=400), nullable=False),
        sa.Column("tax_code", sa.String(length=10), nullable=False),
        sa.Column("vat_payer", sa.Boolean(), nullable=False),
        sa.Column("vat_number", sa.String(length=12), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("legal_address", sa.String(length=400), nullable=False),
        sa.Column("director", sa.String(length=200), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_requisites_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_requisites")),
    )
    with op.batch_alter_table("crm_base_requisites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_requisites_counterparty_id"), ["counterparty_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_requisites_tax_code"), ["tax_code"], unique=False
        )

    op.create_table(
        "crm_base_work",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counterparty_id", sa.Integer(), nullable=False),
        sa.Column("direction_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["counterparty_id"],
            ["crm_base_counterparty.id"],
            name=op.f("fk_crm_base_work_counterparty_id_crm_base_counterparty"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["direction_id"],
            ["crm_base_direction.id"],
            name=op.f("fk_crm_base_work_direction_id_crm_base_direction"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["responsible_id"],
            ["core_user.id"],
            name=op.f("fk_crm_base_work_responsible_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["crm_base_stage.id"],
            name=op.f("fk_crm_base_work_stage_id_crm_base_stage"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_work")),
        sa.UniqueConstraint(
            "counterparty_id", "direction_id", name=op.f("uq_crm_base_work_counterparty_id")
        ),
    )
    with op.batch_alter_table("crm_base_work", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_work_counterparty_id"), ["counterparty_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_work_direction_id"), ["direction_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_work_responsible_id"), ["responsible_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_base_work_stage_id"), ["stage_id"], unique=False)

    op.create_table(
        "crm_base_responsible_person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requisites_id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=310), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["requisites_id"],
            ["crm_base_requisites.id"],
            name=op.f("fk_crm_base_responsible_person_requisites_id_crm_base_requisites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_responsible_person")),
    )
    with op.batch_alter_table("crm_base_responsible_person", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_responsible_person_requisites_id"),
            ["requisites_id"],
            unique=False,
        )

    op.create_table(
        "crm_base_stage_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_id", sa.Integer(), nullable=False),
        sa.Column("from_stage_id", sa.Integer(), nullable=True),
        sa.Column("to_stage_id", sa.Integer(), nullable=True),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["core_user.id"],
            name=op.f("fk_crm_base_stage_change_changed_by_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_stage_id"],
            ["crm_base_stage.id"],
            name=op.f("fk_crm_base_stage_change_from_stage_id_crm_base_stage"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_stage_id"],
            ["crm_base_stage.id"],
            name=op.f("fk_crm_base_stage_change_to_stage_id_crm_base_stage"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["work_id"],
            ["crm_base_work.id"],
            name=op.f("fk_crm_base_stage_change_work_id_crm_base_work"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_base_stage_change")),
    )
    with op.batch_alter_table("crm_base_stage_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_base_stage_change_work_id"), ["work_id"], unique=False
        )

    with op.batch_alter_table("crm_base_counterparty", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="company", nullable=False)
        )
        batch_op.add_column(
            sa.Column("relation", sa.String(length=10), server_default="prospect", nullable=False)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), server_default="active", nullable=False)
        )
        batch_op.add_column(sa.Column("tax_code", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("website", sa.String(length=255), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("notes", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_crm_base_counterparty_relation"), ["relation"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_base_counterparty_tax_code"), ["tax_code"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_crm_base_counterparty_external_id"), ["external_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_base_counterparty", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_crm_base_counterparty_external_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_crm_base_counterparty_tax_code"))
        batch_op.drop_index(batch_op.f("ix_crm_base_counterparty_relation"))
        batch_op.drop_column("external_id")
        batch_op.drop_column("notes")
        batch_op.drop_column("website")
        batch_op.drop_column("tax_code")
        batch_op.drop_column("status")
        batch_op.drop_column("relation")
        batch_op.drop_column("kind")

    with op.batch_alter_table("crm_base_stage_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_stage_change_work_id"))

    op.drop_table("crm_base_stage_change")
    with op.batch_alter_table("crm_base_responsible_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_responsible_person_requisites_id"))

    op.drop_table("crm_base_responsible_person")
    with op.batch_alter_table("crm_base_work", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_work_stage_id"))
        batch_op.drop_index(batch_op.f("ix_crm_base_work_responsible_id"))
        batch_op.drop_index(batch_op.f("ix_crm_base_work_direction_id"))
        batch_op.drop_index(batch_op.f("ix_crm_base_work_counterparty_id"))

    op.drop_table("crm_base_work")
    with op.batch_alter_table("crm_base_requisites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_requisites_tax_code"))
        batch_op.drop_index(batch_op.f("ix_crm_base_requisites_counterparty_id"))

    op.drop_table("crm_base_requisites")
    with op.batch_alter_table("crm_base_person_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_person_tag_tag_id"))

    op.drop_table("crm_base_person_tag")
    with op.batch_alter_table("crm_base_person_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_person_link_counterparty_id"))

    op.drop_table("crm_base_person_link")
    with op.batch_alter_table("crm_base_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_note_counterparty_id"))

    op.drop_table("crm_base_note")
    with op.batch_alter_table("crm_base_counterparty_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_counterparty_tag_tag_id"))

    op.drop_table("crm_base_counterparty_tag")
    with op.batch_alter_table("crm_base_counterparty_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_counterparty_group_group_id"))

    op.drop_table("crm_base_counterparty_group")
    with op.batch_alter_table("crm_base_channel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_channel_person_id"))
        batch_op.drop_index("ix_crm_base_channel_kind_value")
        batch_op.drop_index(batch_op.f("ix_crm_base_channel_employee_id"))
        batch_op.drop_index(batch_op.f("ix_crm_base_channel_counterparty_id"))

    op.drop_table("crm_base_channel")
    with op.batch_alter_table("crm_base_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_address_counterparty_id"))

    op.drop_table("crm_base_address")
    with op.batch_alter_table("crm_base_person", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_person_manager_id"))
        batch_op.drop_index("ix_crm_base_person_full_name_id")
        batch_op.drop_index("ix_crm_base_person_birth_key")

    op.drop_table("crm_base_person")
    with op.batch_alter_table("crm_base_mailing_list", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_mailing_list_owner_id"))

    op.drop_table("crm_base_mailing_list")
    with op.batch_alter_table("crm_base_employee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_employee_full_name"))
        batch_op.drop_index(batch_op.f("ix_crm_base_employee_birth_key"))

    op.drop_table("crm_base_employee")
    with op.batch_alter_table("crm_base_stage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_stage_direction_id"))

    op.drop_table("crm_base_stage")
    with op.batch_alter_table("crm_base_attribute_value", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_base_attribute_value_text")
        batch_op.drop_index(batch_op.f("ix_crm_base_attribute_value_record_id"))
        batch_op.drop_index("ix_crm_base_attribute_value_number")
        batch_op.drop_index("ix_crm_base_attribute_value_date")

    op.drop_table("crm_base_attribute_value")
    op.drop_table("crm_base_tag")
    with op.batch_alter_table("crm_base_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_base_group_path"))
        batch_op.drop_index(batch_op.f("ix_crm_base_group_parent_id"))

    op.drop_table("crm_base_group")
    op.drop_table("crm_base_direction")
    op.drop_table("crm_base_attribute")
