"""Pytest fixtures of the toolkit: ``query_log`` records the whole test's queries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from verenigingen.perf.assertions import assert_max_queries, assert_queries
from verenigingen.perf.capture import QueryLog, capture

__all__ = ["assert_max_queries", "assert_queries", "query_log"]


@pytest.fixture
def query_log() -> Iterator[QueryLog]:
    """Every statement the test sends, for assertions after the fact."""
    with capture() as log:
        yield log
