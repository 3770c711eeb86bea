"""``perf validate``: the three reports from a real (tiny) run, and a planted miss that fails it.

The runs use the plan's code paths at small sizes (``--quick``, 40 members, 200 requests to the
``serve`` process, one workload against the committed baseline). Their timings are not the
point here, so the thresholds are set where a run this small passes them all; the planted miss
then raises one of them past reach and the run must fail naming it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from verenigingen.cli.app import app
from verenigingen.perf.validation import criteria
from verenigingen.perf.validation.criteria import Thresholds

BASELINE = Path(__file__).resolve().parents[2] / "perf" / "baseline.json"
REACHABLE = Thresholds(
    payment_speedup=0.0,
    statement_reduction=-1.0,
    cache_hit_rate=-1.0,
    job_success_rate=-1.0,
    index_improvement=-1.0,
    memory_mb=100_000.0,
)
CRITERIA = [
    "payment_speed",
    "statements",
    "cache_hit_rate",
    "job_success",
    "index_impact",
    "memory",
    "smoke",
    "baseline",
]


def _validate(out: Path) -> Result:
    return CliRunner().invoke(
        app,
        [
            "perf",
            "validate",
            "--out",
            str(out),
            "--members",
            "40",
            "--requests",
            "200",
            "--quick",
            "--baseline",
            str(BASELINE),
            "--baseline-workload",
            "member_update",
        ],
    )


def _report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "validation_report.json").read_text())
    return data


@pytest.fixture
def reachable(monkeypatch: pytest.MonkeyPatch, perf_settings: Path) -> None:
    monkeypatch.setattr(criteria, "PLAN", REACHABLE)


def test_a_real_run_writes_the_three_reports(reachable: None, tmp_path: Path) -> None:
    result = _validate(tmp_path)

    assert result.exit_code == 0, result.output
    assert "perf validate passed" in result.output
    data = _report(tmp_path)
    assert data["passed"] is True
    assert [c["key"] for c in data["criteria"]] == CRITERIA
    # Both sides answered the same requests: as many on one side as on the other.
    for kind, sides in data["operations"].items():
        assert sides["off"]["requests"] == sides["on"]["requests"] > 0, kind
    # Deferral off runs the follow-up work in the POST: more statements than deferred.
    payment = data["operations"]["payment POST"]
    assert payment["off"]["statements_per_request"] > payment["on"]["statements_per_request"]
    assert data["operations"]["payment POST"]["on"]["requests"] == 12
    # Every job came home; each injected failure cost exactly one more attempt.
    jobs = data["jobs"]
    assert jobs["jobs"] > 0
    assert jobs["completed"] == jobs["jobs"]
    assert jobs["attempts"] == jobs["jobs"] + jobs["injected_failures"]
    assert jobs["retried_jobs"] <= jobs["injected_failures"]  # a job may fail twice
    memory = data["memory"]
    assert memory["requests"] == 200
    assert memory["errors"] == 0
    assert memory["rss_end_mb"] > 10  # a Python process serving an app: measured, not zero
    series = data["hit_rate_series"]
    assert len(series) == 20
    assert series[-1]["units"] == 150
    assert all(check["passed"] for check in data["smoke"]), data["smoke"]
    assert data["baseline"]["workloads"] == 1
    assert data["baseline"]["regressions"] == []
    assert data["outside_reference"]["statements"] == 67

    markdown = (tmp_path / "validation_report.md").read_text()
    assert markdown.startswith("# Validation report\n\n**PASS**")
    assert "Outside reference, not a measurement" in markdown
    page = (tmp_path / "validation_report.html").read_text()
    assert page.count("<svg ") == 4
    assert "<script" not in page
    assert "src=" not in page  # self-contained: nothing fetched
    assert "outside reference, not measured" in page


def test_a_planted_miss_fails_the_run_naming_its_criterion(
    reachable: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    impossible = Thresholds(**{**REACHABLE.__dict__, "job_success_rate": 1.0})
    monkeypatch.setattr(criteria, "PLAN", impossible)

    result = _validate(tmp_path)

    assert result.exit_code == 1, result.output
    assert "perf validate failed: job_success" in result.output
    data = _report(tmp_path)
    assert data["passed"] is False
    assert data["failed_criteria"] == ["job_success"]
    failed = next(c for c in data["criteria"] if c["key"] == "job_success")
    assert failed["goal"] == "> 100%"
    assert failed["measured"] == "100.0%"
    markdown = (tmp_path / "validation_report.md").read_text()
    assert "**FAIL: job_success**" in markdown
    assert "| **FAIL** |" in markdown


def test_too_small_an_association_is_refused_before_measuring(
    perf_settings: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["perf", "validate", "--out", str(tmp_path), "--members", "20", "--requests", "10"]
    )

    assert result.exit_code == 2, result.output
    assert "open invoices" in result.output
    assert not (tmp_path / "validation_report.json").exists()


def test_an_unknown_baseline_workload_is_refused_at_once(
    perf_settings: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["perf", "validate", "--out", str(tmp_path), "--baseline-workload", "no_such_workload"],
    )

    assert result.exit_code == 2, result.output
    assert "unknown workload 'no_such_workload'" in result.output
    assert not tmp_path.joinpath("validation_report.json").exists()
