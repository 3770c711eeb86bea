"""Declarative base, naming convention and shared column types."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT keys on PostgreSQL and MariaDB; INTEGER on SQLite so that it stays the rowid alias.
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Money: every Decimal column is Numeric(12, 2), read and written as Decimal (rule 3).
    type_annotation_map = {  # noqa: RUF012 (read once by SQLAlchemy at class creation)
        Decimal: Numeric(12, 2),
        dt.datetime: DateTime(),
    }


class IdMixin:
    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.current_timestamp())
    modified_at: Mapped[dt.datetime] = mapped_column(
        server_default=func.current_timestamp(), onupdate=func.current_timestamp()
    )
