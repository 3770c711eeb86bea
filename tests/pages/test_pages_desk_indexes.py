"""The strategic indexes on the desk's performance page: their state in the ledger with when, by
whom and their impact; measure, roll back (after a confirmation) and build again, queued as
jobs. Run on SQLite and PostgreSQL, the jobs drop and build the index in the database's catalog
and record each step in the ledger. Administrators only; a forged form queues nothing."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest_pages import form_token, make_login, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from contexts import context_on
from server_databases import committed_engine_on
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role
from verenigingen.db.session import unit_of_work
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.perf.capture import capture
from verenigingen.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indexes"))
from index_helpers import indexes_on, ledger, seed_invoices

INVOICES = "ixm_invoice_customer_status_posting"
MANDATES = "ixm_sepa_mandate_member_status_created"
ALLOCATIONS = "ix_payment_allocation_invoice_id"
PERFORMANCE = "/desk/performance#indexes-heading"


def index_jobs(session: Session) -> list[tuple[str, dict[str, object]]]:
    jobs = session.scalars(select(Job).where(Job.name.like("indexes.%")).order_by(Job.id))
    return [(job.name, job.params) for job in jobs]


def rows_of(html: str) -> dict[str, tuple[str, str]]:
    """Each strategic index's row: its state and its text."""
    rows = re.findall(r'<tr data-index="(\w+)" data-state="(\w+)">(.*?)</tr>', html, re.S)
    return {name: (state, text_of(row)) for name, state, row in rows}


def entry(session: Session, name: str, state: str, **values: object) -> IndexChange:
    change = IndexChange(
        dialect="sqlite", table_name="invoice", index_name=name, columns=["customer_id"],
        ddl="CREATE INDEX ...", inverse_ddl="DROP INDEX ...", state=state,
        requested_by=ADMINISTRATOR, **values,
    )  # fmt: skip
    session.add(change)
    session.flush()
    return change


class TestOnThePage:
    """In the test's transaction: what the page shows and what each button queues."""

    @pytest.fixture(autouse=True)
    def logins(self, session: Session, frozen_today: dt.date, job_engine: object) -> None:
        staff(session)

    def test_each_strategic_index_with_its_state(self, web, session) -> None:
        entry(session, INVOICES, IndexState.VALID, timings_before={"1. S": 4.0},
              timings_after={"1. S": 1.0}, finished_at=dt.datetime(2026, 3, 1, 10))  # fmt: skip
        entry(session, MANDATES, IndexState.ROLLED_BACK,
              rolled_back_at=dt.datetime(2026, 3, 2, 9))  # fmt: skip
        signed_in(web, ADMINISTRATOR)
        with capture() as queries:
            page = web.get("/desk/performance")
        assert queries.count == 5
        rows = rows_of(page.text)
        assert list(rows) == [INVOICES, ALLOCATIONS, MANDATES]
        state, text = rows[INVOICES]
        assert state == "valid"
        assert "created" in text
        assert ADMINISTRATOR in text
        assert "75 %" in text
        assert f'href="/desk/performance/indexes/{INVOICES}/rollback"' in page.text
        assert f'action="/desk/performance/indexes/{INVOICES}/impact"' in page.text
        state, text = rows[MANDATES]
        assert (state, "rolled back" in text, "not measured" in text) == ("rolled_back", True, True)
        assert f'href="/desk/performance/indexes/{MANDATES}/add"' in page.text
        assert "Re-create" in text
        assert f"/indexes/{MANDATES}/rollback" not in page.text
        state, text = rows[ALLOCATIONS]
        assert (state, "declared by the models" in text) == ("declared", True)
        assert f'action="/desk/performance/indexes/{ALLOCATIONS}/impact"' in page.text
        assert f"/indexes/{ALLOCATIONS}/rollback" not in page.text
        assert f"/indexes/{ALLOCATIONS}/add" not in page.text

    def test_an_index_never_built_is_offered_to_create(self, web) -> None:
        signed_in(web, ADMINISTRATOR)
        state, text = rows_of(web.get("/desk/performance").text)[INVOICES]
        assert (state, "not created" in text, "Create" in text) == ("absent", True, True)

    def test_measure_impact_queues_one_job_whose_progress_shows(self, web, session) -> None:
        signed_in(web, ADMINISTRATOR)
        token = form_token(web, "/desk/performance")
        response = web.post(f"/desk/performance/indexes/{ALLOCATIONS}/impact",
                            data={"csrf_token": token})  # fmt: skip
        assert response.status_code == 303
        assert response.headers["location"] == PERFORMANCE
        assert index_jobs(session) == [("indexes.measure_impact", {"index": ALLOCATIONS})]
        again = web.post(f"/desk/performance/indexes/{ALLOCATIONS}/impact",
                         data={"csrf_token": token})  # fmt: skip
        assert again.status_code == 303
        assert len(index_jobs(session)) == 1  # the waiting job is the same job
        page = web.get(PERFORMANCE)
        assert "being measured as a job" in text_of(page.text)
        _state, text = rows_of(page.text)[ALLOCATIONS]
        assert "indexes.measure_impact" in text
        assert "Queued" in text
        assert "Measure impact" not in text  # no second button while it waits

    def test_rollback_after_its_confirmation(self, web, session) -> None:
        entry(session, INVOICES, IndexState.VALID)
        signed_in(web, ADMINISTRATOR)
        with capture() as queries:
            confirmation = web.get(f"/desk/performance/indexes/{INVOICES}/rollback")
        assert confirmation.status_code == 200
        assert queries.count == 3  # the sign-in, the ledger, the jobs
        assert f"Roll back {INVOICES} on invoice" in text_of(confirmation.text)
        token = form_token(web, f"/desk/performance/indexes/{INVOICES}/rollback")
        unconfirmed = web.post(f"/desk/performance/indexes/{INVOICES}/rollback",
                               data={"csrf_token": token})  # fmt: skip
        assert unconfirmed.status_code == 303
        assert unconfirmed.headers["location"] == f"/desk/performance/indexes/{INVOICES}/rollback"
        assert index_jobs(session) == []
        confirmed = web.post(f"/desk/performance/indexes/{INVOICES}/rollback",
                             data={"csrf_token": token, "confirmed": "yes"})  # fmt: skip
        assert confirmed.headers["location"] == PERFORMANCE
        assert index_jobs(session) == [("indexes.rollback", {"index": INVOICES})]

    def test_build_again_after_its_confirmation(self, web, session) -> None:
        entry(session, INVOICES, IndexState.ROLLED_BACK)
        signed_in(web, ADMINISTRATOR)
        page = web.get(f"/desk/performance/indexes/{INVOICES}/add")
        assert f"Build {INVOICES} on invoice" in text_of(page.text)
        token = form_token(web, f"/desk/performance/indexes/{INVOICES}/add")
        web.post(f"/desk/performance/indexes/{INVOICES}/add",
                 data={"csrf_token": token, "confirmed": "yes"})  # fmt: skip
        assert index_jobs(session) == [("indexes.add", {"index": INVOICES})]

    @pytest.mark.parametrize(
        ("name", "state", "action"),
        [
            (INVOICES, IndexState.VALID, "add"),  # built already
            (INVOICES, IndexState.ROLLED_BACK, "rollback"),  # rolled back already
            (INVOICES, None, "rollback"),  # never added by the manager
            (ALLOCATIONS, None, "rollback"),  # the models' own: a migration's
            (ALLOCATIONS, None, "add"),
            (INVOICES, IndexState.ROLLED_BACK, "impact"),  # not there to measure
        ],
    )
    def test_an_action_the_state_refuses_queues_nothing(
        self, web, session, name, state, action
    ) -> None:
        if state is not None:
            entry(session, name, state)
        signed_in(web, ADMINISTRATOR)
        token = form_token(web, "/desk/performance")
        if action != "impact":
            shown = web.get(f"/desk/performance/indexes/{name}/{action}")
            assert (shown.status_code, shown.headers["location"]) == (303, PERFORMANCE)
        response = web.post(f"/desk/performance/indexes/{name}/{action}",
                            data={"csrf_token": token, "confirmed": "yes"})  # fmt: skip
        assert (response.status_code, response.headers["location"]) == (303, PERFORMANCE)
        assert "does not allow that now" in text_of(web.get(PERFORMANCE).text)
        assert index_jobs(session) == []

    def test_an_unknown_index_is_404(self, web, session) -> None:
        signed_in(web, ADMINISTRATOR)
        token = form_token(web, "/desk/performance")
        assert web.get("/desk/performance/indexes/ixm_nothing/rollback").status_code == 404
        for action in ("impact", "rollback", "add"):
            response = web.post(f"/desk/performance/indexes/ixm_nothing/{action}",
                                data={"csrf_token": token, "confirmed": "yes"})  # fmt: skip
            assert response.status_code == 404
        too_long = web.post(f"/desk/performance/indexes/{'x' * 80}/add",
                            data={"csrf_token": token, "confirmed": "yes"})  # fmt: skip
        assert too_long.status_code == 422
        assert index_jobs(session) == []

    def test_without_the_form_token_nothing_is_queued(self, web, session) -> None:
        entry(session, INVOICES, IndexState.VALID)
        signed_in(web, ADMINISTRATOR)
        base = f"/desk/performance/indexes/{INVOICES}"
        assert web.post(f"{base}/impact", data={}).status_code == 403
        assert web.post(f"{base}/rollback", data={"confirmed": "yes"}).status_code == 403
        forged = web.post(f"{base}/rollback", data={"confirmed": "yes", "csrf_token": "0" * 64})
        assert forged.status_code == 403
        assert index_jobs(session) == []

    @pytest.mark.parametrize("login", [TREASURER, SECRETARY, MEMBER])
    def test_administrators_only(self, web, session, login) -> None:
        entry(session, INVOICES, IndexState.VALID)
        signed_in(web, login)
        token = form_token(web, "/desk/jobs" if login != MEMBER else "/portal")
        base = f"/desk/performance/indexes/{INVOICES}"
        assert web.get(f"{base}/rollback").status_code == 403
        assert web.post(f"{base}/impact", data={"csrf_token": token}).status_code == 403
        for action in ("rollback", "add"):
            response = web.post(f"{base}/{action}", data={"csrf_token": token, "confirmed": "yes"})
            assert response.status_code == 403
        assert index_jobs(session) == []


@dataclass
class Installation:
    engine: Engine
    context: AppContext
    client: TestClient

    def press(self, path: str, **data: str) -> int:
        """Post the page's form at ``path`` and run the job it queued, as a worker would."""
        token = form_token(self.client, "/desk/performance")
        response = self.client.post(path, data={"csrf_token": token, **data})
        assert (response.status_code, response.headers["location"]) == (303, PERFORMANCE)
        with self.context.read_sessions() as session:
            job_id = session.scalars(select(Job.id).order_by(Job.id.desc())).first()
        assert job_id is not None
        runtime = Runtime(self.context.sessions, self.context.settings)
        assert run_job(runtime, job_id) is RunOutcome.COMPLETED
        with self.context.read_sessions() as session:
            assert session.get_one(Job, job_id).status == JobStatus.COMPLETED.value
        return job_id

    def row(self, name: str) -> tuple[str, str]:
        return rows_of(self.client.get("/desk/performance").text)[name]


@pytest.fixture(params=["sqlite", "postgres"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    """A committed database with invoices and an administrator signed in to the desk."""
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("fresh_sqlite")
        engines: Iterator[Engine] = iter(())
    else:
        engines = committed_engine_on("VERENIGINGEN_TEST_POSTGRES_URL")
        engine = next(engines)
    context = context_on(engine)
    with unit_of_work(context.sessions) as session:
        make_login(session, ADMINISTRATOR, Role.ADMINISTRATOR)
    seed_invoices(engine, customers=20, per_customer=50)
    client = TestClient(
        create_app(context),
        headers={"accept": "text/html", "accept-language": "en"},
        follow_redirects=False,
    )
    try:
        signed_in(client, ADMINISTRATOR)
        yield Installation(engine, context, client)
    finally:
        client.close()
        context.jobs.close()
        for _rest in engines:  # drops the throw-away database
            pass


def test_build_measure_roll_back_and_build_again(installation: Installation) -> None:
    engine, base = installation.engine, f"/desk/performance/indexes/{INVOICES}"
    assert INVOICES not in indexes_on(engine, "invoice")

    installation.press(f"{base}/add", confirmed="yes")
    assert indexes_on(engine, "invoice")[INVOICES].valid
    assert [(c.index_name, c.state, c.requested_by) for c in ledger(engine)] == [
        (INVOICES, IndexState.VALID, ADMINISTRATOR)
    ]
    assert installation.row(INVOICES)[0] == "valid"

    installation.press(f"{base}/impact")
    (measured,) = ledger(engine)
    assert measured.timings_before
    assert measured.timings_after
    assert "not measured" not in installation.row(INVOICES)[1]

    installation.press(f"{base}/rollback", confirmed="yes")
    assert INVOICES not in indexes_on(engine, "invoice")
    (rolled,) = ledger(engine)
    assert (rolled.state, rolled.rolled_back_at is not None) == (IndexState.ROLLED_BACK, True)
    state, text = installation.row(INVOICES)
    assert (state, "rolled back" in text) == ("rolled_back", True)

    installation.press(f"{base}/add", confirmed="yes")
    assert indexes_on(engine, "invoice")[INVOICES].valid
    assert [c.state for c in ledger(engine)] == [IndexState.ROLLED_BACK, IndexState.VALID]
    assert installation.row(INVOICES)[0] == "valid"
