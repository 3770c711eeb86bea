"""``verenigingen worker`` and ``verenigingen jobs`` on a fresh embedded installation."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.cli.app import app
from verenigingen.config import get_settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import Job

runner = CliRunner()
TESTS_DIR = Path(__file__).parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("VERENIGINGEN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VERENIGINGEN_JOB_RELAY_INTERVAL_SECONDS", "0.2")
    monkeypatch.delenv("VERENIGINGEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("VERENIGINGEN_REDIS_URL", raising=False)
    get_settings.cache_clear()
    assert runner.invoke(app, ["init"]).exit_code == 0
    yield tmp_path
    get_settings.cache_clear()


def add_job(data_dir: Path, name: str = "test.domain_error", **changes: object) -> int:
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    factory = make_session_factory(engine)
    # No job engine on these sessions: the job waits in its table, as the commands expect.
    with factory() as session, session.begin():
        admin = session.scalars(select(User)).one()
        job = enqueue(session, name, user=admin)
        for field, value in changes.items():
            setattr(job, field, value)
        job_id = job.id
    engine.dispose()
    return job_id


def test_worker_refuses_an_unknown_queue(data_dir: Path) -> None:
    result = runner.invoke(app, ["worker", "--queues", "short,urgent"])
    assert result.exit_code == 1
    assert "unknown queue 'urgent'; choose one of: short, default, long" in result.output
    assert runner.invoke(app, ["worker", "--queues", " , "]).exit_code == 1
    assert runner.invoke(app, ["worker", "--workers", "0"]).exit_code == 2


def test_jobs_list_show_cancel_retry(data_dir: Path) -> None:
    queued = add_job(data_dir)
    failed = add_job(data_dir, status="Failed", attempts=1, error="refused NL91ABNA0417164300")
    listed = runner.invoke(app, ["jobs", "list", "--status", "failed"])
    assert listed.exit_code == 0, listed.output
    assert "Failed" in listed.output
    assert "Queued" not in listed.output
    shown = runner.invoke(app, ["jobs", "show", str(failed)])
    assert json.loads(shown.output)["error"] == "refused NL91**********4300"
    assert runner.invoke(app, ["jobs", "list", "--status", "Asleep"]).exit_code == 1

    refused = runner.invoke(app, ["jobs", "cancel", str(failed)])
    assert refused.exit_code == 1
    assert "only a Queued or Running job can be cancelled" in refused.output
    assert "is Cancelled" in runner.invoke(app, ["jobs", "cancel", str(queued)]).output
    retried = runner.invoke(app, ["jobs", "retry", str(failed)])
    assert retried.exit_code == 0, retried.output
    assert "is Queued again" in retried.output
    missing = runner.invoke(app, ["jobs", "show", "987654"])
    assert (missing.exit_code, "no job 987654" in missing.output) == (1, True)
    swept = runner.invoke(app, ["jobs", "sweep"])
    assert swept.exit_code == 0
    assert "Requeued 0, failed 0 and cancelled 0" in swept.output


def test_jobs_cancel_a_running_job_and_sweep_a_dead_workers_job(data_dir: Path) -> None:
    now = clock.now()
    ahead, past = now + dt.timedelta(seconds=30), now - dt.timedelta(seconds=1)
    running = {"status": "Running", "attempts": 1, "worker": "host:1", "started_at": now}
    alive = add_job(data_dir, **running, lease_until=ahead)
    gone = add_job(data_dir, **running, lease_until=past)
    dead = add_job(data_dir, "test.record", **running, lease_until=past)

    requested = runner.invoke(app, ["jobs", "cancel", str(alive)])
    assert requested.exit_code == 0, requested.output
    assert f"Job {alive} 'test.domain_error' is Running; cancel requested" in requested.output
    assert "within 5 s" in requested.output
    listed = runner.invoke(app, ["jobs", "list", "--status", "running"], env={"COLUMNS": "200"})
    [row] = [line for line in listed.output.splitlines() if line.startswith(f"│ {alive} ")]
    assert "Running (cancel requested by admin@example.org)" in row
    shown = json.loads(runner.invoke(app, ["jobs", "show", str(alive)]).output)
    assert (shown["status"], shown["cancel_requested_by"]) == ("Running", "admin@example.org")
    assert shown["cancel_requested_at"] is not None

    forced = runner.invoke(app, ["jobs", "cancel", str(gone)])
    assert forced.exit_code == 0, forced.output
    assert f"Job {gone} 'test.domain_error' is Cancelled. Its worker was gone" in forced.output
    assert "only a Queued or Running" in runner.invoke(app, ["jobs", "cancel", str(gone)]).output

    # The first job's worker died too, after the request: the sweep cancels it, and takes the
    # other dead worker's job back for a retry.
    engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
    with make_session_factory(engine)() as session, session.begin():
        session.execute(update(Job).where(Job.id == alive).values(lease_until=past))
    swept = runner.invoke(app, ["jobs", "sweep"])
    assert swept.exit_code == 0, swept.output
    assert "Requeued 1, failed 0 and cancelled 1 job(s) past their lease" in swept.output
    with make_session_factory(engine)() as session:
        statuses = [session.get(Job, job_id).status for job_id in (alive, gone, dead)]
    engine.dispose()
    assert statuses == ["Cancelled", "Cancelled", "Queued"]


def test_a_sigterm_while_the_worker_processes_start_stops_them_all(data_dir: Path) -> None:
    # Regression: a process that got the SIGTERM its parent forwarded before it had set its own
    # handlers ran the parent's (inherited) and kept consuming; the parent waited for it forever.
    env = {**os.environ, "VERENIGINGEN_DATA_DIR": str(data_dir)}
    env.pop("VERENIGINGEN_DATABASE_URL", None)
    env.pop("VERENIGINGEN_REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-m", "verenigingen", "worker", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[str] = []
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline:  # forked, not yet started
        with contextlib.suppress(FileNotFoundError):
            children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        time.sleep(0.005)
    assert len(children) == 2
    worker.send_signal(signal.SIGTERM)
    try:
        assert worker.wait(timeout=30) == 0
    finally:
        for pid in [worker.pid, *map(int, children)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_worker_with_two_processes_runs_jobs_and_stops_on_sigterm(data_dir: Path) -> None:
    env = {
        **os.environ,
        "VERENIGINGEN_DATA_DIR": str(data_dir),
        "VERENIGINGEN_JOB_TASK_MODULES": "sample_tasks",
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(TESTS_DIR.parents[1] / "src")]),
    }
    env.pop("VERENIGINGEN_DATABASE_URL", None)
    env.pop("VERENIGINGEN_REDIS_URL", None)
    job_id = add_job(data_dir, dispatched_at=None)  # left for the relay at worker start
    worker = subprocess.Popen(
        [sys.executable, "-m", "verenigingen", "worker", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        engine = make_engine(f"sqlite:///{data_dir / 'verenigingen.db'}")
        deadline = time.monotonic() + 30
        status = "Queued"
        while status != "Failed" and time.monotonic() < deadline:
            time.sleep(0.1)
            with make_session_factory(engine)() as session:
                status = session.get(Job, job_id).status
        engine.dispose()
        assert status == "Failed"  # test.domain_error fails at once, by design
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert "Worker: 2 process(es) on short, default, long" in output
