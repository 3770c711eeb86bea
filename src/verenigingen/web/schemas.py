"""Shapes shared by every router."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` plus what is needed to ask for the next one."""

    items: list[T]
    total: int
    limit: int
    offset: int


class ErrorBody(BaseModel):
    error: str
    detail: str
