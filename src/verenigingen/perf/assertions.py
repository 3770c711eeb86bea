"""``assert_queries(n)`` and ``assert_max_queries(n)``: query counts as part of behaviour."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from verenigingen.perf.capture import QueryLog, capture


class QueryCountError(AssertionError):
    pass


@contextlib.contextmanager
def assert_queries(expected: int) -> Iterator[QueryLog]:
    """The block sends exactly ``expected`` statements (transaction control not counted)."""
    with capture() as log:
        yield log
    if log.count != expected:
        raise QueryCountError(
            f"expected {expected} queries, the block sent {log.count}:\n{log.describe()}"
        )


@contextlib.contextmanager
def assert_max_queries(limit: int) -> Iterator[QueryLog]:
    """The block sends at most ``limit`` statements."""
    with capture() as log:
        yield log
    if log.count > limit:
        raise QueryCountError(
            f"expected at most {limit} queries, the block sent {log.count}:\n{log.describe()}"
        )
