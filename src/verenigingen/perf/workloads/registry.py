"""What a workload is, and the registry that the profiler and the gate read.

A workload is a business operation driven through the real services, ``iterations`` times, each
iteration one unit of work (one transaction, like one request). Its inputs are chosen from the
seeded demo association before anything is measured, so the measured part is only the operation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from verenigingen.auth.models import User

Item = TypeVar("Item")


@dataclass(frozen=True)
class Workload(Generic[Item]):
    name: str
    description: str
    iterations: int
    """Measured units of work in one run (the ``×100`` of "payment batch ×100")."""
    plan: Callable[[Session, int, random.Random], Sequence[Item]]
    """Choose the inputs of ``n`` units of work from the demo database (not measured)."""
    step: Callable[[Session, User, Item], object]
    """One unit of work; the runner opens and commits its transaction."""
    warmup: int = 2
    """Units of work run before measuring (compiled-statement cache, imports, page cache)."""


@dataclass(frozen=True)
class PendingWorkload:
    """A workload whose domain is not built yet: listed, never faked."""

    name: str
    description: str
    brought_by: str


_workloads: dict[str, Workload[Any]] = {}
_pending: dict[str, PendingWorkload] = {}


class UnknownWorkload(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def register(workload: Workload[Any]) -> Workload[Any]:
    """Add (or replace: a later issue refines a workload under the same name) a workload."""
    _workloads[workload.name] = workload
    _pending.pop(workload.name, None)
    return workload


def register_pending(name: str, description: str, brought_by: str) -> None:
    if name not in _workloads:
        _pending[name] = PendingWorkload(name, description, brought_by)


def workload_names() -> list[str]:
    return list(_workloads)


def all_workloads() -> list[Workload[Any]]:
    return list(_workloads.values())


def pending_workloads() -> list[PendingWorkload]:
    return list(_pending.values())


def get_workload(name: str) -> Workload[Any]:
    try:
        return _workloads[name]
    except KeyError:
        raise UnknownWorkload(name) from None


def select_workloads(names: Sequence[str] | None) -> list[Workload[Any]]:
    """The named workloads in the order given (all of them when none are named)."""
    if not names:
        return all_workloads()
    return [get_workload(name) for name in names]
