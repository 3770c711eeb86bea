"""/api/v1/jobs, /api/v1/notifications and the dues run started over HTTP."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.config import Settings
from verenigingen.jobs import enqueue
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, Notification, Queue
from verenigingen.jobs.sweeper import sweep
from verenigingen.jobs.worker import Runtime, run_job

URL = "/api/v1/jobs"


@pytest.fixture
def work(session: Session, job_engine: JobEngine, tmp_path):
    """Run what the API queued, as a worker would, inside the test's transaction."""
    runtime = Runtime(savepoint_sessions(session), Settings(data_dir=tmp_path), "web-test:1")

    def run_all() -> list[str]:
        outcomes = []
        for queue in Queue:
            while (message := job_engine.take(queue)) is not None:
                outcomes.append(run_job(runtime, message.args[0]))
        return outcomes

    return run_all


def user(session: Session, role: Role) -> User:
    email = f"{role.value.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.org"
    return create_user(session, email, role)


def a_job(session: Session, owner: User, **changes) -> Job:
    """A dues-run job of ``owner`` in the state ``changes`` say."""
    job = enqueue(session, "dues.generate", user=owner, batch_size=10)
    session.flush()
    if changes:
        session.execute(update(Job).where(Job.id == job.id).values(**changes))
        session.expire_all()
    return job


def test_dues_run_started_over_http_shows_up_with_its_notification(api, session, work):
    treasurer = user(session, Role.TREASURER)
    client = api(treasurer)
    started = client.post("/api/v1/dues/generate", json={"date": "2026-11-15"})
    assert started.status_code == 202
    job = started.json()
    assert (job["name"], job["status"], job["queue"], job["timeout"]) == (
        "dues.generate",
        "Queued",
        "long",
        1500,
    )
    assert job["params"] == {"day": "2026-11-15", "batch_size": 50}
    assert work() == ["completed"]

    shown = client.get(f"{URL}/{job['id']}").json()
    assert (shown["status"], shown["attempts"]) == ("Completed", 1)
    assert shown["result"]["invoices_created"] == 0
    inbox = client.get("/api/v1/notifications").json()
    assert inbox["unread"] == 1
    [note] = inbox["items"]
    assert (note["message"], note["indicator"], note["job_id"], note["read"]) == (
        "Job 'dues.generate' completed successfully",
        "green",
        job["id"],
        False,
    )
    read = client.post(f"/api/v1/notifications/{note['id']}/read")
    assert (read.status_code, read.json()["read"]) == (200, True)
    assert client.get("/api/v1/notifications", params={"unread": True}).json() == {
        "items": [],
        "unread": 0,
        "next_cursor": None,
    }
    status = client.get(URL).json()
    assert (status["user_id"], status["total"], status["success_rate"]) == (treasurer.id, 1, 1.0)
    assert status["counts"] == {
        "Queued": 0,
        "Running": 0,
        "Completed": 1,
        "Failed": 0,
        "Cancelled": 0,
    }
    assert [j["id"] for j in status["recent"]] == [job["id"]]


def test_a_second_dues_run_while_one_is_queued_returns_the_first(api, session, job_engine):
    client = api(Role.TREASURER)
    first = client.post("/api/v1/dues/generate").json()
    second = client.post("/api/v1/dues/generate").json()
    assert first["id"] == second["id"]
    assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_dues_run_needs_billing_rights_and_good_input(api, session, job_engine):
    assert api(Role.MEMBERSHIP_SECRETARY).post("/api/v1/dues/generate").status_code == 403
    assert api(Role.MEMBER).post("/api/v1/dues/generate").status_code == 403
    client = api(Role.ADMINISTRATOR)
    for body in ({"batch_size": 0}, {"date": "2026-13-01"}, {"shoe_size": 44}):
        response = client.post("/api/v1/dues/generate", json=body)
        assert response.status_code == 422
        assert response.json()["error"] == "validation_failed"
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_requests_without_token_are_401(api):
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    for method, path in (
        ("GET", URL),
        ("GET", f"{URL}/1"),
        ("POST", f"{URL}/1/retry"),
        ("POST", f"{URL}/1/cancel"),
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/notifications/read"),
    ):
        assert client.request(method, path).status_code == 401


def test_jobs_of_others_are_403_and_unknown_ones_404(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    job = a_job(session, owner)
    other = api(Role.TREASURER)
    for method, path in (
        ("GET", f"{URL}/{job.id}"),
        ("POST", f"{URL}/{job.id}/retry"),
        ("POST", f"{URL}/{job.id}/cancel"),
    ):
        response = other.request(method, path)
        assert (response.status_code, response.json()["error"]) == (403, "not_own_record")
    assert other.get(f"{URL}/987654").status_code == 404
    assert other.post(f"{URL}/987654/retry").status_code == 404
    assert other.post(f"{URL}/987654/cancel").status_code == 404
    assert other.get(f"{URL}/abc").status_code == 422
    assert api(Role.ADMINISTRATOR).get(f"{URL}/{job.id}").status_code == 200
    session.expire_all()
    assert session.get(Job, job.id).status == "Queued"


def test_status_of_another_user_is_for_administrators_only(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    a_job(session, owner)
    for who in (owner.id, owner.email):
        response = api(Role.TREASURER).get(URL, params={"user": who})
        assert (response.status_code, response.json()["error"]) == (403, "not_own_record")
    assert api(owner).get(URL, params={"user": owner.id}).json()["total"] == 1
    admin = api(Role.ADMINISTRATOR)
    by_id = admin.get(URL, params={"user": owner.id}).json()
    by_email = admin.get(URL, params={"user": owner.email}).json()
    assert {**by_id, "since": None} == {**by_email, "since": None}
    assert (by_id["user_id"], by_id["total"], by_id["counts"]["Queued"]) == (owner.id, 1, 1)
    assert by_id["success_rate"] is None
    assert admin.get(URL).json()["total"] == 0  # the administrator's own jobs
    assert admin.get(URL, params={"user": 987654}).status_code == 404


def test_status_counts_the_last_seven_days_and_shows_the_ten_most_recent(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    jobs = [a_job(session, owner, status="Completed") for _ in range(9)]
    jobs += [a_job(session, owner, status="Failed") for _ in range(3)]
    old = a_job(session, owner, status="Failed", created_at=clock.now() - dt.timedelta(days=8))
    status = api(owner).get(URL).json()
    assert status["total"] == 12
    assert (status["counts"]["Completed"], status["counts"]["Failed"]) == (9, 3)
    assert status["success_rate"] == 0.75
    assert [j["id"] for j in status["recent"]] == [j.id for j in reversed(jobs)][:10]
    assert old.id not in [j["id"] for j in status["recent"]]


def test_retry_only_a_failed_job_with_attempts_left(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    client = api(owner)
    completed = a_job(session, owner, status="Completed", attempts=1, dedup_key=None)
    spent = a_job(session, owner, status="Failed", attempts=4, active_dedup_key=None)
    retryable = a_job(session, owner, status="Failed", attempts=1, active_dedup_key=None)

    refused = client.post(f"{URL}/{completed.id}/retry")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "job_not_failed",
        "detail": f"job {completed.id} is Completed; only a Failed job can be retried",
    }
    past = client.post(f"{URL}/{spent.id}/retry")
    assert (past.status_code, past.json()["error"]) == (409, "job_out_of_retries")
    assert "used all 4 attempts" in past.json()["detail"]

    retried = client.post(f"{URL}/{retryable.id}/retry")
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("Queued", 1)
    assert job_engine.take(Queue.LONG).args == (retryable.id,)
    again = client.post(f"{URL}/{retryable.id}/retry")
    assert (again.status_code, again.json()["error"]) == (409, "job_not_failed")
    session.expire_all()
    assert session.get(Job, spent.id).status == "Failed"


def test_retry_while_a_job_of_the_same_key_is_queued_is_refused(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    failed = a_job(
        session, owner, status="Failed", attempts=1, dedup_key="dues", active_dedup_key=None
    )
    a_job(session, owner, dedup_key="dues", active_dedup_key="dues")
    response = api(owner).post(f"{URL}/{failed.id}/retry")
    assert (response.status_code, response.json()["error"]) == (409, "duplicate_job")
    session.expire_all()
    assert session.get(Job, failed.id).status == "Failed"
    assert job_engine.take(Queue.LONG) is None


def test_administrator_may_retry_anyones_failed_job(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    job = a_job(session, owner, status="Failed", attempts=1, active_dedup_key=None)
    assert api(Role.ADMINISTRATOR).post(f"{URL}/{job.id}/retry").json()["status"] == "Queued"


def test_the_owner_cancels_a_queued_job_and_no_one_an_ended_one(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    client = api(owner)
    queued = a_job(session, owner)
    cancelled = client.post(f"{URL}/{queued.id}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "Cancelled")
    assert cancelled.json()["error"] == f"cancelled by {owner.email}"
    assert cancelled.json()["cancel_requested_at"] is None  # a Queued job ends at once
    ended = [
        a_job(session, owner, status=status, active_dedup_key=None)
        for status in ("Completed", "Failed", "Cancelled")
    ]
    for job in ended:
        for who in (client, api(Role.ADMINISTRATOR)):
            refused = who.post(f"{URL}/{job.id}/cancel")
            assert refused.status_code == 409
            assert refused.json() == {
                "error": "job_not_queued",
                "detail": f"job {job.id} is {job.status}; only a Queued or Running job can be "
                "cancelled",
            }
    session.expire_all()
    assert [session.get(Job, j.id).status for j in ended] == ["Completed", "Failed", "Cancelled"]
    assert session.get(Job, queued.id).active_dedup_key is None


def running_job(session: Session, owner: User, *, lease_seconds: float) -> Job:
    """A dues run claimed by a worker, its lease ending ``lease_seconds`` from now."""
    return a_job(
        session,
        owner,
        status="Running",
        attempts=1,
        worker="elsewhere:42",
        started_at=clock.now(),
        lease_until=clock.now() + dt.timedelta(seconds=lease_seconds),
    )


@pytest.mark.parametrize("role", [Role.TREASURER, Role.MEMBER])
def test_only_an_administrator_cancels_a_running_job(api, session, job_engine, role):
    owner = user(session, role)
    job = running_job(session, owner, lease_seconds=30)
    refused = api(owner).post(f"{URL}/{job.id}/cancel")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "running_job_cancel_for_administrators",
        "detail": f"job {job.id} is Running; only an administrator may cancel a running job",
    }
    session.expire_all()
    shown = session.get(Job, job.id)
    assert (shown.status, shown.cancel_requested_at, shown.active_dedup_key) == (
        "Running",
        None,
        job.dedup_key,
    )


def test_an_administrator_requests_the_cancel_of_a_running_job(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    admin = user(session, Role.ADMINISTRATOR)
    job = running_job(session, owner, lease_seconds=30)
    answer = api(admin).post(f"{URL}/{job.id}/cancel")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["cancel_requested_by"], body["error"]) == (
        "Running",
        admin.email,
        None,
    )
    assert body["cancel_requested_at"] is not None
    again = api(Role.ADMINISTRATOR).post(f"{URL}/{job.id}/cancel").json()
    assert (again["status"], again["cancel_requested_at"], again["cancel_requested_by"]) == (
        "Running",
        body["cancel_requested_at"],
        admin.email,
    )
    # The owner sees who asked; the job keeps its key until its worker ends it.
    shown = api(owner).get(f"{URL}/{job.id}").json()
    assert (shown["status"], shown["cancel_requested_by"]) == ("Running", admin.email)
    session.expire_all()
    assert session.get(Job, job.id).active_dedup_key == job.dedup_key


def test_a_running_job_whose_worker_is_gone_is_cancelled_at_once(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    admin = user(session, Role.ADMINISTRATOR)
    job = running_job(session, owner, lease_seconds=-1)
    body = api(admin).post(f"{URL}/{job.id}/cancel").json()
    assert (body["status"], body["error"], body["cancel_requested_by"]) == (
        "Cancelled",
        f"cancelled by {admin.email} (its worker was gone)",
        admin.email,
    )
    assert body["finished_at"] is not None
    session.expire_all()
    ended = session.get(Job, job.id)
    assert (ended.active_dedup_key, ended.lease_until) == (None, None)


def test_a_dues_run_whose_worker_died_is_joined_only_while_it_lives_on(
    api, session, job_engine, tmp_path
):
    client = api(Role.TREASURER)
    first = client.post("/api/v1/dues/generate").json()
    # Claimed by a worker that then died: its lease has passed.
    session.execute(
        update(Job)
        .where(Job.id == first["id"])
        .values(
            status="Running",
            attempts=1,
            worker="gone:9",
            lease_until=clock.now() - dt.timedelta(seconds=1),
        )
    )
    settings = Settings(data_dir=tmp_path)
    swept = sweep(savepoint_sessions(session), settings)
    assert (swept.requeued, swept.failed) == (1, 0)
    # Taken back: Queued for its retry, and that is the run a second request joins.
    joined = client.post("/api/v1/dues/generate").json()
    assert (joined["id"], joined["status"], joined["attempts"]) == (first["id"], "Queued", 1)
    # Died again, and cancelled by an administrator: a new request starts a new run.
    session.execute(
        update(Job)
        .where(Job.id == first["id"])
        .values(status="Running", attempts=2, lease_until=clock.now() - dt.timedelta(seconds=1))
    )
    cancelled = api(Role.ADMINISTRATOR).post(f"{URL}/{first['id']}/cancel").json()
    assert cancelled["status"] == "Cancelled"
    second = client.post("/api/v1/dues/generate").json()
    assert second["id"] != first["id"]
    assert second["status"] == "Queued"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Job)) == 2


def test_ibans_are_masked_wherever_a_job_is_shown(api, session, job_engine):
    owner = user(session, Role.TREASURER)
    job = a_job(
        session,
        owner,
        status="Failed",
        params={"note": "NL91 ABNA 0417 1643 00"},
        error="refused NL91ABNA0417164300",
        result={"iban": "NL91ABNA0417164300"},
    )
    client = api(owner)
    shown = client.get(f"{URL}/{job.id}").json()
    assert shown["params"] == {"note": "NL91**********4300"}
    assert shown["error"] == "refused NL91**********4300"
    assert shown["result"] == {"iban": "NL91**********4300"}
    assert "0417" not in client.get(URL).text


def test_notifications_of_others_are_403_and_unknown_ones_404(api, session):
    owner = user(session, Role.TREASURER)
    note = Notification(user_id=owner.id, subject="s", message="m", indicator="green")
    session.add(note)
    session.flush()
    other = api(Role.TREASURER)
    assert other.post(f"/api/v1/notifications/{note.id}/read").status_code == 403
    assert other.post("/api/v1/notifications/987654/read").status_code == 404
    assert other.get("/api/v1/notifications").json() == {
        "items": [],
        "unread": 0,
        "next_cursor": None,
    }
    assert other.get("/api/v1/notifications", params={"limit": 0}).status_code == 422
    mine = api(owner)
    assert mine.post("/api/v1/notifications/read").json() == {"marked": 1}
    assert mine.post("/api/v1/notifications/read").json() == {"marked": 0}
