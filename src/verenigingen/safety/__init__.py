"""The safety monitor: five checks on what the optimizations could break, and the automatic
rollback that switches the optimizations off when a critical check fails.

``runner.run_checks`` runs the checks and records the run; ``rollback.roll_back`` runs the
rollback steps in order (deferral off, every cache cleared, the strategic indexes rolled back,
the checks run again to confirm), each recorded with its outcome, and notifies the
administrators; ``rollback.restore`` turns the optimizations back on after a passing run.
Command ``verenigingen safety``, API ``/api/v1/safety``; docs/operations.md, "Safety monitor".
"""
