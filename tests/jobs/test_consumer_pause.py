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
    """An engine with two messages on the default queue; records when each runs."""

    def __init__(self, stop: threading.Event) -> None:
        self.messages = [1, 2]
        self.stop = stop
        self.ran: list[int] = []

    def take(self, queue: Queue) -> Any:
        return self.messages.pop(0) if queue is Queue.DEFAULT and self.messages else None

    def execute(self, _queue: Queue, message: Any) -> None:
        self.ran.append(message)
        if not self.messages:
            self.stop.set()


class _Waits(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_consumer_waits_after_each_job_when_asked(monkeypatch) -> None:
    monkeypatch.setattr(consumer, "maintain", lambda *_: None)
    monkeypatch.setattr(consumer.job_engine, "install_handler", lambda *_: None)
    stop = _Waits()
    engine = _TwoJobs(stop)
    settings = Settings(job_relay_interval_seconds=3600)
    runtime: Any = type("R", (), {"settings": settings})()
    consumer.consume(runtime, engine, [Queue.DEFAULT], stop, pause=0.1)  # type: ignore[arg-type]
    assert engine.ran == [1, 2]
    assert stop.waits == [0.1, 0.1]  # after each job, not before the first
