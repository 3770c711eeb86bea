"""Huey, behind one seam. The engine carries only ``run_tracked_job(job_id)``.

Everything a job is (its status, attempts, retries, lease, result) lives in the ``job`` table;
the engine only moves job ids from the process that committed them to a worker. So engine
retries are off and a lost or duplicated message is harmless: the relay hands lost ones over
again and the claim turns duplicates away.

One Huey instance per queue (``short``, ``default``, ``long``), so a worker can serve a subset.
Embedded shape: ``SqliteHuey`` in the data dir. Distributed shape (``VERENIGINGEN_REDIS_URL``):
``RedisHuey``. Tests and benchmarks may use an in-memory engine.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

from verenigingen.config import Settings
from verenigingen.jobs.models import Queue

log = logging.getLogger(__name__)

TASK_NAME = "run_tracked_job"

JobHandler = Callable[[int], None]

# The worker of this process installs its handler (see jobs.worker); the engine knows no more.
_handler: JobHandler | None = None


def install_handler(handler: JobHandler | None) -> None:
    global _handler
    _handler = handler


def run_tracked_job(job_id: int) -> None:
    """The one engine task: hand the job id to this process's worker."""
    if _handler is None:
        raise RuntimeError("no job worker runs in this process; start `verenigingen worker`")
    _handler(job_id)


class _SqliteQueueStorage(SqliteStorage):  # type: ignore[misc]  # huey has no type hints
    """Huey's SQLite storage with ``synchronous=NORMAL`` (Huey leaves SQLite's FULL).

    FULL fsyncs the WAL at every enqueue and dequeue: 0.3 ms on an idle disk and 4 ms or more on
    a busy one, the largest part of enqueue + commit on SQLite (bench/jobs.py). NORMAL in WAL
    mode stays consistent and loses nothing when a process crashes; a power loss may drop the
    last messages, and a message is only a hint here: the job row (durable, in the database) is
    the truth, the relay hands a lost message over again and the claim turns a revived one away.
    """

    def _create_connection(self) -> Any:
        connection = super()._create_connection()
        connection.execute("pragma synchronous=NORMAL")
        return connection


def sqlite_huey(name: str, filename: str) -> Huey:
    """A ``SqliteHuey`` queue as the embedded shape uses it (also the benchmark's raw Huey)."""
    # results=False: the job row holds the result; nothing to store twice.
    return SqliteHuey(name, filename=filename, results=False, storage_class=_SqliteQueueStorage)


class JobEngine:
    """The queues of one namespace on one backend."""

    def __init__(self, hueys: dict[Queue, Huey], backend: str) -> None:
        self.backend = backend
        self.hueys = hueys
        self._tasks = {
            queue: huey.task(retries=0, name=TASK_NAME)(run_tracked_job)
            for queue, huey in hueys.items()
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> JobEngine:
        if settings.redis_url:
            return cls.redis(settings.redis_url, settings.jobs_namespace)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls.sqlite(str(settings.data_dir / "jobs.db"), settings.jobs_namespace)

    @classmethod
    def sqlite(cls, filename: str, namespace: str) -> JobEngine:
        return cls(
            {q: sqlite_huey(f"{namespace}.{q.value}", filename) for q in Queue},
            "sqlite",
        )

    @classmethod
    def redis(cls, url: str, namespace: str) -> JobEngine:
        # blocking=False: a worker polls several queues in turn, with its own backoff.
        return cls(
            {
                q: RedisHuey(f"{namespace}_{q.value}", url=url, results=False, blocking=False)
                for q in Queue
            },
            "redis",
        )

    @classmethod
    def memory(cls, namespace: str = "memory") -> JobEngine:
        return cls(
            {q: MemoryHuey(f"{namespace}.{q.value}", results=False) for q in Queue}, "memory"
        )

    def dispatch(self, queue: Queue | str, job_id: int) -> None:
        """Hand a job id to the engine (the caller has committed the job row)."""
        self._tasks[Queue(queue)](job_id)

    def take(self, queue: Queue) -> Any | None:
        """The next message of ``queue``, or None when it is empty."""
        return self.hueys[queue].dequeue()

    def execute(self, queue: Queue, message: Any) -> None:
        self.hueys[queue].execute(message)

    def job_id(self, message: Any) -> int | None:
        """The job id a message carries, or None for a message that is not ours.

        The worker reads it instead of having Huey call the task, so that it can run the jobs
        of several messages in one transaction (jobs.worker); Huey's retries, revocation and
        expiry are unused here.
        """
        if getattr(message, "name", None) != TASK_NAME or len(message.args) != 1:
            log.warning("dropping a message that is not a tracked job: %r", message)
            return None
        return int(message.args[0])

    def pending(self, queue: Queue) -> int:
        return int(self.hueys[queue].pending_count())

    def flush(self) -> None:
        for huey in self.hueys.values():
            huey.storage.flush_queue()

    def close(self) -> None:
        for huey in self.hueys.values():
            close = getattr(huey.storage, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
