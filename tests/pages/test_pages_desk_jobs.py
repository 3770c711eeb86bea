"""The desk's jobs: everyone's for an administrator, filters, keyset pages, the progress
fragment that polls while a job runs, retry and cancel as the API allows them."""

from __future__ import annotations

import re

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today", "job_engine")

JOB_ROW = re.compile(r'<tr data-job="(\d+)"')
ENDED = {"dedup_key": None, "active_dedup_key": None}


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


def a_job(session: Session, owner: User, task: str = "dues.generate", **changes: object) -> Job:
    """A job of ``owner`` in the state ``changes`` say."""
    job = (
        enqueue(session, task, user=owner, batch_size=10)
        if task == "dues.generate"
        else (enqueue(session, task, user=owner))
    )
    session.flush()
    if changes:
        session.execute(update(Job).where(Job.id == job.id).values(**changes))
        session.expire_all()
    return job


def flash_after(web: TestClient, response: object, path: str = "/desk/jobs") -> str:
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    return " ".join(re.findall(r'class="flash[^"]*" role="status">([^<]+)<', web.get(path).text))


def test_an_administrator_sees_everyones_jobs(web, logins, session) -> None:
    own = a_job(session, logins[ADMINISTRATOR], status="Completed", **ENDED)
    theirs = a_job(session, logins[TREASURER], status="Failed", attempts=1, **ENDED)
    signed_in(web, ADMINISTRATOR)
    with capture() as queries:
        page = web.get("/desk/jobs")
    assert page.status_code == 200
    assert JOB_ROW.findall(page.text) == [str(theirs.id), str(own.id)]
    assert queries.count == 2  # the sign-in and the page
    assert "Every user's background jobs" in text_of(page.text)


def test_a_treasurer_sees_its_own_jobs(web, logins, session) -> None:
    a_job(session, logins[ADMINISTRATOR], status="Completed", **ENDED)
    own = a_job(session, logins[TREASURER], status="Failed", attempts=1, **ENDED)
    signed_in(web, TREASURER)
    assert JOB_ROW.findall(web.get("/desk/jobs").text) == [str(own.id)]


def test_the_filters_by_status_and_task(web, logins, session) -> None:
    admin = logins[ADMINISTRATOR]
    failed = a_job(session, admin, status="Failed", attempts=1, **ENDED)
    a_job(session, admin, status="Completed", **ENDED)
    other_task = a_job(session, admin, "billing.refresh_overdue", status="Failed", **ENDED)
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/jobs", params={"status": "Failed", "task": "dues.generate"})
    assert JOB_ROW.findall(page.text) == [str(failed.id)]
    page = web.get("/desk/jobs", params={"status": "Failed"})
    assert JOB_ROW.findall(page.text) == [str(other_task.id), str(failed.id)]


def test_the_list_is_paged_by_keyset(web, logins, session) -> None:
    for _ in range(27):
        a_job(session, logins[SECRETARY], status="Completed", **ENDED)
    signed_in(web, SECRETARY)
    with capture() as first_queries:
        first = web.get("/desk/jobs?status=Completed")
    link = re.search(
        r'href="(/desk/jobs\?status=Completed&amp;after=[^"]+)" rel="next"', first.text
    )
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1).replace("&amp;", "&"))
    assert (len(JOB_ROW.findall(first.text)), len(JOB_ROW.findall(second.text))) == (25, 2)
    assert first_queries.count == second_queries.count == 2


@pytest.mark.parametrize(
    "query", ["status=Done", "task=no.such.task", "after=abc", "task=" + "t" * 141]
)
def test_bad_filters_are_the_422_page(web, logins, query) -> None:
    signed_in(web, TREASURER)
    assert web.get(f"/desk/jobs?{query}").status_code == 422


def test_a_running_job_polls_its_progress_until_it_ends(web, logins, session) -> None:
    job = a_job(
        session, logins[ADMINISTRATOR], status="Running", progress_done=250, progress_total=1000
    )
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/jobs")
    assert f'hx-get="/desk/jobs/{job.id}/progress" hx-trigger="every 2s"' in page.text
    assert '<progress max="1000" value="250"' in page.text
    with capture() as queries:
        fragment = web.get(f"/desk/jobs/{job.id}/progress")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "250 of 1000" in text_of(fragment.text)
    assert queries.count == 2
    session.execute(
        update(Job).where(Job.id == job.id).values(status="Completed", progress_done=1000, **ENDED)
    )
    ended = web.get(f"/desk/jobs/{job.id}/progress")
    assert 'data-status="Completed"' in ended.text
    assert "hx-get" not in ended.text


def test_another_users_job_progress_is_the_403_page(web, logins, session) -> None:
    job = a_job(session, logins[ADMINISTRATOR], status="Running")
    signed_in(web, TREASURER)
    assert web.get(f"/desk/jobs/{job.id}/progress").status_code == 403
    assert web.get("/desk/jobs/987654/progress").status_code == 404


def test_retry_a_failed_job(web, logins, session) -> None:
    job = a_job(session, logins[TREASURER], status="Failed", attempts=1, **ENDED)
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/jobs")
    response = web.post(f"/desk/jobs/{job.id}/retry", data={"csrf_token": token})
    assert flash_after(web, response) == "The job is queued to run again."
    session.expire_all()
    assert session.get(Job, job.id).status == "Queued"  # type: ignore[union-attr]
    again = web.post(f"/desk/jobs/{job.id}/retry", data={"csrf_token": token})
    assert flash_after(web, again) == "Only a failed job can be retried."


def test_cancel_a_queued_job_back_to_the_filtered_list(web, logins, session) -> None:
    job = a_job(session, logins[TREASURER])
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/jobs")
    response = web.post(
        f"/desk/jobs/{job.id}/cancel",
        data={"csrf_token": token, "back": "/desk/jobs?status=Queued"},
    )
    assert response.headers["location"] == "/desk/jobs?status=Queued"
    assert flash_after(web, response, "/desk/jobs?status=Queued") == "The job is cancelled."
    session.expire_all()
    assert session.get(Job, job.id).status == "Cancelled"  # type: ignore[union-attr]
    again = web.post(f"/desk/jobs/{job.id}/cancel", data={"csrf_token": token})
    assert flash_after(web, again) == "This job has ended already; nothing changed."


def test_only_an_administrator_stops_a_running_job(web, logins, session) -> None:
    job = a_job(session, logins[TREASURER], status="Running")
    signed_in(web, TREASURER)
    page = web.get("/desk/jobs")
    assert f'action="/desk/jobs/{job.id}/cancel"' not in page.text
    token = form_token(web, "/desk/jobs")
    response = web.post(f"/desk/jobs/{job.id}/cancel", data={"csrf_token": token})
    assert flash_after(web, response) == "Only an administrator may stop a running job."


def test_a_back_address_off_the_jobs_list_is_ignored(web, logins, session) -> None:
    job = a_job(session, logins[TREASURER])
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/jobs")
    for back in ("https://elsewhere.example/", "//elsewhere.example/desk/jobs", "/portal"):
        response = web.post(f"/desk/jobs/{job.id}/cancel", data={"csrf_token": token, "back": back})
        assert response.headers["location"] == "/desk/jobs"
