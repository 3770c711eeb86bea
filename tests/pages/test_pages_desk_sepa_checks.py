"""A batch's checks at the desk: made with the batch as a job whose outcome is stored on the
batch, then read from there at the same statements whatever the batch's size; stale after the
creditor settings change, checked again on request; a broken file's errors kept (the first of
them, with the count); a cancelled batch not checked; treasurers and administrators only."""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import httpx
import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.auth.models import User
from verenigingen.config import Settings
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.capture import capture
from verenigingen.sepa import checks
from verenigingen.sepa.batches import create_batch
from verenigingen.sepa.models import DirectDebitBatch, DirectDebitEntry, SepaCreditor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))
from sepa_factories import Collectables, make_creditor

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today", "job_engine"), pytest.mark.today(TODAY)]


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def collectable(session: Session, logins: dict[str, User]) -> Collectables:
    """The creditor and one member with a mandate and an open invoice of 17.50."""
    treasurer = logins[TREASURER]
    make_creditor(session, treasurer)
    collectables = Collectables(session, treasurer)
    collectables.invoice(collectables.member(), "17.50")
    session.flush()
    return collectables


def make_batch(web: TestClient, session: Session) -> DirectDebitBatch:
    token = form_token(web, "/desk/sepa/batches")
    made = web.post(
        "/desk/sepa/batches",
        data={"csrf_token": token, "collection_date": "2026-11-18", "description": ""},
    )
    assert made.status_code == 303
    session.expire_all()
    return session.scalars(select(DirectDebitBatch).order_by(DirectDebitBatch.id.desc())).first()


def check_jobs(session: Session) -> list[Job]:
    session.expire_all()
    return list(session.scalars(select(Job).where(Job.name == checks.CHECK_BATCH)))


def run_checks(session: Session) -> None:
    """Run the queued checks as a worker does (in savepoints of the test's transaction)."""
    runtime = Runtime(savepoint_sessions(session), Settings(), worker_id="test:1")
    for job in check_jobs(session):
        if job.status == JobStatus.QUEUED:
            assert run_job(runtime, job.id) is RunOutcome.COMPLETED
    session.expire_all()


def checks_of(web: TestClient, batch: DirectDebitBatch) -> httpx.Response:
    return web.get(f"/desk/sepa/batches/{batch.id}/checks")


def state_of(page: httpx.Response) -> str | None:
    match = re.search(r'data-checks="(\w+)"', page.text)
    return match.group(1) if match else None


def press_check(web: TestClient, batch: DirectDebitBatch) -> httpx.Response:
    token = form_token(web, f"/desk/sepa/batches/{batch.id}")
    return web.post(f"/desk/sepa/batches/{batch.id}/checks", data={"csrf_token": token})


def test_made_with_the_batch_stored_and_read_at_the_same_cost_for_any_size(
    web, collectable, session
) -> None:
    signed_in(web, TREASURER)
    small = make_batch(web, session)
    (job,) = check_jobs(session)
    assert job.params == {"batch_id": small.id}
    waiting = checks_of(web, small)
    assert state_of(waiting) == "running"
    assert 'id="job-' in waiting.text  # the job's progress, as the other desk pages show it
    run_checks(session)
    assert (small.check_error_count, small.check_errors) == (0, [])
    with capture() as small_queries:
        passed = checks_of(web, small)
    assert state_of(passed) == "current"
    assert "The file passes the XSD and the EPC rules." in text_of(passed.text)

    for _ in range(40):
        collectable.invoice(collectable.member(), "10.00")
    session.flush()
    large = make_batch(web, session)
    run_checks(session)
    assert large.entry_count == 40
    with capture() as large_queries:
        passed = checks_of(web, large)
    assert state_of(passed) == "current"
    # The sign-in, the batch, the creditor: no entry is read, whatever the batch's size.
    assert small_queries.count == large_queries.count == 3
    assert not any("sepa_batch_entry" in q.fingerprint for q in large_queries.queries)


def test_a_broken_file_keeps_its_first_errors_and_the_count(
    web, collectable, session, monkeypatch
) -> None:
    for _ in range(4):
        collectable.invoice(collectable.member(), "10.00")
    session.flush()
    monkeypatch.setattr(checks, "KEPT_ERRORS", 2)
    signed_in(web, TREASURER)
    batch = make_batch(web, session)
    for entry in session.scalars(select(DirectDebitEntry)):
        entry.remittance = "x" * 141  # longer than the EPC rules allow
    session.flush()
    run_checks(session)
    # Each of the five entries breaks the EPC rule and the schema's maximum length.
    assert batch.check_error_count == 10
    assert len(batch.check_errors or []) == 2
    page = checks_of(web, batch)
    assert 'data-errors="10"' in page.text
    assert "remittance information must be 1 to 140 characters" in text_of(page.text)
    assert "and 8 more errors" in text_of(page.text)


def test_stale_after_the_creditor_changes_then_checked_again(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    batch = make_batch(web, session)
    run_checks(session)
    creditor = session.scalars(select(SepaCreditor)).one()
    creditor.name = "Vereniging De Nieuwe Naam"
    session.flush()
    path = f"/desk/sepa/batches/{batch.id}/checks"
    with capture() as queries:
        stale = web.get(path)
    assert state_of(stale) == "stale"
    assert "The creditor settings changed after these checks ran" in text_of(stale.text)
    assert queries.count == 4  # and whether a check waits or runs
    pressed = press_check(web, batch)
    assert (pressed.status_code, pressed.headers["location"]) == (
        303,
        f"/desk/sepa/batches/{batch.id}",
    )
    again = press_check(web, batch)
    assert again.status_code == 303
    assert [job.status for job in check_jobs(session)] == ["Completed", "Queued"]  # one new
    assert state_of(checks_of(web, batch)) == "running"
    run_checks(session)
    assert state_of(checks_of(web, batch)) == "current"
    assert batch.checked_creditor == checks.creditor_digest(creditor)


def test_a_batch_made_elsewhere_is_offered_its_checks(web, collectable, session) -> None:
    batch = checks_source_batch(session, collectable)
    signed_in(web, TREASURER)
    page = checks_of(web, batch)
    assert state_of(page) == "unchecked"
    assert f'action="/desk/sepa/batches/{batch.id}/checks"' in page.text
    assert press_check(web, batch).status_code == 303
    run_checks(session)
    assert state_of(checks_of(web, batch)) == "current"


def checks_source_batch(session: Session, collectable: Collectables) -> DirectDebitBatch:
    """A batch made through the service (the API, the command line): no checks queued."""
    batch = create_batch(session, collectable.user, dt.date(2026, 11, 18))
    session.flush()
    assert check_jobs(session) == []
    return batch


def test_a_cancelled_batch_is_not_checked(web, collectable, session) -> None:
    signed_in(web, TREASURER)
    batch = make_batch(web, session)
    run_checks(session)
    token = form_token(web, f"/desk/sepa/batches/{batch.id}")
    web.post(f"/desk/sepa/batches/{batch.id}/cancel", data={"csrf_token": token})
    refused = press_check(web, batch)
    assert refused.status_code == 409
    assert "Cancelled" in text_of(refused.text)
    assert len(check_jobs(session)) == 1
    assert "A cancelled batch is not checked." in text_of(checks_of(web, batch).text)
    assert (
        web.post("/desk/sepa/batches/999999/checks", data={"csrf_token": token}).status_code == 404
    )


def test_a_form_without_its_token_queues_nothing(web, collectable, session) -> None:
    batch = checks_source_batch(session, collectable)
    signed_in(web, TREASURER)
    assert web.post(f"/desk/sepa/batches/{batch.id}/checks", data={}).status_code == 403
    assert check_jobs(session) == []


@pytest.mark.parametrize("email", [SECRETARY, MEMBER])
def test_treasurers_and_administrators_only(web, collectable, session, email) -> None:
    batch = checks_source_batch(session, collectable)
    signed_in(web, email)
    token = form_token(web, "/desk/jobs" if email != MEMBER else "/portal")
    assert checks_of(web, batch).status_code == 403
    pressed = web.post(f"/desk/sepa/batches/{batch.id}/checks", data={"csrf_token": token})
    assert pressed.status_code == 403
    assert check_jobs(session) == []
