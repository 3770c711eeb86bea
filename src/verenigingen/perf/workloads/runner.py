"""Run a workload on a fresh copy of the demo database and capture what it did.

Per run: copy the template, choose the inputs, run the warm-up, ``gc.collect()``, then the measured
units of work, each in its own transaction and its own capture (so the N+1 detector sees one
request at a time, as production would send them).
"""

from __future__ import annotations

import contextlib
import gc
import random
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from verenigingen import clock
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.perf.capture import QueryLog, capture
from verenigingen.perf.workloads.database import RUN_DAY, DemoDatabase, acting_user
from verenigingen.perf.workloads.registry import Workload

WORKLOAD_SEED = 20241231
"""Seeds each workload's choices (with its name), so a run is the same run every time."""

Instrument = Callable[[], AbstractContextManager[Any]]


class WorkloadInputError(RuntimeError):
    """The demo association holds too few candidates for the requested size."""


@dataclass
class RunResult:
    workload: str
    iterations: int
    wall_ns: int
    cpu_ns: int
    logs: list[QueryLog] = field(default_factory=list)
    """One capture per measured unit of work."""

    @property
    def log(self) -> QueryLog:
        """All measured queries in one log."""
        combined = QueryLog(count_rows=True)
        for log in self.logs:
            combined.queries.extend(log.queries)
            combined.transactions.update(log.transactions)
        return combined


def run_workload(
    workload: Workload[Any],
    database: DemoDatabase,
    *,
    iterations: int | None = None,
    instrument: Instrument | None = None,
    capture_queries: bool = True,
    inspect: Callable[[sessionmaker[Session]], None] | None = None,
) -> RunResult:
    """One run of ``workload`` on a fresh copy of ``database``.

    ``instrument`` wraps only the measured units of work (a profiler, tracemalloc);
    ``capture_queries=False`` leaves the capture out, so a profile shows the application's
    time and not the toolkit's (the result then has no logs). ``inspect`` reads the copy after
    the run, before it is deleted (the tests check what a workload left behind).
    """
    count = workload.iterations if iterations is None else iterations
    rng = random.Random(f"{WORKLOAD_SEED}:{workload.name}")
    with database.fresh_copy() as engine, clock.frozen(RUN_DAY):
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            user = acting_user(session)
            items = list(workload.plan(session, workload.warmup + count, rng))
        if len(items) < workload.warmup + count:
            raise WorkloadInputError(
                f"workload {workload.name} needs {workload.warmup + count} inputs; the demo "
                f"association ({database.options.members} members) offers {len(items)}"
            )
        for item in items[: workload.warmup]:
            with unit_of_work(factory) as session:
                workload.step(session, user, item)
        measured = items[workload.warmup :]
        logs: list[QueryLog] = []
        gc.collect()
        with instrument() if instrument else contextlib.nullcontext():
            wall, cpu = time.perf_counter_ns(), time.process_time_ns()
            for item in measured:
                if not capture_queries:
                    with unit_of_work(factory) as session:
                        workload.step(session, user, item)
                    continue
                with capture(count_rows=True) as log, unit_of_work(factory) as session:
                    workload.step(session, user, item)
                logs.append(log)
            wall, cpu = time.perf_counter_ns() - wall, time.process_time_ns() - cpu
        if inspect is not None:
            inspect(factory)
    return RunResult(workload.name, count, wall, cpu, logs)
