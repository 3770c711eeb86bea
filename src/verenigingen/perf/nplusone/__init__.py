"""N+1 detection: ``detect`` (lazy loads, repeats) on one capture, ``detect_scaling`` on two sizes.

See :mod:`verenigingen.perf.nplusone.detectors` for the rules and
:mod:`verenigingen.perf.nplusone.hints` for the remedies.
"""

from verenigingen.perf.nplusone.detectors import (
    GROWS_WITH_N,
    LAZY_LOAD,
    PATTERNS,
    REPEATED_IDENTICAL_QUERY,
    REPEATED_QUERY,
    Finding,
    detect,
    detect_scaling,
)

__all__ = [
    "GROWS_WITH_N",
    "LAZY_LOAD",
    "PATTERNS",
    "REPEATED_IDENTICAL_QUERY",
    "REPEATED_QUERY",
    "Finding",
    "detect",
    "detect_scaling",
]
