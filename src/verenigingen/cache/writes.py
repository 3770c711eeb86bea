"""Which sessions have written in their current transaction.

A fill computed inside a transaction that wrote may contain data that is rolled back later,
and it would be stored under versions that are still current after the rollback: a phantom
that every later reader would be served. So such a fill is computed for its caller and not
stored. A session has written when it flushed ORM changes, ran an INSERT / UPDATE / DELETE
through ``session.execute`` or bumped a tag; statements sent on ``session.connection()``
directly are not seen, so a boundary that writes that way should not read through the cache
before it commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

_WROTE = "verenigingen.cache.wrote"


def mark_written(session: Session) -> None:
    session.info[_WROTE] = True


def has_written(session: Session) -> bool:
    """True when the session's open transaction has written (or has unflushed changes)."""
    return bool(session.info.get(_WROTE)) or bool(session.new or session.dirty or session.deleted)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    mark_written(session)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        mark_written(state.session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # Only the outermost transaction's end settles what was written; a savepoint rolled back
    # keeps the mark, which only costs a fill that is not stored.
    if transaction.parent is None:
        session.info.pop(_WROTE, None)
