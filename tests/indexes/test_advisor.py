"""The advisor: statement shapes, candidates proven on a scratch copy, --fail-on-missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from index_helpers import STATS, committed_user, indexes_on, profile_log, seed_invoices
from sqlalchemy import Engine
from typer.testing import CliRunner

from verenigingen.cli.app import app as cli
from verenigingen.config import get_settings
from verenigingen.indexes import advisor
from verenigingen.indexes.scratch import SqliteFileCopy
from verenigingen.indexes.shapes import table_shapes


def test_shapes_put_equality_then_range_then_order() -> None:
    (shape,) = table_shapes(
        "SELECT member.id FROM member WHERE member.status = ? AND member.last_name > ? "
        "ORDER BY member.last_name"
    )
    assert shape.candidate() == ("status", "last_name")
    (listing,) = table_shapes(
        "SELECT count(*) FROM (SELECT invoice.id FROM invoice WHERE invoice.status = ? "
        "AND invoice.customer_id IN (…customer_ids)) AS anon_1"
    )
    assert listing.candidate() == ("status", "customer_id")
    shapes = table_shapes(
        "SELECT payment.number FROM payment JOIN payment_allocation "
        "ON payment_allocation.payment_id = payment.id "
        "WHERE payment_allocation.invoice_id = ? ORDER BY payment.id"
    )
    by_table = {s.table: s.candidate() for s in shapes}
    assert by_table["payment_allocation"] == ("invoice_id", "payment_id")
    assert by_table["payment"] == ("id",)


@pytest.fixture
def unindexed(fresh_sqlite: Engine) -> Engine:
    """Invoices without the index the payment history reads them by."""
    with fresh_sqlite.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_invoice_customer_posting")
    # 400 customers of 25 invoices: a customer's rows are 0.25 % of the table, so the index's
    # gain is far beyond the 30 % bar even when a loaded machine makes the timings noisy.
    seed_invoices(fresh_sqlite, customers=400, per_customer=25)
    return fresh_sqlite


def _scratch(engine: Engine) -> SqliteFileCopy:
    return SqliteFileCopy(Path(str(engine.url.database)))


def test_a_missing_index_is_proven_on_a_scratch_copy(unindexed: Engine) -> None:
    advice = advisor.advise(STATS, _scratch(unindexed), source="test")
    (proposed,) = advice.proposed
    assert proposed.spec.table == "invoice"
    assert proposed.spec.columns == ("customer_id", "posting_date")  # the key: implied
    assert "SCAN invoice" in proposed.plan_before
    assert proposed.spec.name in proposed.plan_after
    assert proposed.improvement >= 0.30
    assert 0 < proposed.saved_ms <= 120.0
    assert advice.missing_for() == ["member_payment_history"]
    # Proven on the copy: the database itself did not change.
    assert proposed.spec.name not in indexes_on(unindexed, "invoice")


def test_covered_and_small_tables_are_set_aside(fresh_sqlite: Engine) -> None:
    seed_invoices(fresh_sqlite, customers=40, per_customer=250)
    advice = advisor.advise(STATS, _scratch(fresh_sqlite), source="test")
    assert advice.proposed == []
    (aside,) = advice.set_aside
    assert aside.reason == "already served by the leading columns of ix_invoice_customer_posting"
    small = advisor.advise(STATS, _scratch(fresh_sqlite), source="test", min_rows=1_000_000)
    assert small.set_aside[0].reason.startswith("small table (10000 rows")


@pytest.mark.parametrize(("drop", "exit_code"), [(True, 1), (False, 0)])
def test_cli_fail_on_missing(
    fresh_sqlite: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    drop: bool,
    exit_code: int,
) -> None:
    if drop:
        with fresh_sqlite.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_invoice_customer_posting")
    seed_invoices(fresh_sqlite, customers=400, per_customer=25)  # see the unindexed fixture
    committed_user(fresh_sqlite)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", str(fresh_sqlite.url))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["indexes", "advise", "--from", str(profile_log(tmp_path)), "--fail-on-missing"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == exit_code, result.output
    if drop:
        add = "verenigingen indexes add --table invoice --column customer_id --column posting_date"
        assert add in result.output
        assert "proven missing indexes for: member_payment_history" in result.output


def test_cli_unreadable_log_exits_2(
    fresh_sqlite: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed_user(fresh_sqlite)
    monkeypatch.setenv("VERENIGINGEN_DATABASE_URL", str(fresh_sqlite.url))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            cli, ["indexes", "advise", "--from", str(tmp_path / "none.json")]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "cannot read the query log" in result.output
