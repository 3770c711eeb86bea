"""The desk's dues run: the form, a run queued as the API queues it, its progress polled until
it ends, what it billed; bad fields re-render the form with nothing queued; roles."""

from __future__ import annotations

import re

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from verenigingen.jobs.models import Job
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today", "job_engine")

RUN_ROW = re.compile(r'<tr data-job="(\d+)"')


@pytest.fixture(autouse=True)
def logins(session: Session) -> None:
    staff(session)


def dues_jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.name == "dues.generate").order_by(Job.id)))


def test_the_form_and_no_run_yet(web) -> None:
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get("/desk/dues")
    assert page.status_code == 200
    assert queries.count == 2  # the sign-in and the runs
    assert "No dues run yet." in text_of(page.text)
    assert 'href="/desk/dues"' in page.text  # in the menu


def test_a_treasurer_starts_a_run_and_sees_it_queued(web, session) -> None:
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/dues")
    response = web.post(
        "/desk/dues", data={"csrf_token": token, "day": "2026-03-01", "batch_size": "200"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/desk/dues"
    [job] = dues_jobs(session)
    assert (job.status, job.params) == ("Queued", {"day": "2026-03-01", "batch_size": 200})
    assert job.dedup_key == "dues.generate:2026-03-01:200"
    page = web.get("/desk/dues")
    assert RUN_ROW.findall(page.text) == [str(job.id)]
    assert "The dues run is queued" in text_of(page.text)
    assert f'hx-get="/desk/jobs/{job.id}/progress"' in page.text  # polls while Queued
    again = web.post(
        "/desk/dues", data={"csrf_token": token, "day": "2026-03-01", "batch_size": "200"}
    )
    assert again.status_code == 303
    assert len(dues_jobs(session)) == 1  # the queued run is the one shown, as the API


def test_an_empty_batch_size_is_the_engines_default(web, session) -> None:
    signed_in(web, TREASURER)
    page = web.get("/desk/dues")
    assert 'value="50"' in page.text  # the form offers SQLite's default
    token = form_token(web, "/desk/dues")
    response = web.post("/desk/dues", data={"csrf_token": token, "day": "", "batch_size": ""})
    assert response.status_code == 303
    [job] = dues_jobs(session)
    assert job.params == {"day": None, "batch_size": 50}


def test_an_ended_run_shows_what_it_billed_and_stops_polling(web, session) -> None:
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/dues")
    web.post("/desk/dues", data={"csrf_token": token, "day": "", "batch_size": "500"})
    [job] = dues_jobs(session)
    result = {"day": None, "schedules_billed": 3, "invoices_created": 3,
              "total_amount": "37.50", "batches": 1}  # fmt: skip
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(
            status="Completed",
            result=result,
            progress_done=3,
            progress_total=3,
            dedup_key=None,
            active_dedup_key=None,
        )
    )
    session.expire_all()
    page = web.get("/desk/dues")
    text = text_of(page.text)
    assert "3 invoices, €37.50" in text
    assert "the day it ran" in text
    assert f'hx-get="/desk/jobs/{job.id}/progress"' not in page.text
    fragment = web.get(f"/desk/jobs/{job.id}/progress")
    assert 'data-status="Completed"' in fragment.text
    assert "hx-get" not in fragment.text


BAD_FIELDS = [
    ("2026-02-30", "500", "day"),
    ("1800-01-01", "500", "day"),
    ("", "0", "batch_size"),
    ("", "10001", "batch_size"),
    ("", "ten", "batch_size"),
    ("", "-5", "batch_size"),
]


def test_a_bad_field_keeps_the_input_and_queues_nothing(web, session) -> None:
    signed_in(web, TREASURER)
    token = form_token(web, "/desk/dues")
    for day, batch_size, field in BAD_FIELDS:
        data = {"csrf_token": token, "day": day, "batch_size": batch_size}
        page = web.post("/desk/dues", data=data)
        assert page.status_code == 422, (day, batch_size)
        assert f'id="error-{field}"' in page.text, (day, batch_size)
        assert f'value="{batch_size}"' in page.text
        assert f'value="{day}"' in page.text
    assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_without_the_form_token_nothing_is_queued(web, session) -> None:
    signed_in(web, TREASURER)
    response = web.post("/desk/dues", data={"day": "", "batch_size": "500"})
    assert response.status_code == 403
    assert dues_jobs(session) == []


@pytest.mark.parametrize("login", [SECRETARY, MEMBER])
def test_only_treasurers_and_administrators_run_dues(web, session, login) -> None:
    signed_in(web, login)
    assert web.get("/desk/dues").status_code == 403
    token = form_token(web, "/desk/dues")
    refused = web.post("/desk/dues", data={"csrf_token": token, "day": "", "batch_size": "500"})
    assert refused.status_code == 403
    assert dues_jobs(session) == []


def test_a_membership_secretary_has_no_dues_link(web) -> None:
    signed_in(web, SECRETARY)
    assert 'href="/desk/dues"' not in web.get("/desk/jobs").text


def test_an_administrator_sees_every_run(web, session, browser) -> None:
    treasurer = signed_in(browser(), TREASURER)
    token = form_token(treasurer, "/desk/dues")
    treasurer.post("/desk/dues", data={"csrf_token": token, "day": "", "batch_size": "500"})
    signed_in(web, ADMINISTRATOR)
    [job] = dues_jobs(session)
    assert RUN_ROW.findall(web.get("/desk/dues").text) == [str(job.id)]
