from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin


class OutboxMail(IdMixin, Base):
    """A mail to send, written in the transaction that decided to send it; ``sent_at`` is set
    once the mail server accepted it. Without a mail server the row (and the log) is all."""

    __tablename__ = "mail_outbox"

    to_address: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    """Plain text. May hold a one-time link: the table is as private as the user table."""
    user_id: Mapped[int | None] = mapped_column(BigIntKey, ForeignKey("user_account.id"))
    """The user the mail is for, when it is for one."""
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
