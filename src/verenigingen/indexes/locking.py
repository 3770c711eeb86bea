"""One operation at a time on an index: every add, impact and rollback holds the index's lock.

Two operations on one index would trip over each other: an impact hides the index from the
planner while a rollback drops it, or two builds race for one name. So each operation takes the
index manager's lock on the indexes it works on before it reads or writes anything, and holds it
to its end; a second operation on one of them is refused at once (409 ``index_busy``, naming the
holder), not queued behind a build that may take an hour. Operations on other indexes go on, and
``status`` takes no lock.

The lock is the database's own (:meth:`IndexDialect.exclusive
<verenigingen.indexes.dialects.IndexDialect.exclusive>`), so it holds between the command line
and every worker of ``serve``, and it is gone when its holder's process is: no stale lock to
clear by hand after a crash. The ledger is no lock: a row that says "in progress" outlives a
``kill -9``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from sqlalchemy import Engine

from verenigingen import clock
from verenigingen.indexes.dialects import IndexOperation, LockHolder, for_engine
from verenigingen.indexes.errors import IndexBusy


@contextlib.contextmanager
def exclusive(engine: Engine, names: Sequence[str], operation: IndexOperation) -> Iterator[None]:
    """Hold the lock on each of ``names`` (validated index names) while the block runs.

    :class:`IndexBusy` (409) at once, before the block, when another operation holds one of them.
    """
    with for_engine(engine).exclusive(engine, sorted(set(names)), operation) as holder:
        if holder is not None:
            raise IndexBusy(_busy(holder))
        yield


_WHO = {
    IndexOperation.ADD: "an add",
    IndexOperation.IMPACT: "an impact measurement",
    IndexOperation.ROLLBACK: "a rollback",
}


def _busy(holder: LockHolder) -> str:
    who = _WHO[holder.operation] if holder.operation else "another index operation"
    since = f" since {clock.as_utc(holder.since):%Y-%m-%d %H:%M:%S} UTC" if holder.since else ""
    return (
        f"index {holder.index} is busy: {who} has held it{since}; operations on one index run "
        "one at a time, try again when it is done"
    )
