"""Periodic jobs: a task registered with ``@job(..., every_setting=NAME)`` starts every N minutes,
N being the runtime setting NAME (0: never), as the scheduled safety run does.

Time is cut into slots of N minutes counted from the Unix epoch; each worker's maintenance round
(and the in-process consumer of ``serve``) calls :meth:`PeriodicJobs.start`, and the first
process to find that a periodic task has no job for the current slot enqueues it, without
parameters, in the name of the first enabled administrator, with the dedup key
``every:<task>:<slot start>``. A job of that key in any state means the slot's run is done or
under way, so a slot's run is started once whatever the number of workers (two that race get
one job between them: the key is unique among Queued and Running jobs). A change of N takes
effect at the next round: the slots are cut anew.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.db.session import unit_of_work
from verenigingen.jobs.daily import first_enabled_administrator
from verenigingen.jobs.models import Job
from verenigingen.jobs.outbox import enqueue
from verenigingen.jobs.registry import get_task, task_names
from verenigingen.settings import runtime_of

log = logging.getLogger(__name__)


def slot_start(now: dt.datetime, minutes: int) -> dt.datetime:
    """The start of the ``minutes``-long slot that ``now`` (naive: UTC, as ``clock.now()``
    gives it) lies in, the slots counted from the epoch."""
    aware = now if now.tzinfo is not None else now.replace(tzinfo=dt.UTC)
    epoch_minutes = int(aware.timestamp() // 60)
    return dt.datetime.fromtimestamp(epoch_minutes // minutes * minutes * 60, dt.UTC)


def periodic_key(name: str, start: dt.datetime) -> str:
    return f"every:{name}:{start:%Y-%m-%dT%H:%M}"


def due_keys(session: Session, now: dt.datetime) -> dict[str, str]:
    """The dedup key of the current slot of every periodic task whose setting is not 0, and
    the task it belongs to."""
    values = runtime_of(session)
    keys = {}
    for name in task_names():
        setting = get_task(name).every_setting
        if setting is None:
            continue
        minutes = values.value_of(setting)
        if isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0:
            keys[periodic_key(name, slot_start(now, minutes))] = name
    return keys


def start_periodic_jobs(session: Session, keys: dict[str, str]) -> list[Job]:
    """Enqueue the task of each key that has no job yet; the jobs enqueued (none when there is
    no enabled administrator to run them: logged). The caller commits."""
    if not keys:
        return []
    present = set(session.scalars(select(Job.dedup_key).where(Job.dedup_key.in_(sorted(keys)))))
    missing = [(key, name) for key, name in sorted(keys.items()) if key not in present]
    if not missing:
        return []
    administrator = first_enabled_administrator(session)
    if administrator is None:
        log.warning("periodic jobs not started: no enabled administrator to run them")
        return []
    return [enqueue(session, name, user=administrator, dedup_key=key) for key, name in missing]


class PeriodicJobs:
    """A process's periodic start: the keys it saw started are not asked for again, so a
    maintenance round every few seconds reads the runtime settings (no statement while they are
    unchanged) and nothing else until a slot begins."""

    def __init__(self) -> None:
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def start(self, session_factory: sessionmaker[Session], now: dt.datetime) -> list[int]:
        """The current slots' missing periodic jobs, enqueued and committed; their ids."""
        with self._lock:
            with session_factory() as session:
                keys = due_keys(session, now)
            waiting = {key: name for key, name in keys.items() if key not in self._started}
            if not waiting:
                return []
            with unit_of_work(session_factory) as session:
                ids = [job.id for job in start_periodic_jobs(session, waiting)]
            self._started = set(keys)
            return ids
