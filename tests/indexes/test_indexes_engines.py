"""Add, verify, re-add (a skip), impact and rollback on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from alembic import command
from index_helpers import committed_user, indexes_on, ledger, seed_invoices
from sqlalchemy import Engine

from verenigingen.db.migrate import alembic_config
from verenigingen.indexes import catalog, service
from verenigingen.indexes.models import IndexState

INVOICES = "ixm_invoice_customer_status_posting"
MANDATES = "ixm_sepa_mandate_member_status_created"
ALLOCATIONS = "ix_payment_allocation_invoice_id"


def _lifecycle(engine: Engine) -> None:
    admin = committed_user(engine)
    seed_invoices(engine, customers=40, per_customer=250)

    added = {o.spec.name: o for o in service.add_indexes(engine, admin, catalog.STRATEGIC)}
    assert {name: o.action for name, o in added.items()} == {
        INVOICES: "built",
        ALLOCATIONS: "skipped",  # the models declare it: the migrations made it already
        MANDATES: "built",
    }
    assert added[ALLOCATIONS].detail == "already exists and valid"
    built = indexes_on(engine, "invoice")[INVOICES]
    assert built.valid
    assert built.columns == ("customer_id", "status", "posting_date")
    assert indexes_on(engine, "sepa_mandate")[MANDATES].valid
    changes = ledger(engine)
    assert [(c.index_name, c.state) for c in changes] == [
        (INVOICES, IndexState.VALID),
        (MANDATES, IndexState.VALID),
    ]
    assert changes[0].dialect == engine.dialect.name.replace("mysql", "mariadb")
    assert changes[0].requested_by == admin.email
    assert INVOICES in changes[0].ddl
    assert INVOICES in changes[0].inverse_ddl
    assert changes[0].plan_after is not None
    assert INVOICES in changes[0].plan_after

    # Models and migrations still agree: Alembic leaves the manager's indexes alone.
    command.check(alembic_config(engine))

    again = service.add_indexes(engine, admin, catalog.STRATEGIC)
    assert [o.action for o in again] == ["skipped", "skipped", "skipped"]
    assert len(ledger(engine)) == 2  # a skip runs no DDL and records nothing

    report = service.measure_impact(engine, admin, INVOICES, runs=3)
    by_status = [q for q in report.queries if "WHERE invoice.status = " in q.sql]
    assert by_status, [q.sql for q in report.queries]
    assert all(q.uses_index for q in by_status)
    assert all(INVOICES not in q.plan_without for q in report.queries)
    stored = ledger(engine)[0]
    assert stored.timings_before
    assert stored.timings_after
    assert stored.plan_before is not None
    assert INVOICES not in stored.plan_before

    outcome = service.rollback_index(engine, admin, INVOICES)
    assert outcome.state == IndexState.ROLLED_BACK
    assert INVOICES not in indexes_on(engine, "invoice")
    rolled = ledger(engine)[0]
    assert rolled.state == IndexState.ROLLED_BACK
    assert rolled.rolled_back_at is not None
    if engine.dialect.name in ("mysql", "mariadb"):
        # IGNORED first, measured, then dropped.
        assert "IGNORED" in outcome.statements[0]
        assert "reads while IGNORED" in outcome.detail

    # Added again after a rollback: a new ledger entry, built again.
    (readded,) = service.add_indexes(engine, admin, [catalog.resolve(INVOICES)])
    assert readded.action == "built"
    assert [c.state for c in ledger(engine)][-1] == IndexState.VALID


def test_lifecycle_sqlite(fresh_sqlite: Engine) -> None:
    _lifecycle(fresh_sqlite)


def test_lifecycle_server(committed_server_engine: Engine) -> None:
    _lifecycle(committed_server_engine)
