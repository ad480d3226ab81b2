"""crm_base tables: counterparties, contact persons, their channels and addresses,
classification, additional attributes, directions and stages of work, requisites
(organizations), employees, notes and mailing lists (CL-1…CL-8, CP-1, OR-1…OR-3, EM-1).

Other addons extend these with their own tables and a foreign key; they never add columns.
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
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

SUBJECT = "crm_base.counterparty"
PERSON_SUBJECT = "crm_base.person"
EMPLOYEE_SUBJECT = "crm_base.employee"

KINDS = ("company", "person")  # a legal entity or a private person (sole traders too)
RELATIONS = ("client", "prospect")
STATUSES = ("active", "inactive")
CHANNEL_KINDS = ("phone", "email", "telegram", "viber", "whatsapp", "signal", "skype", "web")
ADDRESS_KINDS = ("legal", "actual", "delivery")
ATTRIBUTE_TYPES = ("text", "number", "date", "bool", "choice")
ATTRIBUTE_SUBJECTS = ("counterparty", "person")


def birth_key(day: date | None) -> int | None:
    """``MMDD`` of a birthday: an indexed integer, so "birthdays in the next N days" is a
    range scan (two when the range crosses the new year) at any number of persons."""
    return day.month * 100 + day.day if day else None


class Counterparty(Base):
    """A client or prospect: a company or a private person (CL-1); scoped by its manager."""

    __tablename__ = "crm_base_counterparty"
    __table_args__ = (
        # Keyset pagination of the list sorted by name or by date, the id breaking ties.
        Index("ix_crm_base_counterparty_name_id", "name", "id"),
        Index("ix_crm_base_counterparty_created_at_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optimistic locking (core.ui.formview): every UPDATE checks and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    kind: Mapped[str] = mapped_column(String(10), default="company", server_default="company")
    relation: Mapped[str] = mapped_column(
        String(10), default="prospect", server_default="prospect", index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    # EDRPOU (8 digits) of a company or RNOKPP (10 digits) of a person: duplicates, import.
    tax_code: Mapped[str | None] = mapped_column(String(10), index=True, default=None)
    website: Mapped[str] = mapped_column(String(255), default="", server_default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The id in the system an import came from ("update matching by external id").
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)

    __mapper_args__ = {"version_id_col": version}


class Address(Base):
    """A legal, actual or delivery address of a counterparty (CL-1, OR-2)."""

    __tablename__ = "crm_base_address"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10), default="actual")
    postal_code: Mapped[str] = mapped_column(String(10), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    line: Mapped[str] = mapped_column(String(300), default="")  # street, building, office


class Person(Base):
    """A contact person (CL-2, CP-1); may work with several counterparties."""

    __tablename__ = "crm_base_person"
    __table_args__ = (
        Index("ix_crm_base_person_full_name_id", "full_name", "id"),
        Index("ix_crm_base_person_birth_key", "birth_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    full_name: Mapped[str] = mapped_column(String(310))  # kept in step for search and sort
    birthday: Mapped[date | None] = mapped_column(Date, default=None)
    birth_key: Mapped[int | None] = mapped_column(Integer, default=None)  # see birth_key()
    position: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(400), default="")
    id_document: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class PersonLink(Base):
    """A contact person works with a counterparty in a role (director, accountant…)."""

    __tablename__ = "crm_base_person_link"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_person.id", ondelete="CASCADE"), primary_key=True
    )
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(100), default="")
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class Employee(Base):
    """One of the company's own staff (EM-1), optionally linked to a user account."""

    __tablename__ = "crm_base_employee"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    full_name: Mapped[str] = mapped_column(String(310), index=True)
    position: Mapped[str] = mapped_column(String(200), default="")
    department: Mapped[str] = mapped_column(String(200), default="")
    birthday: Mapped[date | None] = mapped_column(Date, default=None)
    birth_key: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    home_address: Mapped[str] = mapped_column(String(400), default="")
    documents: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), unique=True, default=None
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class Channel(Base):
    """A phone (E.164), e-mail (lower case), messenger or web address of exactly one
    counterparty, contact person or employee; indexed by value for duplicate search."""

    __tablename__ = "crm_base_channel"
    __table_args__ = (
        Index("ix_crm_base_channel_kind_value", "kind", "value"),
        CheckConstraint(
            "(CASE WHEN counterparty_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN person_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN employee_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True, default=None
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_person.id", ondelete="CASCADE"), index=True, default=None
    )
    employee_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_employee.id", ondelete="CASCADE"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(254))
    label: Mapped[str] = mapped_column(String(50), default="")  # work, mobile, accounting…
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)


class Group(Base):
    """A node of the hierarchical classification (CL-3). ``path`` is ``/1/5/12/``: "under
    this group" is a prefix match on an indexed column."""

    __tablename__ = "crm_base_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_group.id", ondelete="CASCADE"), index=True, default=None
    )
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500), index=True, default="")
    sort: Mapped[int] = mapped_column(Integer, default=0)


class CounterpartyGroup(Base):
    __tablename__ = "crm_base_counterparty_group"

    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Tag(Base):
    """A free tag (CL-3), for counterparties and, as categories, for contact persons."""

    __tablename__ = "crm_base_tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    color: Mapped[str] = mapped_column(String(20), default="secondary")


class CounterpartyTag(Base):
    __tablename__ = "crm_base_counterparty_tag"

    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_tag.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PersonTag(Base):
    __tablename__ = "crm_base_person_tag"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_person.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_tag.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Attribute(Base):
    """An additional field an admin defines without code (CL-4)."""

    __tablename__ = "crm_base_attribute"
    __table_args__ = (UniqueConstraint("subject", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(20))  # counterparty | person
    code: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(10), default="text")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    choices: Mapped[str] = mapped_column(Text, default="")  # one choice per line
    sort: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class AttributeValue(Base):
    """The value of an additional field for one record, in the column of its type."""

    __tablename__ = "crm_base_attribute_value"
    __table_args__ = (
        Index("ix_crm_base_attribute_value_text", "attribute_id", "value_text"),
        Index("ix_crm_base_attribute_value_number", "attribute_id", "value_number"),
        Index("ix_crm_base_attribute_value_date", "attribute_id", "value_date"),
    )

    attribute_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_attribute.id", ondelete="CASCADE"), primary_key=True
    )
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True)
    value_text: Mapped[str | None] = mapped_column(String(500), default=None)
    value_number: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), default=None)
    value_date: Mapped[date | None] = mapped_column(Date, default=None)
    value_bool: Mapped[bool | None] = mapped_column(Boolean, default=None)


class Direction(Base):
    """A direction of the business (CL-6) with its ordered stages."""

    __tablename__ = "crm_base_direction"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Stage(Base):
    __tablename__ = "crm_base_stage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_direction.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(Integer, default=0)


class Work(Base):
    """Who works with a counterparty in a direction, and at which stage (CL-6)."""

    __tablename__ = "crm_base_work"
    __table_args__ = (UniqueConstraint("counterparty_id", "direction_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True
    )
    direction_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_direction.id", ondelete="CASCADE"), index=True
    )
    stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_stage.id", ondelete="SET NULL"), index=True, default=None
    )
    responsible_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StageChange(Base):
    """A recorded move of a work to another stage (CL-6, shown in the chronology)."""

    __tablename__ = "crm_base_stage_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    work_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_work.id", ondelete="CASCADE"), index=True
    )
    from_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_stage.id", ondelete="SET NULL"), default=None
    )
    to_stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_stage.id", ondelete="SET NULL"), default=None
    )
    changed_by: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), default=None
    )
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str] = mapped_column(String(500), default="")


class Requisites(Base):
    """Bank and tax details (OR-1…OR-3): of a counterparty, or of one of the company's own
    organizations (``counterparty_id`` empty) that printed documents name as the supplier."""

    __tablename__ = "crm_base_requisites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int | None] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True, default=None
    )
    full_name: Mapped[str] = mapped_column(String(400))
    tax_code: Mapped[str] = mapped_column(String(10), index=True)  # EDRPOU or RNOKPP
    vat_payer: Mapped[bool] = mapped_column(Boolean, default=False)
    vat_number: Mapped[str] = mapped_column(String(12), default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bank_name: Mapped[str] = mapped_column(String(200), default="")
    legal_address: Mapped[str] = mapped_column(String(400), default="")
    director: Mapped[str] = mapped_column(String(200), default="")
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)


class ResponsiblePerson(Base):
    """A materially responsible person of an organization (OR-3)."""

    __tablename__ = "crm_base_responsible_person"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requisites_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_requisites.id", ondelete="CASCADE"), index=True
    )
    full_name: Mapped[str] = mapped_column(String(310))
    position: Mapped[str] = mapped_column(String(200), default="")
    since: Mapped[date | None] = mapped_column(Date, default=None)


class Note(Base):
    """A note on a counterparty (shown in the chronology, CL-7)."""

    __tablename__ = "crm_base_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("crm_base_counterparty.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), default=None
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MailingList(Base):
    """A saved selection of counterparties or contact persons (CL-8), used by the delivery
    and notifications addons; ``query`` is the list view's filter as a query string."""

    __tablename__ = "crm_base_mailing_list"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(20))  # counterparty | person
    query: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# PostgreSQL only: a trigram index answers the list's case-insensitive "contains" and
# "starts with" searches without reading every row (crm_base_0003 creates it when the
# pg_trgm extension can be enabled; SQLite searches scan the name index instead).
Index(
    "ix_crm_base_counterparty_name_trgm",
    func.lower(Counterparty.name).label("name_lower"),
    postgresql_using="gin",
    postgresql_ops={"name_lower": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")
