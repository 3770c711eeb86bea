"""What the SEPA domain records when a mandate changes."""

from __future__ import annotations

from dataclasses import dataclass

from verenigingen.events import DomainEvent


@dataclass(frozen=True)
class MandateChanged(DomainEvent):
    """A mandate of ``member_id`` was created or changed status (``status`` is the new one)."""

    mandate_id: int
    member_id: int
    status: str


@dataclass(frozen=True)
class MandatesChanged(DomainEvent):
    """Several mandates changed status at once (a status report's stop or invalid codes)."""

    mandate_ids: tuple[int, ...]
    member_ids: frozenset[int]
