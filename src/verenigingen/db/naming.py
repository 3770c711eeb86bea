"""Naming series: gap-free document numbers (``ACC-SINV-2026-00042``) reserved under a row lock."""

from __future__ import annotations

from sqlalchemy import String, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from verenigingen.db.base import Base


class NamingSeries(Base):
    __tablename__ = "naming_series"

    prefix: Mapped[str] = mapped_column(String(60), primary_key=True)
    current: Mapped[int] = mapped_column(default=0)


def reserve_numbers(session: Session, prefix: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive numbers; the row lock holds until the transaction ends."""
    current = session.scalar(
        select(NamingSeries.current).where(NamingSeries.prefix == prefix).with_for_update()
    )
    if current is None and session.get_bind().dialect.name in ("mysql", "mariadb"):
        # On InnoDB a plain INSERT that loses the creation race keeps a shared lock on the row,
        # and two losers upgrading it to FOR UPDATE deadlock; the upsert locks it exclusively.
        upsert = mysql_insert(NamingSeries).values(prefix=prefix, current=count)
        created = session.connection().execute(
            upsert.on_duplicate_key_update(current=NamingSeries.current + count)
        )
        if created.rowcount == 1:  # inserted; 2 means another transaction created it first
            return range(1, count + 1)
        current = session.scalar(select(NamingSeries.current).where(NamingSeries.prefix == prefix))
        assert current is not None
        return range(current - count + 1, current + 1)
    if current is None:
        try:
            with session.begin_nested():
                session.add(NamingSeries(prefix=prefix, current=count))
            return range(1, count + 1)
        except IntegrityError:
            pass  # another transaction created the series first; lock its row below
        current = session.scalar(
            select(NamingSeries.current).where(NamingSeries.prefix == prefix).with_for_update()
        )
        assert current is not None
    session.execute(
        update(NamingSeries).where(NamingSeries.prefix == prefix).values(current=current + count)
    )
    return range(current + 1, current + count + 1)
