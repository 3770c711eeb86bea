"""Rules of the safety monitor (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, NotFound


class SafetyChecksFailing(Conflict):
    """A restore was asked for while a critical safety check fails: the optimizations stay off
    (the run that refused it is recorded)."""

    code = "safety_checks_failing"


class NoSafetyRun(NotFound):
    """The safety checks have never run."""

    code = "no_safety_run"
