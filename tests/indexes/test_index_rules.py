"""The index manager's rules: each refusal is its own error (code, status) and writes nothing."""

from __future__ import annotations

import pytest
from index_helpers import committed_user, indexes_on, ledger
from sqlalchemy import Engine

from verenigingen.indexes import catalog, service
from verenigingen.indexes.errors import (
    IndexDeclaredByModels,
    IndexNotBuilt,
    IndexNotManaged,
    IndexWithoutProbes,
)

MANAGED = "ixm_invoice_customer_status_posting"
"""Declared as strategic, added by the manager (not by a migration)."""
DECLARED = "ix_payment_allocation_invoice_id"
"""Declared by the models: a migration made it."""


def test_refusals_name_their_rule_and_change_nothing(fresh_sqlite: Engine) -> None:
    admin = committed_user(fresh_sqlite)
    before = set(indexes_on(fresh_sqlite, "invoice"))
    cases = [
        (lambda: service.rollback_index(fresh_sqlite, admin, DECLARED), IndexDeclaredByModels),
        (lambda: service.rollback_index(fresh_sqlite, admin, MANAGED), IndexNotManaged),
        (lambda: service.measure_impact(fresh_sqlite, admin, MANAGED), IndexNotBuilt),
    ]
    for action, error in cases:
        with pytest.raises(error) as raised:
            action()
        assert (raised.value.code, raised.value.status_code) == (error.code, 409)
    assert ledger(fresh_sqlite) == []
    assert set(indexes_on(fresh_sqlite, "invoice")) == before


def test_an_ad_hoc_index_has_no_reads_to_measure(fresh_sqlite: Engine) -> None:
    admin = committed_user(fresh_sqlite)
    spec = catalog.adhoc("invoice", ("due_date",))
    service.add_indexes(fresh_sqlite, admin, [spec])
    entries = _entries(fresh_sqlite)
    with pytest.raises(IndexWithoutProbes, match="declares no reads") as raised:
        service.measure_impact(fresh_sqlite, admin, spec.name)
    assert raised.value.code == "index_without_probes"
    assert _entries(fresh_sqlite) == entries


def _entries(engine: Engine) -> list[tuple[object, ...]]:
    return [(c.id, c.index_name, c.state, c.plan_after) for c in ledger(engine)]
