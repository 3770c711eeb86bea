"""Deterministic metrics of a workload run, the environment they were measured in, and the
committed baseline file that ``perf check`` compares against.

Query counts, executions per fingerprint and rows do not depend on the machine's speed, only on
the code, the data and the database engine; the environment key names exactly what they depend
on, so a baseline is compared only with runs that could reproduce it.
"""

from __future__ import annotations

import json
import platform
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy

from verenigingen import __version__
from verenigingen.perf import nplusone
from verenigingen.perf.capture import CapturedQuery, QueryLog
from verenigingen.perf.workloads.database import DemoDatabase, sqlite_version
from verenigingen.perf.workloads.runner import RunResult

FORMAT = 1
DIALECT = "sqlite"
"""The workloads run on their own SQLite copies of the demo association."""


class BaselineError(Exception):
    """The baseline file is missing, unreadable or not a baseline."""


def environment_key() -> dict[str, str]:
    """What the deterministic metrics depend on, and nothing that differs between two machines
    of the same kind (no hostname, no patch versions)."""
    return {
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
        "dialect": DIALECT,
        "dialect_major": sqlite_version().split(".")[0],
        "package": __version__,
    }


def environment() -> dict[str, str]:
    """The full description of where a profile ran, for the reader of a report."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "dialect": DIALECT,
        "dialect_version": sqlite_version(),
        "sqlalchemy": sqlalchemy.__version__,
        "package": __version__,
    }


def demo_description(database: DemoDatabase) -> dict[str, object]:
    o = database.options
    return {
        "members": o.members,
        "months": o.months,
        "seed": o.seed,
        "end": o.end.isoformat() if o.end else None,
    }


@dataclass
class FingerprintStat:
    id: str
    fingerprint: str
    count: int = 0
    rows: int = 0
    time_ns: int = 0
    call_site: list[str] = field(default_factory=list)
    """The most frequent call site of this statement, innermost frame first."""

    def to_dict(self, *, with_time: bool = True) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "count": self.count,
            "rows": self.rows,
            "call_site": self.call_site,
        }
        if with_time:
            data["time_ms"] = round(self.time_ns / 1e6, 3)
        return data


@dataclass
class QueryMetrics:
    queries: int
    rows: int
    fingerprints: dict[str, FingerprintStat]
    """By fingerprint id, most executed first."""


def query_metrics(log: QueryLog) -> QueryMetrics:
    stats: dict[str, FingerprintStat] = {}
    sites: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for query in log.queries:
        key = query.fingerprint_id
        stat = stats.get(key)
        if stat is None:
            stat = stats[key] = FingerprintStat(key, query.fingerprint)
        stat.count += 1
        stat.rows += query.rows or 0
        stat.time_ns += query.duration_ns
        sites[key][_site(query)] += 1
    for key, stat in stats.items():
        stat.call_site = list(sites[key].most_common(1)[0][0])
    ordered = sorted(stats.values(), key=lambda s: (-s.count, s.id))
    return QueryMetrics(log.count, log.rows, {stat.id: stat for stat in ordered})


def _site(query: CapturedQuery) -> tuple[str, ...]:
    return tuple(str(frame) for frame in query.call_site)


def n_plus_one_findings(result: RunResult) -> list[nplusone.Finding]:
    """The detector's findings, one unit of work at a time: a workload of 100 payments sends
    each statement 100 times by design; what matters is a repeat inside one request."""
    seen: dict[tuple[str, str, tuple[str, ...]], nplusone.Finding] = {}
    for log in result.logs:
        for finding in nplusone.detect(log):
            key = (finding.pattern, finding.fingerprint, tuple(map(str, finding.call_site)))
            if key not in seen or finding.count > seen[key].count:
                seen[key] = finding
    return list(seen.values())


def scaling_findings(
    small: RunResult, large: RunResult, small_n: int, large_n: int
) -> list[nplusone.Finding]:
    """Statements whose count grows with the association's size (same work, two sizes)."""
    return nplusone.detect_scaling(small.log, large.log, small_n, large_n)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def load_baseline(path: Path) -> dict[str, Any]:
    """The baseline document, or :class:`BaselineError` saying what is wrong with the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(
            f"no baseline at {path}; create it with `verenigingen perf check --update`"
        ) from None
    except OSError as error:
        raise BaselineError(f"cannot read the baseline {path}: {error.strerror}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise BaselineError(
            f"the baseline {path} is not valid JSON (line {error.lineno}: {error.msg}); "
            "restore it from git or rewrite it with `verenigingen perf check --update`"
        ) from None
    problem = _shape_problem(document)
    if problem:
        raise BaselineError(
            f"the baseline {path} is not a perf baseline ({problem}); "
            "restore it from git or rewrite it with `verenigingen perf check --update`"
        )
    return dict(document)


def _shape_problem(document: object) -> str | None:
    if not isinstance(document, dict):
        return "the top level is not an object"
    if document.get("format") != FORMAT:
        return f"format {document.get('format')!r}, expected {FORMAT}"
    key = document.get("environment_key")
    if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
        return "environment_key is missing"
    workloads = document.get("workloads")
    if not isinstance(workloads, dict):
        return "workloads is missing"
    for name, entry in workloads.items():
        if not isinstance(entry, dict):
            return f"workload {name} is not an object"
        for metric in ("iterations", "queries", "rows"):
            if not isinstance(entry.get(metric), int):
                return f"workload {name} has no integer {metric}"
        fingerprints = entry.get("fingerprints")
        if not isinstance(fingerprints, dict) or not all(
            isinstance(f, dict) and isinstance(f.get("count"), int) for f in fingerprints.values()
        ):
            return f"workload {name} has no fingerprint counts"
        if not isinstance(entry.get("scaling", []), list):
            return f"workload {name} has a scaling entry that is not a list"
    return None


def describe_key(key: dict[str, str]) -> str:
    return ", ".join(f"{name} {value}" for name, value in sorted(key.items()))


__all__ = [
    "BaselineError",
    "FingerprintStat",
    "QueryMetrics",
    "demo_description",
    "environment",
    "environment_key",
    "load_baseline",
    "n_plus_one_findings",
    "query_metrics",
    "scaling_findings",
    "write_json",
]
