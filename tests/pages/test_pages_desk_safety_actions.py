"""The safety page's actions: the checks and the restore queued as jobs by an administrator
(the restore after its confirmation page), the same job on a second press; others get 403 and
queue nothing."""

from __future__ import annotations

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today", "job_engine")


@pytest.fixture(autouse=True)
def logins(session: Session) -> None:
    staff(session)


def safety_jobs(session: Session) -> list[tuple[str, dict[str, object]]]:
    jobs = session.scalars(select(Job).where(Job.name.like("safety.%")).order_by(Job.id))
    return [(job.name, job.params) for job in jobs]


def test_the_safety_page_has_the_buttons(web) -> None:
    signed_in(web, ADMINISTRATOR)
    page = web.get("/desk/safety")
    assert 'action="/desk/safety/check"' in page.text
    assert 'href="/desk/safety/restore"' in page.text


def test_run_the_checks_now(web, session) -> None:
    signed_in(web, ADMINISTRATOR)
    token = form_token(web, "/desk/safety")
    response = web.post("/desk/safety/check", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/jobs?task=safety.check"
    assert safety_jobs(session) == [("safety.check", {"auto_rollback": False})]
    listing = web.get(response.headers["location"])
    assert "The safety checks are running as a job" in text_of(listing.text)
    again = web.post("/desk/safety/check", data={"csrf_token": token})
    assert again.status_code == 303
    assert len(safety_jobs(session)) == 1  # the queued run is the same job


def test_run_the_checks_with_the_rollback(web, session) -> None:
    signed_in(web, ADMINISTRATOR)
    token = form_token(web, "/desk/safety")
    web.post("/desk/safety/check", data={"csrf_token": token, "auto_rollback": "yes"})
    assert safety_jobs(session) == [("safety.check", {"auto_rollback": True})]


def test_restore_after_the_confirmation(web, session) -> None:
    signed_in(web, ADMINISTRATOR)
    with capture() as queries:
        confirmation = web.get("/desk/safety/restore")
    assert confirmation.status_code == 200
    assert queries.count == 1  # the sign-in
    assert "runs the five safety checks first" in text_of(confirmation.text)
    token = form_token(web, "/desk/safety/restore")
    unconfirmed = web.post("/desk/safety/restore", data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert unconfirmed.headers["location"] == "/desk/safety/restore"
    assert safety_jobs(session) == []
    confirmed = web.post("/desk/safety/restore", data={"csrf_token": token, "confirmed": "yes"})
    assert confirmed.headers["location"] == "/desk/jobs?task=safety.restore"
    assert safety_jobs(session) == [("safety.restore", {})]


def test_without_the_form_token_nothing_is_queued(web, session) -> None:
    signed_in(web, ADMINISTRATOR)
    assert web.post("/desk/safety/check", data={}).status_code == 403
    assert web.post("/desk/safety/restore", data={"confirmed": "yes"}).status_code == 403
    assert safety_jobs(session) == []


@pytest.mark.parametrize("login", [TREASURER, SECRETARY, MEMBER])
def test_administrators_only(web, session, login) -> None:
    signed_in(web, login)
    token = form_token(web, "/desk/jobs" if login != MEMBER else "/portal")
    assert web.get("/desk/safety/restore").status_code == 403
    assert web.post("/desk/safety/check", data={"csrf_token": token}).status_code == 403
    restore = web.post("/desk/safety/restore", data={"csrf_token": token, "confirmed": "yes"})
    assert restore.status_code == 403
    assert safety_jobs(session) == []
