"""Bank statement tests run on SQLite and PostgreSQL: ``any_session`` narrowed to those two; the
migration tests on an empty database of each engine (``empty_engine``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from server_databases import server_database
from verenigingen.db.engine import make_engine

# The ledger factories of the billing tests build the invoices reconciliation matches against.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
# The SEPA factories build the direct-debit batches a statement books.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Statements on SQLite (embedded) and PostgreSQL (distributed)."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with nothing in it yet, on SQLite, PostgreSQL and MariaDB."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'before.db'}")
        yield engine
        engine.dispose()
        return
    variable = {
        "postgres": "VERENIGINGEN_TEST_POSTGRES_URL",
        "mariadb": "VERENIGINGEN_TEST_MARIADB_URL",
    }[request.param]
    for url in server_database(variable):
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
