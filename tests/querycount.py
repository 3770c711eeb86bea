"""Count the statements a block sends (until the performance toolkit's capture replaces it)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, event

_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


class QueryLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        return "\n".join(f"{i + 1}. {s}" for i, s in enumerate(self.statements))


@contextlib.contextmanager
def count_queries(engine: Engine) -> Iterator[QueryLog]:
    """Statements (executemany counts once) sent on ``engine``; transaction control is not counted."""
    log = QueryLog()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_TRANSACTION_CONTROL):
            log.statements.append(" ".join(statement.split())[:300])

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
