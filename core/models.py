"""The core's own tables: addon state, the change counter, licences, permissions, users.

Everything here is per database: two databases served by one code base can have different
addons installed and different licences.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

ADDON_INSTALLED = "installed"
ADDON_UNINSTALLED = "uninstalled"


class InstalledAddon(Base):
    """One row per addon ever installed in this database; ``state`` says whether it is on."""

    __tablename__ = "core_addon"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default=ADDON_INSTALLED)
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class StateCounter(Base):
    """Counters that app processes poll cheaply to see changes made by other processes."""

    __tablename__ = "core_state"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class LicenseRecord(Base):
    """An installed licence file, kept verbatim so its signature can be checked again."""

    __tablename__ = "core_license"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    license_id: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Permission(Base):
    """A right declared by an addon (``sales.deal.read``), synced on install and upgrade."""

    __tablename__ = "core_permission"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    addon: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")


class Team(Base):
    """A team of users (a sales office, a service crew): the "team" record scope."""

    __tablename__ = "core_team"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class User(Base):
    """A person who signs in (AD-1); rights come from their groups (AD-2)."""

    __tablename__ = "core_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="uk")
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_team.id", ondelete="SET NULL"), index=True, default=None
    )
    totp_secret: Mapped[str | None] = mapped_column(String(64), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __mapper_args__ = {"version_id_col": version}  # optimistic locking


class RecoveryCode(Base):
    """A one-time code that replaces the TOTP code once (stored hashed)."""

    __tablename__ = "core_recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class UserSession(Base):
    """A signed-in browser session, kept on the server so it can be ended from there."""

    __tablename__ = "core_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class LoginFailure(Base):
    """One failed sign-in, for throttling by login and by address."""

    __tablename__ = "core_login_failure"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(80), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class AuditEntry(Base):
    """Who did what and when: sign-ins, refusals, and every change of a record."""

    __tablename__ = "core_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    action: Mapped[str] = mapped_column(String(20), index=True)
    subject: Mapped[str] = mapped_column(String(80), default="")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    changes: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (Index("ix_core_audit_subject", "subject", "subject_id"),)


class Setting(Base):
    """A value of a setting declared through the settings hook."""

    __tablename__ = "core_setting"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Group(Base):
    """A set of rights; a user's rights are the union of their groups' (and implied groups')."""

    __tablename__ = "core_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")


class GroupImplied(Base):
    """Membership of ``group_id`` also grants everything of ``implied_id``."""

    __tablename__ = "core_group_implied"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True
    )
    implied_id: Mapped[int] = mapped_column(
        ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True
    )


SCOPES = ("own", "team", "all")


class GroupScope(Base):
    """Which records of ``subject`` (``crm_base.counterparty``) a group reaches."""

    __tablename__ = "core_group_scope"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True
    )
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    scope: Mapped[str] = mapped_column(String(8), default="own")


class GroupPermission(Base):
    __tablename__ = "core_group_permission"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(
        ForeignKey("core_permission.name", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )


class UserGroup(Base):
    __tablename__ = "core_user_group"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[int] = mapped_column(
        ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Attachment(Base):
    """A file attached to any record (``subject``/``subject_id``), stored outside the web root.

    The bytes live in the instance folder under ``storage_key``; the row keeps what was
    checked at upload (type by content, size, checksum).
    """

    __tablename__ = "core_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(80))
    subject_id: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(120), unique=True)
    uploaded_by: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), default=None
    )
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_core_attachment_subject", "subject", "subject_id"),)


class Job(Base):
    """A long job (import, mass mailing, big export) whose progress the user can watch."""

    __tablename__ = "core_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), index=True, default=None
    )
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued/running/done/failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str] = mapped_column(Text, default="")  # JSON: what the job produced
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
