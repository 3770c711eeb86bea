"""Failure paths: a cancelled concurrent build on PostgreSQL is healed by the next add; a table
held by an open transaction on MariaDB makes the add and the impact time out cleanly."""

from __future__ import annotations

import time

import pytest
from index_helpers import committed_user, indexes_on, ledger, seed_invoices
from sqlalchemy import Engine, text

from verenigingen.indexes import catalog, service
from verenigingen.indexes.dialects import BuildOptions
from verenigingen.indexes.errors import IndexLockTimeout
from verenigingen.indexes.models import IndexState

INVOICES = catalog.resolve("ixm_invoice_customer_status_posting")


def _seed_many(engine: Engine, invoices: int) -> None:
    # generate_series: enough rows that the concurrent build outlasts a short statement timeout.
    with engine.begin() as connection:
        # Skip the per-row foreign-key triggers while seeding (the test user is a superuser).
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.exec_driver_sql(
            "INSERT INTO customer (debtor_number, name) "
            "SELECT 'D' || g, 'Klant ' || g FROM generate_series(1, 300) AS g"
        )
        connection.execute(
            text(
                "INSERT INTO invoice (number, customer_id, posting_date, due_date, grand_total, "
                "outstanding_amount, status, docstatus, is_return) "
                "SELECT 'INV-' || g, (SELECT min(id) FROM customer) + mod(g, 300), "
                "date '2020-01-01' + mod(g, 1500), date '2020-01-15' + mod(g, 1500), 25, 0, "
                "(ARRAY['Paid', 'Paid', 'Unpaid', 'Overdue'])[1 + mod(g, 4)], 1, false "
                "FROM generate_series(1, :invoices) AS g"
            ),
            {"invoices": invoices},
        )


# Only the server the failure belongs to: no throw-away database is made on the other one.
@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_POSTGRES_URL"], ids=["postgres"], indirect=True
)
def test_postgres_cancelled_build_leaves_invalid_index_and_next_add_heals_it(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    admin = committed_user(engine)
    _seed_many(engine, 50_000)

    (failed,) = service.add_indexes(
        engine, admin, [INVOICES], BuildOptions(statement_timeout_ms=10)
    )
    assert failed.action == "failed"
    assert failed.state == IndexState.INVALID
    assert "statement timeout" in failed.detail
    left = indexes_on(engine, "invoice")[INVOICES.name]
    assert left.valid is False  # pg_index.indisvalid: present, maintained, never used
    (change,) = ledger(engine)
    assert change.state == IndexState.INVALID
    assert change.finished_at is not None
    (status,) = [s for s in service.index_status(engine, admin) if s.spec.name == INVOICES.name]
    assert status.present
    assert not status.valid

    (healed,) = service.add_indexes(engine, admin, [INVOICES])
    assert healed.action == "healed"
    assert healed.state == IndexState.VALID
    assert healed.statements[0].startswith("DROP INDEX CONCURRENTLY IF EXISTS")
    assert indexes_on(engine, "invoice")[INVOICES.name].valid
    assert [c.state for c in ledger(engine)] == [IndexState.INVALID, IndexState.VALID]

    # What a failed REINDEX CONCURRENTLY leaves behind is reported, not touched.
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE INDEX ix_invoice_due_ccnew ON invoice (due_date)")
    (status,) = [s for s in service.index_status(engine, admin) if s.spec.name == INVOICES.name]
    assert status.leftovers == ["ix_invoice_due_ccnew"]
    assert "ix_invoice_due_ccnew" in indexes_on(engine, "invoice")


@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_MARIADB_URL"], ids=["mariadb"], indirect=True
)
def test_mariadb_add_times_out_on_a_table_an_open_transaction_holds(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    admin = committed_user(engine)
    seed_invoices(engine, customers=5, per_customer=20)

    with engine.connect() as blocker:
        blocker.begin()
        # An open transaction that read the table holds its metadata lock until it ends.
        blocker.exec_driver_sql("SELECT id FROM invoice LIMIT 1").all()
        started = time.monotonic()
        (failed,) = service.add_indexes(
            engine, admin, [INVOICES], BuildOptions(lock_timeout_ms=1_000)
        )
        waited = time.monotonic() - started
        blocker.rollback()

    assert failed.action == "failed"
    assert failed.state == IndexState.PLANNED
    assert "Lock wait timeout" in failed.detail
    assert waited < 10  # gave up after lock_wait_timeout, did not hang
    assert INVOICES.name not in indexes_on(engine, "invoice")
    (change,) = ledger(engine)
    assert change.state == IndexState.PLANNED
    assert "Lock wait timeout" in (change.note or "")

    (built,) = service.add_indexes(engine, admin, [INVOICES])  # the lock is gone: it builds
    assert built.action == "built"
    assert indexes_on(engine, "invoice")[INVOICES.name].valid


@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_MARIADB_URL"], ids=["mariadb"], indirect=True
)
def test_mariadb_falls_back_to_inplace_and_never_to_a_copying_build(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    admin = committed_user(engine)
    # Aria has no online index build: the server refuses NOCOPY, then INPLACE.
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE payment_analytics ENGINE=Aria")
        connection.exec_driver_sql(
            "INSERT INTO payment_analytics (month, payment_count, received, refunded, invoiced, "
            "collected) VALUES ('2024-01-01', 3, 75, 0, 100, 75)"
        )
    spec = catalog.adhoc("payment_analytics", ("payment_count",))

    (failed,) = service.add_indexes(engine, admin, [spec])

    assert failed.action == "failed"
    assert failed.state == IndexState.PLANNED
    assert [s.rsplit("ALGORITHM=", 1)[1] for s in failed.statements] == [
        "NOCOPY, LOCK=NONE",
        "INPLACE, LOCK=NONE",
    ]
    assert "ALGORITHM=INPLACE is not supported" in failed.detail
    assert spec.name not in indexes_on(engine, "payment_analytics")
    (change,) = ledger(engine)
    assert change.state == IndexState.PLANNED
    assert "ALGORITHM=INPLACE is not supported" in (change.note or "")


@pytest.mark.parametrize(
    "committed_server_engine", ["VERENIGINGEN_TEST_MARIADB_URL"], ids=["mariadb"], indirect=True
)
def test_mariadb_impact_gives_up_on_a_table_an_open_transaction_holds(
    committed_server_engine: Engine,
) -> None:
    engine = committed_server_engine
    admin = committed_user(engine)
    seed_invoices(engine, customers=5, per_customer=20)
    service.add_indexes(engine, admin, [INVOICES])
    before = [(c.id, c.state, c.timings_after) for c in ledger(engine)]

    with engine.connect() as blocker:
        blocker.begin()
        # Its metadata lock holds off the ALTER that marks the index IGNORED to measure without it
        # (the server's own lock_wait_timeout would keep the ALTER, and the reads behind it,
        # waiting for a day).
        blocker.exec_driver_sql("SELECT id FROM invoice LIMIT 1").all()
        started = time.monotonic()
        with pytest.raises(IndexLockTimeout) as timed_out:
            service.measure_impact(engine, admin, INVOICES.name, runs=1)
        waited = time.monotonic() - started
        blocker.rollback()

    assert waited < 10
    assert timed_out.value.detail.startswith(f"impact of {INVOICES.name} stopped")
    assert "Lock wait timeout" in timed_out.value.detail
    assert indexes_on(engine, "invoice")[INVOICES.name].ignored is False  # never hidden
    assert [(c.id, c.state, c.timings_after) for c in ledger(engine)] == before

    report = service.measure_impact(engine, admin, INVOICES.name, runs=1)  # the table is free
    assert report.index == INVOICES.name
