"""Naming series: document numbers (``ACC-SINV-2026-00042``), gap-free under a row lock held to the
end of the transaction (:func:`reserve_numbers`), or taken at once where a gap is harmless
(:func:`take_numbers`)."""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, String, create_engine, event, select, update
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


def take_numbers(session: Session, prefix: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive numbers that may leave a gap, holding no lock to the end of
    the session's transaction.

    On PostgreSQL and MariaDB the series moves on a connection of its own and commits at once,
    so no transaction waits for another's end to number its documents (as Odoo's "standard"
    sequences do beside its "no gap" ones); a number whose transaction rolls back stays unused.
    SQLite has one writer at a time whatever is numbered, so there the numbers are reserved in
    the session's transaction, as :func:`reserve_numbers` does.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        return reserve_numbers(session, prefix, count)
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _numbering_engine(engine).begin() as connection:
        current = _advance(connection, prefix, count)
    return range(current - count + 1, current + 1)


def _advance(connection: Connection, prefix: str, count: int) -> int:
    """Move the series on by ``count`` (creating it at ``count``); its new current number."""
    if connection.dialect.name == "postgresql":
        # Loaded with PostgreSQL's engine: 2 MB that an embedded API process does not need.
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        upsert = postgresql_insert(NamingSeries).values(prefix=prefix, current=count)
        upsert = upsert.on_conflict_do_update(
            index_elements=[NamingSeries.prefix], set_={"current": NamingSeries.current + count}
        )
        current = connection.scalar(upsert.returning(NamingSeries.current))
    else:  # MariaDB: no UPDATE ... RETURNING; the upsert's row lock holds until the commit
        created = mysql_insert(NamingSeries).values(prefix=prefix, current=count)
        connection.execute(created.on_duplicate_key_update(current=NamingSeries.current + count))
        current = connection.scalar(
            select(NamingSeries.current).where(NamingSeries.prefix == prefix)
        )
    assert current is not None
    return int(current)


_numbering_engines: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()
_numbering_engines_lock = threading.Lock()


def _numbering_engine(engine: Engine) -> Engine:
    """A small pool beside ``engine``'s for :func:`take_numbers`, disposed with it.

    Its own pool, because a request that already holds one of ``engine``'s connections must
    never wait for a second one from the same pool.
    """
    with _numbering_engines_lock:  # one pool per engine, however many threads ask at once
        numbering = _numbering_engines.get(engine)
        if numbering is None:
            numbering = create_engine(
                engine.url,
                pool_size=1,
                max_overflow=4,
                pool_pre_ping=True,
                isolation_level="READ COMMITTED",
            )
            _numbering_engines[engine] = numbering
            event.listen(engine, "engine_disposed", lambda _engine: numbering.dispose())
        return numbering
