"""A long task commits its work in chunks: ``commit_chunk(session)`` between its steps.

SQLite has one write lock, and a transaction there holds it from its ``BEGIN IMMEDIATE`` to its
commit (db.engine). A job that does all its work in one transaction (a dues run over every
schedule, the summaries of every customer) keeps every request's write waiting for as long as it
runs, and past ``busy_timeout`` the request fails with "database is locked". Committed in chunks
the job holds the lock for one chunk at a time, and pauses after each commit so that a writer
waiting in SQLite's busy handler (which sleeps up to 100 ms between its tries) takes the lock
before the job's next chunk does.

A chunk must be idempotent: a job that dies after some chunks committed is run again from the
start, and the chunks done must then change nothing (the dues run bills only schedules not
billed today; a recalculation writes what the ledger says). A cancel request stops the job at
the next chunk's end; the chunks committed stay, the chunk in hand is rolled back.

The commit happens only where the job owns its transaction: in a worker, with the job alone in
it. A job in a group (a savepoint of a PostgreSQL group commit), a task run inline in a writer's
transaction (``defer_heavy_handlers`` off, :func:`chunks_held`), or a task called outside any
worker (a test, a command) keeps one transaction; the call then only asks for a cancel request.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from sqlalchemy.orm import Session

from verenigingen.jobs.deadline import stop_if_cancel_requested

SQLITE_PAUSE = 0.05
"""Seconds a chunked job waits after each commit on SQLite: longer than the sleeps of SQLite's
busy handler while a writer has waited less than the ~100 ms a chunk holds the lock, so the
waiting writer gets the lock first."""

_HELD = "verenigingen.jobs.chunks_held"
_owner = threading.local()


def commit_chunk(session: Session) -> bool:
    """End a chunk of a long task: commit what it did so far when the job owns its transaction
    (and, on SQLite, give waiting writers the lock); True when it committed.

    Raises :class:`~verenigingen.jobs.deadline.JobCancelled` first when the job's cancel was
    requested: the chunk in hand is then rolled back, the chunks before it stay committed.
    """
    stop_if_cancel_requested()
    if not _owns_transaction(session):
        return False
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        time.sleep(SQLITE_PAUSE)
    return True


def _owns_transaction(session: Session) -> bool:
    if getattr(_owner, "session", None) is not session or session.info.get(_HELD):
        return False
    return session.get_nested_transaction() is None


@contextlib.contextmanager
def job_transaction(session: Session) -> Iterator[None]:
    """The worker runs a job alone on ``session``: its task may commit chunks there."""
    outer = getattr(_owner, "session", None)
    _owner.session = session
    try:
        yield
    finally:
        _owner.session = outer


@contextlib.contextmanager
def chunks_held(session: Session) -> Iterator[None]:
    """Inside, :func:`commit_chunk` does not commit ``session``: a task runs in a transaction
    that is not its own (a follow-up run inline in the writer's transaction)."""
    depth = int(session.info.get(_HELD, 0))
    session.info[_HELD] = depth + 1
    try:
        yield
    finally:
        if depth:
            session.info[_HELD] = depth
        else:
            del session.info[_HELD]
