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
