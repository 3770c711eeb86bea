"""The consumer: take job ids from the engine's queues and run them; relay meanwhile, while a
heartbeat thread renews the leases of the jobs in hand and runs the sweeper (jobs.heartbeat).

``verenigingen worker`` runs :func:`consume` in the main thread of each worker process (so a
job's timeout can be enforced with a signal); ``verenigingen serve`` in the embedded shape runs
it in a thread of the API process (see :func:`start_in_thread`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from verenigingen import clock
from verenigingen.config import Settings, get_settings
from verenigingen.jobs import engine as job_engine
from verenigingen.jobs.daily import DailyJobs
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Queue
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.periodic import PeriodicJobs
from verenigingen.jobs.relay import relay
from verenigingen.jobs.worker import Runtime, run_group, run_job

log = logging.getLogger(__name__)

MIN_IDLE_SLEEP = 0.005
MAX_IDLE_SLEEP = 0.25
EMBEDDED_PAUSE = 0.1
"""Seconds an in-process consumer on SQLite waits after each job. SQLite has one write lock and
its busy handler polls with growing sleeps (up to 100 ms): a consumer that starts the next job
at once takes the lock back before a waiting request ever sees it free, and a backlog of jobs
would starve the API's writes until they time out."""


def pause_between_jobs(settings: Settings) -> float:
    """The pause of an in-process consumer: only the embedded SQLite shape needs one."""
    return EMBEDDED_PAUSE if settings.resolved_database_url().startswith("sqlite") else 0.0


_DAILY = DailyJobs()
"""This process's start of the daily jobs (asks the database once a day once they exist)."""
_PERIODIC = PeriodicJobs()
"""This process's start of the periodic jobs (asks the database once a slot)."""


def maintain(runtime: Runtime, engine: JobEngine) -> None:
    """One round of relay, (once a day) the daily jobs and (once a slot) the periodic ones; a
    database or engine outage waits for the next round. (The sweeper runs in the heartbeat's
    thread, also while jobs run.)"""
    try:
        relay(runtime.session_factory, engine, runtime.settings)
    except Exception:
        log.warning("job maintenance failed; retrying next round", exc_info=True)
    if runtime.settings.daily_jobs:
        try:
            started = _DAILY.start(runtime.session_factory, clock.today())
        except Exception:
            log.warning("cannot start the daily jobs; retrying next round", exc_info=True)
        else:
            if started:
                log.info("daily jobs started: %s", started)
    try:
        periodic = _PERIODIC.start(runtime.session_factory, clock.now())
    except Exception:
        log.warning("cannot start the periodic jobs; retrying next round", exc_info=True)
    else:
        if periodic:
            log.info("periodic jobs started: %s", periodic)


def consume(
    runtime: Runtime,
    engine: JobEngine,
    queues: Sequence[Queue],
    stop: threading.Event,
    pause: float = 0.0,
) -> None:
    """Run jobs from ``queues`` (earlier queues first) until ``stop`` is set, with the heartbeat
    of their leases in a thread beside.

    ``pause``: seconds to wait after each job (see :data:`EMBEDDED_PAUSE`).
    """
    job_engine.install_handler(lambda job_id: _run(runtime, job_id))
    heartbeat = runtime.heartbeat()
    heartbeat.start()  # its first round sweeps: jobs of workers that died meanwhile come back
    try:
        maintain(runtime, engine)  # the relay at start: jobs lost while no worker ran go out now
        interval = runtime.settings.job_relay_interval_seconds
        next_round = time.monotonic() + interval
        idle = MIN_IDLE_SLEEP
        while not stop.is_set():
            worked = run_next_group(runtime, engine, queues, stop) is not None
            if time.monotonic() >= next_round:
                maintain(runtime, engine)
                next_round = time.monotonic() + interval
            if worked:
                idle = MIN_IDLE_SLEEP
                if pause:
                    stop.wait(pause)
            else:
                stop.wait(idle)
                idle = min(idle * 2, MAX_IDLE_SLEEP)
    finally:
        heartbeat.stop()


def run_next_group(
    runtime: Runtime,
    engine: JobEngine,
    queues: Sequence[Queue],
    stop: threading.Event | None = None,
) -> list[RunOutcome] | None:
    """Take the next waiting message (earlier queues first) and run its job, and the jobs of the
    messages waiting behind it, as one group (jobs.worker); None when no message waits.

    Messages are taken without blocking, one as each job ends: with one message waiting this is
    a group of one. ``stop`` ends the group after the job in hand.
    """
    first = _take(engine, queues)
    if first is None:
        return None
    taken = [first]

    def next_job() -> int | None:
        job_id = None if stop is not None and stop.is_set() else _take(engine, queues)
        if job_id is not None:
            taken.append(job_id)
        return job_id

    try:
        outcomes = run_group(runtime, first, next_job, engine.dispatch)
    except Exception:
        # The group's transaction is gone (a database outage, say): its jobs stay Queued or
        # Running with their leases, and the relay or the sweeper hands them out again. The
        # worker lives on to serve the next message.
        log.warning("job group of %s failed; its jobs will be taken back", taken, exc_info=True)
        return []
    for job_id, outcome in zip(taken, outcomes, strict=False):
        log.info("job %s: %s", job_id, outcome)
    return outcomes


def _take(engine: JobEngine, queues: Sequence[Queue]) -> int | None:
    """The job id of the next message (earlier queues first), or None when none waits."""
    for queue in queues:
        while True:
            try:
                message = engine.take(queue)
            except Exception:
                log.warning("cannot read queue %s", queue.value, exc_info=True)
                break
            if message is None:
                break
            job_id = engine.job_id(message)
            if job_id is not None:
                return job_id
    return None


def _run(runtime: Runtime, job_id: int) -> None:
    outcome = run_job(runtime, job_id)
    log.info("job %s: %s", job_id, outcome)


def start_in_thread(
    settings: Settings, engine: JobEngine, queues: Sequence[Queue] = tuple(Queue)
) -> Callable[[], None]:
    """Run a consumer of ``engine`` in a daemon thread of this process (the embedded shape's
    server); returns the function that stops it."""
    runtime = Runtime.from_settings(settings, engine)
    stop = threading.Event()
    thread = threading.Thread(
        target=consume,
        args=(runtime, engine, queues, stop, pause_between_jobs(runtime.settings)),
        name="job-consumer",
        daemon=True,
    )
    thread.start()

    def stop_consumer() -> None:
        stop.set()
        thread.join(timeout=30)

    return stop_consumer


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
"""The signals that stop a worker process once the job in hand is done."""


def run_process(queues: Sequence[Queue]) -> None:
    """One worker process: the consumer in the main thread until SIGTERM or SIGINT."""
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        # Graceful: the job in hand finishes, then the loop ends.
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # A process forked by run_workers starts with these signals blocked (its parent's handlers
    # would take them until here); one that came meanwhile is delivered now, to _stop.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    settings = get_settings()  # a worker process's start-up: it reads its environment
    engine = JobEngine.from_settings(settings)
    runtime = Runtime.from_settings(settings, engine)
    log.info("worker %s serving %s", runtime.worker_id, ",".join(q.value for q in queues))
    try:
        consume(runtime, engine, queues, stop)
    finally:
        engine.close()


def run_workers(queues: Sequence[Queue], workers: int) -> None:
    """``workers`` worker processes, restarted when one dies, until SIGTERM or SIGINT."""
    if workers == 1:
        run_process(queues)
        return
    # fork: children start from this parent, which has opened no connection yet.
    context = multiprocessing.get_context("fork")
    stopping = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def spawn() -> multiprocessing.process.BaseProcess:
        # The child inherits this process's signal handlers until run_process sets its own: a
        # SIGTERM forwarded to it in between would set this process's event in the child and
        # leave the child running forever. Blocked across the fork, it waits for the child's.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            process = context.Process(target=run_process, args=(tuple(queues),), daemon=False)
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return process

    processes = [spawn() for _ in range(workers)]
    while not stopping.is_set():
        stopping.wait(1.0)
        for index, process in enumerate(processes):
            if not process.is_alive() and not stopping.is_set():
                log.warning(
                    "worker process %s exited (%s); starting another", process.pid, process.exitcode
                )
                processes[index] = spawn()
    for process in processes:
        if process.pid is not None and process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
    for process in processes:
        process.join()
