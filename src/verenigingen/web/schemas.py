"""Shapes shared by every router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from verenigingen.db.ids import RowOffset
from verenigingen.db.paging import MAX_CURSOR_LENGTH, MAX_LIMIT, KeysetPage, PageRequest

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus what is needed to ask for the next one."""

    items: list[T]
    next_cursor: str | None = None
    """Pass as ``after`` for the next page; None on the last page."""
    total: int | None = None
    """How many rows match, only when asked with ``count=true``."""
    limit: int
    offset: int

    @classmethod
    def of(cls, page: KeysetPage[Any], item: Callable[[Any], T]) -> Page[T]:
        return cls(
            items=[item(row) for row in page.items],
            next_cursor=page.next_cursor,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
        )


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")] = 50,
    after: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="next_cursor of the previous page"),
    ] = None,
    offset: Annotated[
        RowOffset | None,
        Query(description="rows to skip (paging by number; costs more the further it skips)"),
    ] = None,
    count: Annotated[
        bool, Query(description="also count every matching row into total (reads them all)")
    ] = False,
) -> PageRequest:
    """The paging parameters every list takes."""
    return PageRequest(limit=limit, after=after, offset=offset, count=count)


PageParams = Annotated[PageRequest, Depends(page_request)]


class ErrorBody(BaseModel):
    error: str
    detail: str
