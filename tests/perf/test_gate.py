"""``perf check``: passes on its own baseline, fails on a planted query, refuses bad baselines."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from verenigingen.auth.models import User
from verenigingen.cli.app import app
from verenigingen.members.models import Customer, Member
from verenigingen.perf import gate, nplusone
from verenigingen.perf.baseline import QueryMetrics, load_baseline
from verenigingen.perf.capture import Frame, capture
from verenigingen.perf.workloads import get_workload, registry
from verenigingen.perf.workloads.database import DemoDatabase

WORKLOAD = "member_update"
QUICK = ["--workload", WORKLOAD, "--iterations", "3", "--repeat", "1"]


@pytest.fixture
def baseline(perf_settings: Path, tmp_path: Path) -> Path:
    path = tmp_path / "baseline.json"
    result = _check(path, "--update")
    assert result.exit_code == 0, result.output
    return path


def _check(path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["perf", "check", "--baseline", str(path), *QUICK, *args])


def _rewrite(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def test_check_passes_against_the_baseline_it_just_wrote(baseline: Path) -> None:
    recorded = load_baseline(baseline)
    entry = recorded["workloads"][WORKLOAD]
    assert entry["iterations"] == 3
    assert entry["queries"] == 6  # lock the member, update it: two statements per change
    assert entry["scaling"] == []
    result = _check(baseline)
    assert result.exit_code == 0, result.output
    assert "perf check passed" in result.output


@pytest.fixture
def planted_query(monkeypatch: pytest.MonkeyPatch) -> None:
    """member_update sends one more SELECT per change, as a careless edit would."""
    original = get_workload(WORKLOAD)

    def step_with_an_extra_query(session: Session, user: User, item: Any) -> object:
        session.scalar(select(func.count(Member.id)).where(Member.id == item.member_id))
        return original.step(session, user, item)

    monkeypatch.setitem(
        registry._workloads, WORKLOAD, dataclasses.replace(original, step=step_with_an_extra_query)
    )


def test_a_planted_query_fails_with_the_statement_and_its_call_site(
    baseline: Path, planted_query: None
) -> None:
    result = _check(baseline)
    assert result.exit_code == 1, result.output
    assert "perf check failed" in result.output
    assert "new statement" in result.output
    assert "SELECT count(member.id)" in result.output
    assert "tests/perf/test_gate.py" in result.output
    assert "step_with_an_extra_query" in result.output
    assert "queries" in result.output  # the total moved too: 6 -> 9


def test_more_executions_than_the_tolerance_fail_and_within_it_pass(baseline: Path) -> None:
    def fewer_updates(document: dict[str, Any]) -> None:
        for fingerprint in document["workloads"][WORKLOAD]["fingerprints"].values():
            if fingerprint["fingerprint"].startswith("UPDATE member"):
                fingerprint["count"] -= 1  # the baseline had 2 where this run sends 3

    _rewrite(baseline, fewer_updates)
    result = _check(baseline)
    assert result.exit_code == 1
    assert "executions" in result.output
    assert "UPDATE member" in result.output
    assert "+50.0%" in result.output
    assert _check(baseline, "--tolerance", "0.5").exit_code == 0


def test_a_baseline_from_another_environment_is_refused(baseline: Path) -> None:
    _rewrite(baseline, lambda d: d["environment_key"].update(python="3.9"))
    result = _check(baseline)
    assert result.exit_code == 2
    assert "another environment" in result.output
    assert "python 3.9" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no baseline at"),
        ("{not json", "is not valid JSON"),
        ('{"format": 1, "workloads": {}}', "environment_key is missing"),
        ("[]", "not a perf baseline"),
    ],
)
def test_a_missing_or_corrupt_baseline_is_refused(
    perf_settings: Path, tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    result = _check(path)
    assert result.exit_code == 2
    assert message in result.output


def test_another_size_than_the_baseline_is_refused(baseline: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["perf", "check", "--baseline", str(baseline), "--workload", WORKLOAD, "--repeat", "1"],
    )
    assert result.exit_code == 2
    assert "units of work" in result.output


def test_check_of_an_unknown_workload_lists_the_valid_names(perf_settings: Path) -> None:
    result = CliRunner().invoke(app, ["perf", "check", "--workload", "payroll"])
    assert result.exit_code == 2
    assert "valid names:" in result.output
    assert "sepa_mandate_workflow" in result.output


def _measurement(scaling: list[nplusone.Finding]) -> gate.GateMeasurement:
    return gate.GateMeasurement(
        workload=WORKLOAD,
        iterations=3,
        metrics=QueryMetrics(0, 0, {}),
        scaling=scaling,
        wall_ms=[1.0],
        calibration_ms=[1.0],
        stable=True,
    )


def test_a_new_statement_that_grows_with_the_association_always_fails() -> None:
    finding = nplusone.Finding(
        pattern=nplusone.GROWS_WITH_N,
        fingerprint="SELECT invoice.id FROM invoice WHERE invoice.customer_id = ?",
        example_sql="SELECT invoice.id FROM invoice WHERE invoice.customer_id = ?",
        count=40,
        slope=0.2,
        call_site=(Frame("src/verenigingen/billing/queries.py", 10, "history"),),
        hint="load the invoices of all customers in one IN query",
    )
    recorded = {
        "workloads": {
            WORKLOAD: {"iterations": 3, "queries": 0, "rows": 0, "fingerprints": {}, "scaling": []}
        }
    }
    options: dict[str, Any] = {
        "tolerance": 10.0,  # even a huge tolerance does not let it through
        "timing": False,
        "timing_tolerance": 0.25,
        "all_workloads": True,
    }
    verdict = gate.compare(recorded, [_measurement([finding])], **options)
    assert not verdict.passed
    (change,) = verdict.regressions
    assert change.metric == "grows with N"
    assert change.call_site == ["src/verenigingen/billing/queries.py:10 in history"]
    recorded["workloads"][WORKLOAD]["scaling"] = [finding.to_dict()]
    assert gate.compare(recorded, [_measurement([finding])], **options).passed


def test_the_product_workloads_do_not_grow_with_the_association(
    large_demo: DemoDatabase, small_demo: DemoDatabase
) -> None:
    workloads = [get_workload(name) for name in registry.workload_names()]
    for measurement in gate.measure(workloads, large_demo, small_demo, repeat=1, iterations=3):
        assert measurement.scaling == [], measurement.workload
        assert measurement.stable


def test_a_multi_row_insert_keeps_one_fingerprint_whatever_its_rows(session: Session) -> None:
    # The gate counts executions per fingerprint and the scale check compares them across sizes:
    # a statement sent once per action must not split by how many rows it happens to carry.
    def customers(count: int, start: int) -> list[dict[str, str]]:
        return [{"debtor_number": f"MR-{start + i}", "name": "Klant"} for i in range(count)]

    with capture() as log:
        session.execute(insert(Customer).values(customers(2, 0)))
        session.execute(insert(Customer).values(customers(3, 10)))
    two, three = log.queries
    assert two.fingerprint == three.fingerprint
    assert two.fingerprint.count("(?, ?") == 1
    assert two.sql != three.sql  # the SQL as sent keeps its rows
