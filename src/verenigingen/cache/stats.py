"""Hit and miss counts per namespace: the evidence that the cache earns its keep."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.StrEnum):
    """What one lookup found. Every lookup counts exactly once."""

    HIT = "hits"
    COLD = "cold"
    """No entry for the key (never filled, evicted, or cleared)."""
    INVALIDATED = "invalidated"
    """An entry computed from versions that are no longer current: the data changed."""
    EXPIRED = "expired"
    """An entry with current versions but past its time to live."""


FILL_COUNT = "fill_count"
FILL_MICROSECONDS = "fill_us"
COUNTERS = (*(outcome.value for outcome in Outcome), FILL_COUNT, FILL_MICROSECONDS)


@dataclass(frozen=True, slots=True)
class NamespaceStats:
    hits: int = 0
    cold: int = 0
    invalidated: int = 0
    expired: int = 0
    fill_count: int = 0
    fill_us: int = 0
    """Total time spent computing values for this namespace, in microseconds."""

    @classmethod
    def from_counters(cls, counters: dict[str, int]) -> NamespaceStats:
        return cls(**{name: int(counters.get(name, 0)) for name in COUNTERS})

    @property
    def misses(self) -> int:
        return self.cold + self.invalidated + self.expired

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits / lookups; 0.0 before the first lookup."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def fill_ms_total(self) -> float:
        return self.fill_us / 1000

    @property
    def fill_ms_mean(self) -> float:
        return self.fill_us / 1000 / self.fill_count if self.fill_count else 0.0
