"""What exists: the ledger of index changes made by the online index manager."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, IdMixin


class IndexState(enum.StrEnum):
    PLANNED = "planned"
    """Recorded, nothing run yet (or a build refused before it started: a lock wait timed out)."""
    BUILDING = "building"
    """The DDL was sent; a crash here leaves the row in this state for the operator to see."""
    VALID = "valid"
    INVALID = "invalid"
    """The build failed or left an index the database does not use (PostgreSQL indisvalid)."""
    IGNORED = "ignored"
    """MariaDB: the optimizer ignores it (the first step of a rollback); still maintained."""
    ROLLED_BACK = "rolled_back"


class IndexChange(IdMixin, Base):
    """One attempt to add an index (and, later, its rollback), with what was measured."""

    __tablename__ = "index_change"
    __table_args__ = (Index("ix_index_change_index_name", "index_name", "id"),)

    dialect: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(64))
    index_name: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[str]] = mapped_column(JSON)
    ddl: Mapped[str] = mapped_column(Text)
    """The statement(s) that build the index, exactly as sent."""
    inverse_ddl: Mapped[str] = mapped_column(Text)
    """The statement that removes it again: what ``rollback`` runs."""
    state: Mapped[str] = mapped_column(String(20), default=IndexState.PLANNED.value)
    plan_before: Mapped[str | None] = mapped_column(Text)
    plan_after: Mapped[str | None] = mapped_column(Text)
    timings_before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Median milliseconds per probe query without the index (``impact``)."""
    timings_after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    build_ms: Mapped[float | None]
    note: Mapped[str | None] = mapped_column(Text)
    """Why the state is what it is: the database's error, a healed invalid index, a flag."""
    requested_by: Mapped[str] = mapped_column(String(255))
    """The e-mail of the administrator who asked for the change."""
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    finished_at: Mapped[dt.datetime | None]
    rolled_back_at: Mapped[dt.datetime | None]
