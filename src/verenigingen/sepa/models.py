from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin, TimestampMixin


class MandateStatus(enum.StrEnum):
    DRAFT = "Draft"
    ACTIVE = "Active"
    SUSPENDED = "Suspended"
    CANCELLED = "Cancelled"
    EXPIRED = "Expired"


class SepaMandate(IdMixin, TimestampMixin, Base):
    __tablename__ = "sepa_mandate"

    mandate_reference: Mapped[str] = mapped_column(String(35), unique=True)
    """Unique, at most 35 characters of the SEPA character set."""
    member_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("member.id"), index=True)
    account_holder: Mapped[str] = mapped_column(String(140))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    sign_date: Mapped[dt.date]
    first_collection_date: Mapped[dt.date | None]
    expiry_date: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(20), default=MandateStatus.DRAFT)
