"""The core's own tables: addon state, the change counter, licences, permissions, users.

Everything here is per database: two databases served by one code base can have different
addons installed and different licences.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
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


class User(Base):
    """A person who signs in. The Administrator module builds groups and rights on it."""

    __tablename__ = "core_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="uk")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Group(Base):
    """A set of rights; a user's rights are the union of their groups' rights."""

    __tablename__ = "core_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


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
