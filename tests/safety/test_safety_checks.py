"""Each safety check catches what it watches, broken on purpose; a healthy installation passes."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from safety_factories import Installation
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from verenigingen import clock, events
from verenigingen.billing.events import PaymentSubmitted
from verenigingen.billing.models import Invoice, Payment
from verenigingen.db.session import unit_of_work
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.history.summary import recalculate
from verenigingen.indexes import catalog
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.jobs.models import Job, JobStatus
from verenigingen.safety.checks import CheckResult
from verenigingen.safety.models import SafetyRun, Trigger
from verenigingen.safety.probe import percentile
from verenigingen.safety.runner import RunReport, run_checks
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.settings.service import set_setting
from verenigingen.web.health import last_safety_run


def check(run: RunReport, name: str) -> CheckResult:
    (found,) = [c for c in run.checks if c.name == name]
    return found


def run(installation: Installation) -> RunReport:
    return run_checks(installation.context, installation.admin(), trigger=Trigger.COMMAND)


def setting(installation: Installation, name: str, value: object) -> None:
    with unit_of_work(installation.context.sessions) as session:
        set_setting(session, installation.admin(), name, value)


def test_a_healthy_installation_passes_every_check_and_the_run_is_recorded(
    installation: Installation,
) -> None:
    installation.read_history()
    report = run(installation)
    assert [(c.name, c.passed) for c in report.checks] == [
        ("job health", True),
        ("cache consistency", True),
        ("payment data integrity", True),
        ("index health", True),
        ("handler performance", True),
    ]
    assert (report.passed, report.critical_failed) == (True, False)
    assert check(report, "cache consistency").figures["compared"] == 1
    assert check(report, "handler performance").figures["probes"] == 1
    with installation.context.read_sessions() as session:
        stored = session.get_one(SafetyRun, report.id)
        assert (stored.trigger, stored.passed, len(stored.checks)) == ("command", True, 5)
        # The probe wrote nothing: no payment, the invoice still owes 30.00.
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
        invoice = session.get_one(Invoice, installation.invoice_id)
        assert invoice.outstanding_amount == Decimal("30.00")
        glance = last_safety_run(session)
    assert glance is not None
    assert (glance.passed, glance.failed_checks) == (True, ())


def test_a_write_that_forgot_to_bump_a_tag_is_a_cache_mismatch(
    installation: Installation,
) -> None:
    installation.read_history()
    # A mandate written straight to the table: no event, so no tag bump; the cached history
    # still carries the current versions but no longer shows what the ledger holds.
    with unit_of_work(installation.context.sessions) as session:
        session.add(
            SepaMandate(
                mandate_reference="MANDATE-STALE-1",
                member_id=installation.member_id,
                account_holder="A. Visser",
                iban="NL91ABNA0417164300",
                sign_date=dt.date(2026, 1, 5),
                status=MandateStatus.ACTIVE,
            )
        )
    report = run(installation)
    cache = check(report, "cache consistency")
    assert (cache.passed, cache.critical) == (False, True)
    assert cache.figures["mismatches"] == 1
    assert f"member {installation.member_id}'s cached history differs" in cache.message
    assert report.critical_failed


def test_an_entry_whose_versions_moved_on_is_no_mismatch(installation: Installation) -> None:
    installation.read_history()
    with unit_of_work(installation.context.sessions) as session:
        from verenigingen.cache import bump_tags

        bump_tags(session, [f"member:{installation.member_id}"])
        session.execute(
            update(Invoice)
            .where(Invoice.id == installation.invoice_id)
            .values(remarks="changed with its tag bumped")
        )
    cache = check(run(installation), "cache consistency")
    assert cache.passed
    assert (cache.figures["compared"], cache.figures["outdated_not_served"]) == (0, 1)


def test_a_corrupted_outstanding_amount_fails_the_integrity_check(
    installation: Installation,
) -> None:
    with unit_of_work(installation.context.sessions) as session:
        session.execute(
            update(Invoice)
            .where(Invoice.id == installation.invoice_id)
            .values(outstanding_amount=Decimal("12.00"))
        )
    integrity = check(run(installation), "payment data integrity")
    assert (integrity.passed, integrity.critical) == (False, True)
    assert integrity.figures["ledger_violations"] == 1
    assert "outstanding 12.00, expected 30.00" in integrity.message


def test_a_summary_that_differs_from_the_ledger_fails_the_integrity_check(
    installation: Installation,
) -> None:
    with unit_of_work(installation.context.sessions) as session:
        recalculate(session, installation.customer_id)
    assert check(run(installation), "payment data integrity").figures["summaries_compared"] == 1
    with unit_of_work(installation.context.sessions) as session:
        session.execute(
            update(MemberFinancialSummary)
            .where(MemberFinancialSummary.member_id == installation.member_id)
            .values(outstanding=Decimal("99.00"))
        )
    integrity = check(run(installation), "payment data integrity")
    assert not integrity.passed
    assert integrity.figures == {
        "ledger_violations": 0,
        "summaries_compared": 1,
        "summary_mismatches": 1,
    }
    # The invoice's delta job is still Queued: the ledger minus that pending delta owes 0.00.
    assert "outstanding 99.00, the ledger says 0.00" in integrity.message


def test_a_strategic_index_built_outside_the_manager_is_unrecorded(
    installation: Installation,
) -> None:
    spec = catalog.STRATEGIC[0]
    with installation.context.database.begin() as connection:
        connection.execute(
            text(f"CREATE INDEX {spec.name} ON {spec.table} ({', '.join(spec.columns)})")
        )
    health = check(run(installation), "index health")
    assert (health.passed, health.critical) == (False, True)
    assert health.message == f"{spec.name} exists but the index ledger has no record of it"


def test_a_strategic_index_the_ledger_says_is_invalid_fails(installation: Installation) -> None:
    spec = catalog.STRATEGIC[1]
    with unit_of_work(installation.context.sessions) as session:
        session.add(
            IndexChange(
                dialect="sqlite",
                table_name=spec.table,
                index_name=spec.name,
                columns=list(spec.columns),
                ddl="CREATE INDEX ...",
                inverse_ddl="DROP INDEX ...",
                state=IndexState.INVALID,
                requested_by="admin@example.org",
            )
        )
    health = check(run(installation), "index health")
    assert not health.passed
    assert f"{spec.name} is invalid" in health.message


@pytest.fixture
def jobs_now(installation: Installation) -> dt.datetime:
    return clock.now()


def _job(session: Session, user_id: int, status: JobStatus, **values: object) -> None:
    session.add(
        Job(
            name="history.apply_summary_delta",
            queue="default",
            params={},
            user_id=user_id,
            status=status,
            timeout=300,
            **values,
        )
    )


def test_a_job_stuck_running_past_its_lease_fails_job_health(
    installation: Installation, jobs_now: dt.datetime
) -> None:
    with unit_of_work(installation.context.sessions) as session:
        _job(
            session,
            installation.admin_id,
            JobStatus.RUNNING,
            lease_until=jobs_now - dt.timedelta(minutes=5),
        )
    health = check(run(installation), "job health")
    assert (health.passed, health.critical) == (False, True)
    assert health.figures["running_past_lease"] == 1
    assert "1 Running job(s) past their lease" in health.message


def test_a_failure_rate_above_the_limit_fails_job_health(
    installation: Installation, jobs_now: dt.datetime
) -> None:
    with unit_of_work(installation.context.sessions) as session:
        for status in (JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.COMPLETED):
            _job(
                session,
                installation.admin_id,
                status,
                finished_at=jobs_now - dt.timedelta(minutes=10),
            )
        # Failed two hours ago: outside the last hour, not counted.
        _job(
            session,
            installation.admin_id,
            JobStatus.FAILED,
            finished_at=jobs_now - dt.timedelta(hours=2),
        )
    health = check(run(installation), "job health")
    assert not health.passed
    assert (health.figures["failed_last_hour"], health.figures["finished_last_hour"]) == (1, 3)
    assert health.figures["failure_rate_percent"] == "33.33"
    setting(installation, "safety_job_failure_rate_percent", "50")
    assert check(run(installation), "job health").passed


def test_a_backlog_older_than_the_limit_fails_job_health(
    installation: Installation, jobs_now: dt.datetime
) -> None:
    with unit_of_work(installation.context.sessions) as session:
        session.execute(update(Job).values(status=JobStatus.COMPLETED, finished_at=jobs_now))
        _job(
            session,
            installation.admin_id,
            JobStatus.QUEUED,
            created_at=jobs_now - dt.timedelta(hours=1),
        )
    health = check(run(installation), "job health")
    assert not health.passed
    assert "the oldest due job has waited 3600 s (limit 600 s)" in health.message


def test_a_slow_payment_handler_fails_the_performance_check_and_writes_nothing(
    installation: Installation,
) -> None:
    def slow(session: Session, event: PaymentSubmitted) -> list[object]:
        time.sleep(0.06)
        return []

    events.subscriber(PaymentSubmitted)(slow)  # type: ignore[arg-type]
    try:
        setting(installation, "safety_payment_submit_p95_ms", 40)
        performance = check(run(installation), "handler performance")
    finally:
        events._subscribers[PaymentSubmitted].remove(slow)  # type: ignore[arg-type]
    assert (performance.passed, performance.critical) == (False, False)
    assert isinstance(performance.figures["p95_ms"], float)
    assert performance.figures["p95_ms"] >= 60
    assert "above the 40 ms limit" in performance.message
    with installation.context.read_sessions() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
    # Without the slow handler, and with a limit no busy machine reaches: the check passes.
    # (Only the failing side relies on time, and only on its lower bound: the sleep.)
    setting(installation, "safety_payment_submit_p95_ms", 60_000)
    assert check(run(installation), "handler performance").passed


def test_no_probe_runs_when_the_setting_is_zero(installation: Installation) -> None:
    setting(installation, "safety_submit_probes", 0)
    performance = check(run(installation), "handler performance")
    assert performance.passed
    assert performance.message == "skipped: safety_submit_probes is 0"


def test_the_percentile_is_the_nearest_rank() -> None:
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(n) for n in range(1, 21)], 0.95) == 19.0
    assert percentile([float(n) for n in range(1, 101)], 0.5) == 50.0
