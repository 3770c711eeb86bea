"""What PostgreSQL's backends wait for while a mix runs: ``pg_stat_activity`` sampled from a thread.

Every ``interval`` seconds the sampler reads the load database's active client backends: what
each waits for (``wait_event_type`` and ``wait_event``: ``Lock``/``transactionid`` is a row lock
held by another transaction, ``IO``/``WALSync`` a commit's flush, ``Client`` the application) and
the start of the statement it runs. The samples show where concurrent requests queue, for
example on the row of the payments' number series that every payment locks until its commit.
A sample is a moment, not a duration: a wait shorter than the interval is seen in proportion to
how often it happens.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from types import TracebackType

import psycopg

ACTIVE_BACKENDS = """
SELECT coalesce(wait_event_type, 'CPU'), coalesce(wait_event, ''), query
FROM pg_stat_activity
WHERE datname = %s AND state = 'active' AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
"""

STATEMENT_HEAD = 72


class WaitSampler:
    """Samples the backends of ``database`` through ``admin_url`` until the ``with`` ends."""

    def __init__(self, admin_url: str, database: str, interval: float = 0.02) -> None:
        self.admin_url = admin_url
        self.database = database
        self.interval = interval
        self.samples = 0
        self.busy_backends = 0
        self.waits: Counter[tuple[str, str, str]] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> WaitSampler:
        self._thread = threading.Thread(target=self._sample, name="pg-wait-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _sample(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            while not self._stop.wait(self.interval):
                rows = connection.execute(ACTIVE_BACKENDS, (self.database,)).fetchall()
                self.samples += 1
                self.busy_backends += len(rows)
                for wait_type, wait_event, query in rows:
                    self.waits[(wait_type, wait_event, statement_head(query))] += 1

    def report(self, top: int = 6) -> list[str]:
        """The most frequent waits, each with its share of the busy backends seen."""
        if not self.busy_backends:
            return [f"    {self.samples} samples, no active backend seen"]
        lines = [
            f"    {self.samples} samples, {self.busy_backends / self.samples:.2f} active backends "
            "on average; what they were doing:"
        ]
        for (wait_type, wait_event, statement), count in self.waits.most_common(top):
            share = count / self.busy_backends
            lines.append(f"    {share:6.1%}  {wait_type}/{wait_event or '-'}  {statement}")
        return lines


def statement_head(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip()[:STATEMENT_HEAD]
