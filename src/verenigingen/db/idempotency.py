"""Idempotency keys: a retried create with the same key returns the first response."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin


class IdempotencyRecord(IdMixin, Base):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("user_id", "scope", "key"),)

    user_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    scope: Mapped[str] = mapped_column(String(60))
    """The operation the key belongs to, e.g. ``payments.create``."""
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the request body: the same key with another body is refused."""
    response_status: Mapped[int]
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
