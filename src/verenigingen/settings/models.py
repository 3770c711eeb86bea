"""What exists: the runtime settings an administrator changed, and the audit of every change."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, IdMixin


class RuntimeSetting(Base):
    """A setting whose value an administrator chose; a setting without a row has its default
    from the environment (``config.Settings``)."""

    __tablename__ = "runtime_setting"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    """A name of ``settings.registry.DEFINITIONS``."""
    value: Mapped[str] = mapped_column(String(100))
    """The value as text (``true``, ``300``, ``100.00``), read back by the setting's definition."""
    updated_by: Mapped[str] = mapped_column(String(255))
    """The e-mail of the administrator who set it."""
    updated_at: Mapped[dt.datetime]


class RuntimeSettingChange(IdMixin, Base):
    """One change of a runtime setting: who changed it when, from which value to which."""

    __tablename__ = "runtime_setting_change"
    __table_args__ = (Index("ix_runtime_setting_change_name", "name", "id"),)

    name: Mapped[str] = mapped_column(String(100))
    old_value: Mapped[str] = mapped_column(String(100))
    """The value in effect before: the stored one, or the default."""
    old_source: Mapped[str] = mapped_column(String(20))
    """``database`` or ``env`` (the old value was the environment's default)."""
    new_value: Mapped[str] = mapped_column(String(100))
    new_source: Mapped[str] = mapped_column(String(20))
    """``database``, or ``env`` for a reset to the default."""
    changed_by: Mapped[str] = mapped_column(String(255))
    """The e-mail of the administrator who changed it."""
    changed_at: Mapped[dt.datetime]
