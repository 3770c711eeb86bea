"""N+1 detection over captured queries: lazy loads, repeated statements and the scale slope.

Three detectors, most precise first:

1. lazy loads: a relationship that is not ``lazy="raise"`` loaded lazily for two or more
   parents within one capture (the parents came from a multi-row result and were walked);
2. repeats: the same fingerprint from the same call site ``min_repeats`` times or more with
   differing parameters (with identical parameters it is a repeated identical query: hoist it);
3. scaling: a fingerprint whose count grows between two runs of a workload at sizes
   ``small_n < large_n``; the slope is the number of extra queries per item.

Statements already batched (executemany, an ``IN`` list of several values, a multi-row INSERT,
a keyset page ``WHERE id > ? … LIMIT ?``) are one round trip for many items and never count as
repeats; nor does a statement with a batched one between each two of its executions, which
is a statement per batch (a loop over pages reserving numbers, say). A per-item loop that
itself sends a batched statement per item is then missed here; the scale detector sees it.

Each :class:`Finding` carries the call site and a hint naming the SQLAlchemy remedy for the
statement's shape (see :mod:`verenigingen.perf.nplusone.hints`).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verenigingen.perf.capture import MAX_SQL_LENGTH, CapturedQuery, Frame, LazyLoad, QueryLog
from verenigingen.perf.nplusone.hints import (
    identical_query_hint,
    is_keyset_page,
    lazy_load_hint,
    originating_query,
    placeholder_count,
    statement_hint,
)

LAZY_LOAD = "lazy load from multi-row result"
REPEATED_QUERY = "repeated query"
REPEATED_IDENTICAL_QUERY = "repeated identical query"
GROWS_WITH_N = "grows with N"
PATTERNS = (LAZY_LOAD, REPEATED_QUERY, REPEATED_IDENTICAL_QUERY, GROWS_WITH_N)
"""Most precise first; findings are sorted in this order."""

MIN_LAZY_PARENTS = 2
_MULTI_ROW_VALUES = re.compile(r"\bVALUES\s*\(.*?\)\s*,\s*\(", re.IGNORECASE)


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

    def __str__(self) -> str:
        where = self.call_site[0] if self.call_site else "(no application frame)"
        per_item = f", {self.slope:g} per item" if self.slope is not None else ""
        return f"{self.pattern}: {self.count}×{per_item} at {where}: {self.hint}"


def detect(log: QueryLog, *, min_repeats: int = 5) -> list[Finding]:
    """Lazy loads and repeated statements in one capture, most precise first."""
    if min_repeats < 2:
        raise ValueError(f"min_repeats must be at least 2, got {min_repeats}")
    findings = [*_lazy_load_findings(log), *_repeat_findings(log, min_repeats)]
    return _sorted_unique(findings)


def detect_scaling(small: QueryLog, large: QueryLog, small_n: int, large_n: int) -> list[Finding]:
    """Fingerprints whose execution count grows from ``small_n`` items to ``large_n`` items.

    ``slope`` is (count at large_n - count at small_n) / (large_n - small_n): k in k·N. The
    comparison is exact, so run both sizes warm: a first run that creates what later runs
    update (a naming series, a cache) shows as a statement growing from 0 to 1.
    """
    if not 0 <= small_n < large_n:
        raise ValueError(f"need 0 <= small_n < large_n, got {small_n} and {large_n}")
    small_counts = small.by_fingerprint()
    by_fingerprint: dict[str, list[CapturedQuery]] = defaultdict(list)
    for query in large.queries:
        by_fingerprint[query.fingerprint].append(query)
    findings = []
    for fingerprint, queries in by_fingerprint.items():
        growth = len(queries) - small_counts.get(fingerprint, 0)
        if growth <= 0:
            continue
        example = queries[0]
        site = _most_common(query.call_site for query in queries)
        findings.append(
            Finding(
                pattern=GROWS_WITH_N,
                fingerprint=fingerprint,
                example_sql=example.sql,
                count=len(queries),
                slope=growth / (large_n - small_n),
                call_site=site,
                hint=statement_hint(example, large, large.queries.index(example)),
            )
        )
    return _sorted_unique(findings)


def _lazy_load_findings(log: QueryLog) -> list[Finding]:
    by_relationship: dict[str, list[LazyLoad]] = defaultdict(list)
    for load in log.lazy_loads:
        by_relationship[load.relationship].append(load)
    findings = []
    for relationship, loads in by_relationship.items():
        if len({load.parent for load in loads}) < MIN_LAZY_PARENTS:
            continue  # one parent's relationship loaded once is not N+1
        first = loads[0]
        emitted = log.queries[first.query_index] if first.query_index < log.count else None
        origin = originating_query(log, first.query_index, first.parent_table)
        findings.append(
            Finding(
                pattern=LAZY_LOAD,
                fingerprint=emitted.fingerprint if emitted else relationship,
                example_sql=emitted.sql if emitted else "",
                count=len(loads),
                slope=None,
                call_site=_most_common(load.call_site for load in loads),
                hint=lazy_load_hint(first, origin),
            )
        )
    return findings


def _repeat_findings(log: QueryLog, min_repeats: int) -> list[Finding]:
    groups: dict[tuple[str, tuple[Frame, ...]], list[int]] = defaultdict(list)
    batches_before = [0]  # batched statements among the first i queries
    for index, query in enumerate(log.queries):
        batched = _batched(query)
        batches_before.append(batches_before[-1] + batched)
        if not batched:
            groups[query.fingerprint, query.call_site].append(index)
    findings = []
    for (fingerprint, site), indexes in groups.items():
        if len(indexes) < min_repeats:
            continue
        if all(
            batches_before[later] > batches_before[earlier + 1]
            for earlier, later in itertools.pairwise(indexes)
        ):
            continue  # a batch in every gap: one statement per batch, not per item
        queries = [log.queries[index] for index in indexes]
        keys = [query.parameters_key for query in queries]
        identical = None not in keys and len(set(keys)) == 1
        example = queries[0]
        findings.append(
            Finding(
                pattern=REPEATED_IDENTICAL_QUERY if identical else REPEATED_QUERY,
                fingerprint=fingerprint,
                example_sql=example.sql,
                count=len(queries),
                slope=None,
                call_site=site,
                hint=identical_query_hint(example, len(queries))
                if identical
                else statement_hint(example, log, indexes[0]),
            )
        )
    return findings


def _batched(query: CapturedQuery) -> bool:
    """One round trip for many items: executemany, an IN list of more than one value, a
    multi-row INSERT, or a keyset page (``WHERE id > ? … LIMIT ?``)."""
    if query.executemany > 1:
        return True
    if "(…" in query.fingerprint:
        # The SQL as sent has the lists expanded: more parameters than the shape means a list
        # of two or more. Truncated SQL cannot tell; take it as a batch.
        expanded = placeholder_count(query.sql) > placeholder_count(query.fingerprint)
        return expanded or len(query.sql) >= MAX_SQL_LENGTH
    if query.sql[:6].upper() == "INSERT":
        return _MULTI_ROW_VALUES.search(query.sql) is not None
    return query.sql[:6].upper() == "SELECT" and is_keyset_page(query)


def _most_common(sites: Iterable[tuple[Frame, ...]]) -> tuple[Frame, ...]:
    return Counter(sites).most_common(1)[0][0]


def _sorted_unique(findings: Sequence[Finding]) -> list[Finding]:
    """Most precise pattern first, then most executions; one finding per fingerprint and site."""
    ordered = sorted(findings, key=lambda f: (PATTERNS.index(f.pattern), -f.count, f.fingerprint))
    seen: set[tuple[str, tuple[Frame, ...]]] = set()
    unique = []
    for finding in ordered:
        key = (finding.fingerprint, finding.call_site)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique
