"""The safety monitor's runs and steps as the API shows them."""

from __future__ import annotations

from pydantic import BaseModel

from verenigingen.clock import UtcDateTime
from verenigingen.safety.models import SafetyRollbackStep
from verenigingen.safety.runner import RunReport


class CheckOut(BaseModel):
    name: str
    passed: bool
    critical: bool
    """A failure starts the automatic rollback."""
    message: str
    figures: dict[str, int | float | str | None]


class StepOut(BaseModel):
    action: str
    """``rollback`` or ``restore``."""
    position: int
    name: str
    outcome: str
    """``done``, ``skipped`` (nothing to do) or ``failed``."""
    detail: str
    started_at: UtcDateTime
    finished_at: UtcDateTime

    @classmethod
    def of(cls, step: SafetyRollbackStep) -> StepOut:
        return cls(
            action=step.action,
            position=step.position,
            name=step.name,
            outcome=step.outcome,
            detail=step.detail,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )


class SafetyRunOut(BaseModel):
    id: int
    trigger: str
    requested_by: str
    started_at: UtcDateTime
    finished_at: UtcDateTime
    passed: bool
    critical_failed: bool
    rolled_back: bool
    checks: list[CheckOut]
    steps: list[StepOut]

    @classmethod
    def of(cls, run: RunReport, steps: list[SafetyRollbackStep]) -> SafetyRunOut:
        return cls(
            id=run.id,
            trigger=run.trigger,
            requested_by=run.requested_by,
            started_at=run.started_at,
            finished_at=run.finished_at,
            passed=run.passed,
            critical_failed=run.critical_failed,
            rolled_back=run.rolled_back,
            checks=[CheckOut(**check.as_json()) for check in run.checks],
            steps=[StepOut.of(step) for step in steps],
        )
