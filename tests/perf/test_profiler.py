"""``perf profile`` writes the four kinds of files, from real runs, with the documented keys."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from typer.testing import CliRunner

from verenigingen.billing.models import Payment
from verenigingen.cli.app import app
from verenigingen.members.models import Customer
from verenigingen.perf.capture import capture

WORKLOADS = ("member_update", "member_payment_history")


def test_profile_writes_the_four_kinds_of_files(perf_settings: Path, tmp_path: Path) -> None:
    out = tmp_path / "perf-out"
    args = ["perf", "profile", "--out", str(out), "--repeat", "2", "--iterations", "2"]
    for name in WORKLOADS:
        args += ["--workload", name]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    baseline = json.loads((out / "performance_baseline.json").read_text())
    assert set(baseline["environment_key"]) == {"python", "dialect", "dialect_major", "package"}
    assert baseline["environment_key"]["dialect"] == "sqlite"
    assert {"python", "platform", "dialect", "dialect_version", "package"} <= set(
        baseline["environment"]
    )
    assert set(baseline["workloads"]) == set(WORKLOADS)
    for entry in baseline["workloads"].values():
        assert entry["iterations"] == 2
        assert len(entry["wall_ms_runs"]) == 2
        assert entry["wall_ms_median"] > 0
        assert entry["cpu_ms_median"] > 0
        assert entry["queries"] == sum(f["count"] for f in entry["fingerprints"])
        assert entry["rows"] > 0
        assert entry["peak_memory_bytes"] > 0
        assert {"id", "fingerprint", "count", "call_site"} <= set(entry["fingerprints"][0])
        top = entry["top_functions"]
        assert top
        assert {"function", "share", "own_s", "calls"} <= set(top[0])
        assert 0 < sum(f["share"] for f in top) <= 1.0001
        assert entry["n_plus_one"] == []  # the product's workloads have none
    history = baseline["workloads"]["member_payment_history"]
    # The API's path on a cold entry: the read model's three statements (the first reads the
    # permission and the tag versions too), whatever the length of the history.
    assert history["queries_per_iteration"] == 3
    assert baseline["pending_workloads"] == []

    matrix = json.loads((out / "optimization_priority_matrix.json").read_text())
    assert "score_rule" in matrix
    scores = [b["priority_score"] for b in matrix["bottlenecks"]]
    assert scores == sorted(scores, reverse=True)
    assert scores
    for bottleneck in matrix["bottlenecks"]:
        assert {
            "area",
            "what",
            "impact_time_share_pct",
            "query_multiplier",
            "optimization_potential",
            "effort",
            "priority_score",
        } <= set(bottleneck)
        if bottleneck["kind"] == "cpu":
            assert bottleneck["priority_score"] == round(bottleneck["impact_time_share_pct"] * 2, 1)

    report = (out / "bottleneck_analysis_report.md").read_text()
    assert "## Top" in report
    assert "## N+1 patterns" in report
    assert "None found" in report
    for name in WORKLOADS:
        assert f"| {name} | 2 |" in report
        html = (out / f"profile-{name}.html").read_text()
        assert "pyinstrument" in html.lower()


def test_profile_of_an_unknown_workload_lists_the_valid_names(perf_settings: Path) -> None:
    result = CliRunner().invoke(app, ["perf", "profile", "--workload", "payroll"])
    assert result.exit_code == 2
    assert "unknown workload 'payroll'" in result.output
    assert "payment_batch" in result.output
    assert "member_creation" in result.output


def test_counting_rows_leaves_joined_collection_loads_to_the_caller(session: Session) -> None:
    # The profiler counts rows by buffering ORM results; a joinedload of a collection needs the
    # caller's unique() first, so that result must reach the caller untouched (rows not counted).
    customer = Customer(debtor_number="ROWS-1", name="Klant")
    session.add(customer)
    session.flush()
    with capture(count_rows=True) as log:
        joined = session.scalars(
            select(Payment)
            .where(Payment.customer_id == customer.id)
            .options(joinedload(Payment.allocations))
        )
        assert joined.unique().all() == []
        session.scalars(select(Customer).where(Customer.id == customer.id)).all()
    assert [query.rows for query in log.queries] == [None, 1]
