"""What the safety monitor keeps: each run of the checks, and each step of a rollback or restore."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verenigingen.db.base import Base, BigIntKey, IdMixin


class Trigger(enum.StrEnum):
    COMMAND = "command"
    """``verenigingen safety check``."""
    API = "api"
    """``POST /api/v1/safety/check``."""
    CONFIRM = "confirm"
    """The re-run that ends a rollback, or that a restore asks for first."""
    SCHEDULE = "schedule"
    """The workers' scheduled run (``safety_check_interval_minutes``)."""
    DESK = "desk"
    """An administrator's button on the desk's safety page (run as a job: ``safety.check``)."""


class StepAction(enum.StrEnum):
    ROLLBACK = "rollback"
    RESTORE = "restore"


class StepOutcome(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"
    """Nothing to do (the setting was off already, no strategic index to roll back)."""
    FAILED = "failed"


class SafetyRun(IdMixin, Base):
    """One run of the five safety checks."""

    __tablename__ = "safety_run"

    trigger: Mapped[str] = mapped_column(String(20))
    """A :class:`Trigger`."""
    requested_by: Mapped[str] = mapped_column(String(255))
    """The e-mail of the administrator in whose name it ran."""
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime]
    passed: Mapped[bool]
    """Every check passed."""
    critical_failed: Mapped[bool]
    """A critical check failed: what ``--auto-rollback`` acts on."""
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each check's result (``safety.checks.CheckResult.as_json``), in the order they ran."""
    rolled_back: Mapped[bool]
    """The rollback steps ran after this run."""


class SafetyRollbackStep(IdMixin, Base):
    """One step of the rollback that followed a run, or of a restore, with its outcome."""

    __tablename__ = "safety_rollback_step"
    __table_args__ = (Index("ix_safety_rollback_step_run_id", "run_id"),)

    run_id: Mapped[int] = mapped_column(BigIntKey, ForeignKey("safety_run.id"))
    """The run that caused the rollback, or that a restore was allowed by."""
    action: Mapped[str] = mapped_column(String(20))
    """A :class:`StepAction`."""
    position: Mapped[int]
    """1, 2, ... in the order the steps ran."""
    name: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    """A :class:`StepOutcome`."""
    detail: Mapped[str] = mapped_column(Text)
    undo: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What a restore puts back after this rollback step: ``{"settings": {name: value},
    "indexes": [name, ...]}``; None for a step that changed nothing."""
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime]
