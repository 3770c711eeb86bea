"""The in-process consumer of the embedded shape leaves the SQLite write lock to requests."""

from __future__ import annotations

import threading
from typing import Any

from verenigingen.config import Settings
from verenigingen.jobs import consumer
from verenigingen.jobs.models import Queue


def test_only_the_sqlite_shape_pauses_between_jobs(tmp_path) -> None:
    assert consumer.pause_between_jobs(Settings(data_dir=tmp_path)) == consumer.EMBEDDED_PAUSE
    server = Settings(database_url="postgresql://postgres@127.0.0.1/verenigingen")
    assert consumer.pause_between_jobs(server) == 0.0


class _TwoJobs:
    """An engine with two messages on the default queue."""

    def __init__(self) -> None:
        self.messages = [1, 2]

    def take(self, queue: Queue) -> Any:
        return self.messages.pop(0) if queue is Queue.DEFAULT and self.messages else None

    def job_id(self, message: Any) -> int:
        return int(message)

    def dispatch(self, queue: Queue, job_id: int) -> None:
        self.messages.append(job_id)


class _Waits(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_consumer_waits_after_each_group_when_asked(monkeypatch) -> None:
    monkeypatch.setattr(consumer, "maintain", lambda *_: None)
    monkeypatch.setattr(consumer.job_engine, "install_handler", lambda *_: None)
    stop = _Waits()
    engine = _TwoJobs()
    ran: list[int] = []

    def one_at_a_time(_runtime: Any, first: int, _next_job: Any, _redeliver: Any) -> list[str]:
        # SQLite runs groups of one (jobs.worker): the pause comes after each job.
        ran.append(first)
        if not engine.messages:
            stop.set()
        return ["completed"]

    monkeypatch.setattr(consumer, "run_group", one_at_a_time)
    settings = Settings(job_relay_interval_seconds=3600)
    beats: list[str] = []
    heartbeat = type(
        "H", (), {"start": lambda _: beats.append("start"), "stop": lambda _: beats.append("stop")}
    )
    runtime: Any = type("R", (), {"settings": settings, "heartbeat": lambda _: heartbeat()})()
    consumer.consume(runtime, engine, [Queue.DEFAULT], stop, pause=0.1)  # type: ignore[arg-type]
    assert ran == [1, 2]
    assert stop.waits == [0.1, 0.1]  # after each group, not before the first
    assert beats == ["start", "stop"]  # the heartbeat runs while the consumer does
