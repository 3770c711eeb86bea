"""The portal's "my background jobs" page and its retry button."""

from __future__ import annotations

import re

import pytest
from conftest_pages import make_login, signed_in, text_of
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role, User
from verenigingen.jobs import enqueue
from verenigingen.jobs.engine import JobEngine
from verenigingen.jobs.models import Job, Queue
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def a_job(session: Session, owner: User, **changes: object) -> Job:
    """A job of ``owner`` in the state ``changes`` say."""
    job = enqueue(session, "dues.generate", user=owner, batch_size=10)
    session.flush()
    if changes:
        session.execute(update(Job).where(Job.id == job.id).values(**changes))
        session.expire_all()
    return job


@pytest.fixture
def lid(session: Session) -> User:
    return make_login(session, "lid@example.org", Role.MEMBER)


def token_of(web: TestClient) -> str:
    match = TOKEN.search(web.get("/portal/jobs").text)
    assert match is not None
    return match.group(1)


def retry(web: TestClient, job_id: int, token: str | None = None) -> str:
    """Press the retry button; the flash message on the page the browser is sent to."""
    response = web.post(f"/portal/jobs/{job_id}/retry", data={"csrf_token": token or token_of(web)})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/portal/jobs"
    return " ".join(
        re.findall(r'class="flash[^"]*" role="status">([^<]+)<', web.get("/portal/jobs").text)
    )


def test_a_member_sees_its_own_jobs_with_their_status(web, session, lid, job_engine) -> None:
    a_job(session, lid, status="Completed", attempts=1, dedup_key=None, active_dedup_key=None)
    failed = a_job(session, lid, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None)
    other = make_login(session, "anna@example.org", Role.MEMBER)
    theirs = a_job(
        session, other, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None
    )
    signed_in(web, "lid@example.org")
    page = web.get("/portal/jobs")
    assert page.status_code == 200
    assert re.findall(r'data-job="(\d+)"', page.text) == [str(failed.id), str(failed.id - 1)]
    assert f'data-job="{theirs.id}"' not in page.text
    assert re.findall(r'data-count="(\w+)">(\d+)<', page.text) == [
        ("Queued", "0"), ("Running", "0"), ("Completed", "1"), ("Failed", "1"), ("Cancelled", "0"),
    ]  # fmt: skip
    assert page.text.count(">Retry</button>") == 1
    assert f'action="/portal/jobs/{failed.id}/retry"' in page.text
    assert '<a href="/portal/jobs" aria-current="page">' in page.text


def test_the_jobs_page_is_dutch(browser, session, lid, job_engine) -> None:
    a_job(session, lid, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None)
    web = signed_in(browser(language="nl"), "lid@example.org")
    text = text_of(web.get("/portal/jobs").text)
    assert "Mijn achtergrondtaken" in text
    assert "Mislukt" in text
    assert "Opnieuw proberen" in text


def test_retry_a_failed_job_from_the_portal(web, session, lid, job_engine: JobEngine) -> None:
    failed = a_job(session, lid, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None)
    signed_in(web, "lid@example.org")
    assert retry(web, failed.id) == "The job is queued to run again."
    session.expire_all()
    assert session.get(Job, failed.id).status == "Queued"  # type: ignore[union-attr]
    assert job_engine.take(Queue.LONG).args == (failed.id,)  # type: ignore[union-attr]
    assert retry(web, failed.id) == "Only a failed job can be retried."


def test_a_job_out_of_retries_is_a_flash_message(web, session, lid, job_engine) -> None:
    spent = a_job(session, lid, status="Failed", attempts=4, dedup_key=None, active_dedup_key=None)
    signed_in(web, "lid@example.org")
    assert retry(web, spent.id).startswith("This job has used all its attempts")
    session.expire_all()
    assert session.get(Job, spent.id).status == "Failed"  # type: ignore[union-attr]
    assert job_engine.take(Queue.LONG) is None


def test_retry_while_another_run_is_queued_is_a_flash_message(
    web, session, lid, job_engine
) -> None:
    failed = a_job(
        session, lid, status="Failed", attempts=1, dedup_key="dues", active_dedup_key=None
    )
    a_job(session, lid, dedup_key="dues", active_dedup_key="dues")
    signed_in(web, "lid@example.org")
    assert retry(web, failed.id) == "Another run of this job is already queued or running."
    session.expire_all()
    assert session.get(Job, failed.id).status == "Failed"  # type: ignore[union-attr]


def test_another_users_job_is_the_403_page_and_unknown_the_404(
    web, session, lid, job_engine
) -> None:
    other = make_login(session, "anna@example.org", Role.MEMBER)
    theirs = a_job(
        session, other, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None
    )
    signed_in(web, "lid@example.org")
    token = token_of(web)
    refused = web.post(f"/portal/jobs/{theirs.id}/retry", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "You may not see this page" in text_of(refused.text)
    assert web.post("/portal/jobs/987654321/retry", data={"csrf_token": token}).status_code == 404
    assert web.post("/portal/jobs/abc/retry", data={"csrf_token": token}).status_code == 422
    session.expire_all()
    assert session.get(Job, theirs.id).status == "Failed"  # type: ignore[union-attr]


def test_a_retry_without_the_form_token_is_refused(web, session, lid, job_engine) -> None:
    failed = a_job(session, lid, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None)
    signed_in(web, "lid@example.org")
    assert web.post(f"/portal/jobs/{failed.id}/retry").status_code == 403
    assert (
        web.post(f"/portal/jobs/{failed.id}/retry", data={"csrf_token": "0" * 64}).status_code
        == 403
    )
    session.expire_all()
    assert session.get(Job, failed.id).status == "Failed"  # type: ignore[union-attr]
    assert job_engine.take(Queue.LONG) is None


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.TREASURER])
def test_other_roles_get_the_403_page(web, session, role) -> None:
    make_login(session, "staff@example.org", role)
    signed_in(web, "staff@example.org")
    assert web.get("/portal/jobs").status_code == 403


def test_anonymous_jobs_go_to_sign_in(web) -> None:
    response = web.get("/portal/jobs")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fportal%2Fjobs"


def jobs_statements(web: TestClient) -> int:
    with capture() as log:
        response = web.get("/portal/jobs")
    assert response.status_code == 200, response.text
    return log.count


@pytest.mark.parametrize("jobs", [1, 40])
def test_the_jobs_page_costs_the_same_statements_whatever_the_jobs(
    web, session, lid, job_engine, jobs
) -> None:
    """The sign-in's statement, the counts per status, the ten most recent."""
    for _ in range(jobs):
        a_job(session, lid, status="Failed", attempts=1, dedup_key=None, active_dedup_key=None)
    signed_in(web, "lid@example.org")
    assert jobs_statements(web) == 3
    assert len(re.findall(r'data-job="', web.get("/portal/jobs").text)) == min(jobs, 10)
