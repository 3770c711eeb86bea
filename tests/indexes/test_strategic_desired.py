"""``strategic_indexes`` is applied live: flipping it through the API queues the index manager's
job, which builds the strategic indexes online or rolls them back, each recorded in the index
ledger; between two requests the indexes appear and disappear (SQLite and PostgreSQL, committed
databases of their own). A bad value is a 422 that queues nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from index_helpers import indexes_on, ledger, seed_invoices
from sqlalchemy import Engine, select

from contexts import context_on
from server_databases import committed_engine_on
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user, issue_token
from verenigingen.db.session import unit_of_work
from verenigingen.indexes import catalog
from verenigingen.indexes.desired import apply_strategic_indexes
from verenigingen.indexes.models import IndexState
from verenigingen.indexes.tasks import APPLY_STRATEGIC
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.jobs.outcomes import RunOutcome
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.web.app import create_app

SETTING = "/api/v1/settings/strategic_indexes"
MANAGED = [spec for spec in catalog.STRATEGIC if not spec.declared_by_models]
DECLARED = [spec for spec in catalog.STRATEGIC if spec.declared_by_models]


@dataclass
class Installation:
    engine: Engine
    context: AppContext
    client: TestClient
    admin_id: int

    def apply_jobs(self) -> list[Job]:
        with self.context.read_sessions() as session:
            jobs = list(session.scalars(select(Job).where(Job.name == APPLY_STRATEGIC)))
            session.expunge_all()
            return jobs

    def run(self, job_id: int) -> Job:
        """Run the job as a worker would, and the job as it ended."""
        runtime = Runtime(self.context.sessions, self.context.settings)
        assert run_job(runtime, job_id) is RunOutcome.COMPLETED
        with self.context.read_sessions() as session:
            job = session.get_one(Job, job_id)
            session.expunge(job)
            return job

    def present(self) -> set[str]:
        tables = {spec.table for spec in catalog.STRATEGIC}
        return {name for table in tables for name in indexes_on(self.engine, table)}


@pytest.fixture(params=["sqlite", "postgres"])
def installation(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Installation]:
    if request.param == "sqlite":
        engine: Engine = request.getfixturevalue("fresh_sqlite")
        engines: Iterator[Engine] = iter(())
    else:
        engines = committed_engine_on("VERENIGINGEN_TEST_POSTGRES_URL")
        engine = next(engines)
    context = context_on(engine)
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, "beheer@example.org", Role.ADMINISTRATOR)
        token = issue_token(session, admin)
        admin_id = admin.id
    seed_invoices(engine, customers=5, per_customer=20)
    client = TestClient(create_app(context), headers={"Authorization": f"Bearer {token}"})
    try:
        yield Installation(engine, context, client, admin_id)
    finally:
        context.close()
        for _rest in engines:  # the server database dropped
            pass


def test_flipping_the_setting_builds_and_rolls_back_the_indexes_each_recorded(
    installation: Installation,
) -> None:
    managed = {spec.name for spec in MANAGED}
    assert not managed & installation.present()

    on = installation.client.put(SETTING, json={"value": True})
    assert (on.status_code, on.json()["value"]) == (200, True)
    [job] = installation.apply_jobs()  # queued with the change, in its transaction
    assert (job.status, job.params) == (JobStatus.QUEUED.value, {})
    done = installation.run(job.id)
    assert done.result["present"] is True
    assert sorted(done.result["rounds"][0]["built"]) == sorted(managed)
    assert managed <= installation.present()
    assert {spec.name for spec in DECLARED} <= installation.present()  # the models' own, kept
    built = ledger(installation.engine)
    assert sorted((c.index_name, c.state) for c in built) == sorted(
        (name, IndexState.VALID.value) for name in managed
    )
    assert {c.requested_by for c in built} == {"beheer@example.org"}

    off = installation.client.put(SETTING, json={"value": False})
    assert off.status_code == 200
    second = installation.apply_jobs()[-1]
    assert second.id != job.id
    done = installation.run(second.id)
    assert sorted(done.result["rounds"][0]["rolled_back"]) == sorted(managed)
    assert not managed & installation.present()
    assert {spec.name for spec in DECLARED} <= installation.present()  # never dropped
    assert sorted((c.index_name, c.state) for c in ledger(installation.engine)) == sorted(
        (name, IndexState.ROLLED_BACK.value) for name in managed
    )


def test_a_reset_to_the_default_applies_the_default(installation: Installation) -> None:
    installation.client.put(SETTING, json={"value": True})
    installation.run(installation.apply_jobs()[-1].id)
    reset = installation.client.delete(SETTING)
    assert (reset.status_code, reset.json()["value"]) == (200, False)
    installation.run(installation.apply_jobs()[-1].id)
    assert not {spec.name for spec in MANAGED} & installation.present()


def test_a_change_while_the_job_waits_is_the_same_job_and_the_state_it_finds_is_applied(
    installation: Installation,
) -> None:
    installation.client.put(SETTING, json={"value": True})
    installation.client.put(SETTING, json={"value": False})
    installation.client.put(SETTING, json={"value": True})
    [job] = installation.apply_jobs()  # one job while it waits
    done = installation.run(job.id)
    assert done.result["present"] is True
    assert {spec.name for spec in MANAGED} <= installation.present()
    # The same value again is no change: nothing queued.
    installation.client.put(SETTING, json={"value": True})
    assert len(installation.apply_jobs()) == 1


def test_a_change_made_while_the_job_runs_is_applied_by_it(installation: Installation) -> None:
    installation.client.put(SETTING, json={"value": True})
    [job] = installation.apply_jobs()
    flipped = threading.Event()
    original = apply_strategic_indexes

    def then_flip(*args: object, **kwargs: object) -> object:
        state = original(*args, **kwargs)  # type: ignore[arg-type]
        if not flipped.is_set():
            flipped.set()
            # Another administrator turns it off while the job is Running: the dedup key
            # returns this job, which must then apply the newer state itself.
            off = installation.client.put(SETTING, json={"value": False})
            assert off.status_code == 200
        return state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("verenigingen.indexes.desired.apply_strategic_indexes", then_flip)
        done = installation.run(job.id)
    assert [r["present"] for r in done.result["rounds"]] == [True, False]
    assert len(installation.apply_jobs()) == 1
    assert not {spec.name for spec in MANAGED} & installation.present()


@pytest.mark.parametrize("value", ["maybe", 1, None, [True]])
def test_a_bad_value_is_422_and_queues_nothing(installation: Installation, value: object) -> None:
    response = installation.client.put(SETTING, json={"value": value})
    assert response.status_code == 422
    assert response.json()["error"] in {"invalid_setting_value", "validation_failed"}
    assert installation.apply_jobs() == []
    assert ledger(installation.engine) == []


def test_only_an_administrator_may_apply_a_state(installation: Installation) -> None:
    with unit_of_work(installation.context.sessions) as session:
        treasurer = create_user(session, "kas@example.org", Role.TREASURER)
    with pytest.raises(Exception, match="administrator"):
        apply_strategic_indexes(installation.engine, treasurer, present=True)
    assert ledger(installation.engine) == []
    with installation.context.read_sessions() as session:
        assert session.get_one(User, installation.admin_id).role == Role.ADMINISTRATOR
