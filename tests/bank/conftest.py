"""Bank statement tests run on SQLite and PostgreSQL: ``any_session`` narrowed to those two."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request: pytest.FixtureRequest) -> Engine:
    """Statements on SQLite (embedded) and PostgreSQL (distributed)."""
    engine: Engine = request.getfixturevalue(f"{request.param}_engine")
    return engine
