"""N+1 detection over captured queries: lazy loads, repeated statements and the scale slope.

Three detectors, most precise first:

1. lazy loads: a relationship loaded lazily for two or more parents within one capture;
2. repeats: the same fingerprint from the same call site ``min_repeats`` times or more;
3. scaling: a fingerprint whose count grows between two runs of a workload at sizes N1 < N2.

Each :class:`Finding` carries the call site and a hint naming the SQLAlchemy remedy.
"""

from __future__ import annotations

from dataclasses import dataclass

from verenigingen.perf.capture import Frame, QueryLog

LAZY_LOAD = "lazy load from multi-row result"
REPEATED_QUERY = "repeated query"
REPEATED_IDENTICAL_QUERY = "repeated identical query"
GROWS_WITH_N = "grows with N"


@dataclass(frozen=True)
class Finding:
    pattern: str
    """One of LAZY_LOAD, REPEATED_QUERY, REPEATED_IDENTICAL_QUERY, GROWS_WITH_N."""
    fingerprint: str
    """The statement's shape, as :class:`~verenigingen.perf.capture.CapturedQuery` has it."""
    example_sql: str
    count: int
    """Executions in the capture (for the scale detector: at the larger size)."""
    slope: float | None
    """Queries per item (k in k·N) for the scale detector; None for the others."""
    call_site: tuple[Frame, ...]
    """Innermost first."""
    hint: str

    def to_dict(self) -> dict[str, object]:
        return {
            "pattern": self.pattern,
            "fingerprint": self.fingerprint,
            "example_sql": self.example_sql,
            "count": self.count,
            "slope": self.slope,
            "call_site": [str(frame) for frame in self.call_site],
            "hint": self.hint,
        }


def detect(log: QueryLog, *, min_repeats: int = 5) -> list[Finding]:
    """Lazy loads and repeated statements in one capture, most precise first."""
    return []


def detect_scaling(small: QueryLog, large: QueryLog, small_n: int, large_n: int) -> list[Finding]:
    """Fingerprints whose execution count grows from ``small_n`` items to ``large_n`` items."""
    return []
