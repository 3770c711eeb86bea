"""Paging of lists: one bound on page sizes, one check, one count of a filtered statement."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from verenigingen.errors import ValidationFailed

MAX_LIMIT = 500
"""Largest page any list returns."""


def check_page(limit: int, offset: int = 0) -> None:
    """A page size of 1 to :data:`MAX_LIMIT` and an offset of zero or more, or 422."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset < 0:
        raise ValidationFailed(f"offset must be zero or more, got {offset}")


def count_rows(session: Session, statement: Select[Any]) -> int:
    """How many rows ``statement`` selects (its ordering dropped: it cannot change a count)."""
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    return int(total or 0)
