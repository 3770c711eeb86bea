"""Bank statement tests run on SQLite and PostgreSQL: ``any_session`` narrowed to those two."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

# The ledger factories of the billing tests build the invoices reconciliation matches against.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
# The SEPA factories build the direct-debit batches a statement books.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Statements on SQLite (embedded) and PostgreSQL (distributed)."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine
