"""The automatic rollback, in the plan's order, and the restore that undoes it.

Rollback, after a run where a critical check failed:

1. **deferral off**: ``defer_heavy_handlers`` false, so the heavy follow-up work runs in the
   writer's transaction again, as the original system ran it;
2. **caches cleared**: every entry of the version-tagged cache (Redis: every process's; in
   memory: this process's only, which the step's detail says);
3. **strategic indexes rolled back**: the desired state ``strategic_indexes`` set to false and
   applied at once through the index manager's own mechanism (``indexes.desired``, as the job a
   change of the setting queues): each strategic index the manager added is dropped, recorded
   in the index ledger;
4. **confirmed**: the checks run again; the step says whether the critical ones pass now.

Each step is its own transaction and its own ``safety_rollback_step`` row with its outcome
(done, skipped when there was nothing to do, failed with the reason): a step that fails does not
stop the next. The settings are changed through ``settings.service`` and audited as changed by
``safety monitor (for <administrator>)``, so the audit tells an automatic change from a person's.
Every enabled administrator then gets a notification naming the failed checks and the outcome.

Restore (``verenigingen safety restore``) first runs the checks; if a critical one fails it
refuses (409 ``safety_checks_failing``). Otherwise it puts back what the rollbacks since the last
restore changed, recorded in their steps' ``undo``: the settings' earlier values, and the
strategic indexes added again (online, through ``indexes.desired``: every one when
``strategic_indexes`` is on again, else those the rollbacks dropped).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.db.session import unit_of_work
from verenigingen.errors import DomainError
from verenigingen.indexes.desired import apply_strategic_indexes, managed_strategic
from verenigingen.jobs.models import Indicator, Notification
from verenigingen.safety.errors import SafetyChecksFailing
from verenigingen.safety.models import (
    SafetyRollbackStep,
    SafetyRun,
    StepAction,
    StepOutcome,
    Trigger,
)
from verenigingen.safety.runner import RunReport, require_administrator, run_checks
from verenigingen.settings import runtime_of
from verenigingen.settings.service import set_setting

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    outcome: StepOutcome
    detail: str
    undo: dict[str, Any] | None = None


@dataclass(frozen=True)
class RollbackReport:
    run: RunReport
    """The run whose critical failure started the rollback."""
    steps: list[SafetyRollbackStep]
    confirmation: RunReport | None
    """The run of step 4."""


def actor_label(actor: User) -> str:
    """How the settings' audit names an automatic change."""
    return f"safety monitor (for {actor.email})"


def roll_back(context: AppContext, actor: User, run: RunReport) -> RollbackReport:
    """Run the four rollback steps after ``run``, record each, notify the administrators."""
    require_administrator(actor)
    confirmation: list[RunReport] = []

    def confirm() -> StepResult:
        again = run_checks(context, actor, trigger=Trigger.CONFIRM)
        confirmation.append(again)
        if again.critical_failed:
            failing = ", ".join(c.name for c in again.checks if c.critical and not c.passed)
            return StepResult(StepOutcome.FAILED, f"run {again.id}: still failing: {failing}")
        return StepResult(StepOutcome.DONE, f"run {again.id}: the critical checks pass")

    steps: list[tuple[str, Callable[[], StepResult]]] = [
        ("turn deferral off", lambda: _set_flags(context, actor, {"defer_heavy_handlers": False})),
        ("clear every cache", lambda: _clear_caches(context)),
        ("roll back the strategic indexes", lambda: _roll_back_indexes(context, actor)),
        ("re-run the checks", confirm),
    ]
    recorded = [
        _step(context, run.id, StepAction.ROLLBACK, position, name, action)
        for position, (name, action) in enumerate(steps, 1)
    ]
    with unit_of_work(context.sessions) as session:
        session.get_one(SafetyRun, run.id).rolled_back = True
        _notify(session, run, recorded)
    return RollbackReport(run, recorded, confirmation[0] if confirmation else None)


def restore(context: AppContext, actor: User) -> RollbackReport:
    """Turn the optimizations back on after a run without critical failures: what every rollback
    since the last restore switched off. 409 ``safety_checks_failing`` (the run recorded,
    nothing else changed) while a critical check fails."""
    require_administrator(actor)
    run = run_checks(context, actor, trigger=Trigger.CONFIRM)
    if run.critical_failed:
        failing = ", ".join(c.name for c in run.checks if c.critical and not c.passed)
        raise SafetyChecksFailing(
            f"the optimizations stay off: critical safety checks fail (run {run.id}): {failing}"
        )
    with context.read_sessions() as session:
        settings, indexes = _to_restore(session)
    steps: list[tuple[str, Callable[[], StepResult]]] = [
        ("turn the optimizations back on", lambda: _set_flags(context, actor, settings)),
        ("add the strategic indexes again", lambda: _add_indexes(context, actor, indexes)),
    ]
    recorded = [
        _step(context, run.id, StepAction.RESTORE, position, name, action)
        for position, (name, action) in enumerate(steps, 1)
    ]
    return RollbackReport(run, recorded, None)


def _step(
    context: AppContext,
    run_id: int,
    action: StepAction,
    position: int,
    name: str,
    perform: Callable[[], StepResult],
) -> SafetyRollbackStep:
    started = clock.now()
    try:
        result = perform()
    except (SQLAlchemyError, redis.RedisError, DomainError) as error:
        reason = error.detail if isinstance(error, DomainError) else f"{type(error).__name__}"
        log.error("safety %s step %r failed: %s", action.value, name, error)
        result = StepResult(StepOutcome.FAILED, f"failed: {reason}")
    with unit_of_work(context.sessions) as session:
        step = SafetyRollbackStep(
            run_id=run_id,
            action=action.value,
            position=position,
            name=name,
            outcome=result.outcome.value,
            detail=result.detail,
            undo=result.undo,
            started_at=started,
            finished_at=clock.now(),
        )
        session.add(step)
        session.flush()
        session.expunge(step)
    return step


def _set_flags(context: AppContext, actor: User, values: dict[str, bool]) -> StepResult:
    """Give the flags ``values``, audited as the safety monitor's; the undo holds the earlier
    values of those that changed."""
    changed: dict[str, bool] = {}
    with unit_of_work(context.sessions) as session:
        admin = session.get_one(User, actor.id)
        current = runtime_of(session)
        for name, value in values.items():
            before = current.value_of(name)
            if before == value:
                continue
            set_setting(session, admin, name, value, actor=actor_label(actor))
            changed[name] = bool(before)
    if not changed:
        return StepResult(StepOutcome.SKIPPED, "nothing to change: " + _flags_text(values))
    done = _flags_text({name: values[name] for name in changed})
    return StepResult(StepOutcome.DONE, f"set {done}", {"settings": changed})


def _flags_text(values: dict[str, bool]) -> str:
    return ", ".join(f"{name}={'true' if value else 'false'}" for name, value in values.items())


def _clear_caches(context: AppContext) -> StepResult:
    context.cache.clear()
    where = (
        "every process's entries (Redis)"
        if context.cache.backend.name == "redis"
        else "this process's entries (in memory; other processes drop theirs as versions move)"
    )
    return StepResult(StepOutcome.DONE, f"cleared {where}")


def _roll_back_indexes(context: AppContext, actor: User) -> StepResult:
    """The desired state ``strategic_indexes`` set to off, and applied now as the index manager's
    job applies it (indexes.desired): every strategic index the manager added rolled back,
    recorded in the ledger; an index built outside it is left. The job the change queues finds
    nothing left to do."""
    with context.read_sessions() as session:
        managed = managed_strategic(session)
    desired = _set_flags(context, actor, {"strategic_indexes": False})
    applied = apply_strategic_indexes(context.database, actor, present=False, names=managed)
    detail = (
        f"rolled back {', '.join(applied.rolled_back)}"
        if applied.rolled_back
        else "no strategic index to roll back"
    )
    if applied.failed:
        detail += "; not rolled back: " + "; ".join(applied.failed)
    undo = dict(desired.undo or {})
    if applied.rolled_back:
        undo["indexes"] = applied.rolled_back
    outcome = (
        StepOutcome.FAILED if applied.failed else StepOutcome.DONE if undo else StepOutcome.SKIPPED
    )
    return StepResult(outcome, detail, undo or None)


def _to_restore(session: Session) -> tuple[dict[str, bool], list[str]]:
    """The earlier values and the dropped indexes of every rollback step since the last
    restore (the earliest earlier value of a setting wins: the state before the first)."""
    last_restore = session.scalar(
        select(SafetyRollbackStep.id)
        .where(SafetyRollbackStep.action == StepAction.RESTORE)
        .order_by(SafetyRollbackStep.id.desc())
        .limit(1)
    )
    statement = select(SafetyRollbackStep).where(
        SafetyRollbackStep.action == StepAction.ROLLBACK,
        SafetyRollbackStep.undo.is_not(None),
    )
    if last_restore is not None:
        statement = statement.where(SafetyRollbackStep.id > last_restore)
    settings: dict[str, bool] = {}
    indexes: list[str] = []
    for step in session.scalars(statement.order_by(SafetyRollbackStep.id)):
        undo = step.undo or {}
        for name, value in (undo.get("settings") or {}).items():
            settings.setdefault(name, bool(value))
        indexes.extend(name for name in undo.get("indexes") or [] if name not in indexes)
    return settings, indexes


def _add_indexes(context: AppContext, actor: User, names: list[str]) -> StepResult:
    """The strategic indexes back as the restored ``strategic_indexes`` wants them (all of them
    when it is on again), or else those the rollbacks dropped; through the same mechanism as the
    setting's job (indexes.desired), each build recorded in the ledger."""
    with context.read_sessions() as session:
        wanted_on = bool(runtime_of(session).strategic_indexes)
    if not wanted_on and not names:
        return StepResult(StepOutcome.SKIPPED, "no strategic index was rolled back")
    applied = apply_strategic_indexes(
        context.database, actor, present=True, names=None if wanted_on else names
    )
    if not applied.changed and not applied.failed and not names:
        return StepResult(StepOutcome.SKIPPED, "no strategic index was rolled back")
    return StepResult(StepOutcome.FAILED if applied.failed else StepOutcome.DONE, applied.detail)


def _notify(session: Session, run: RunReport, steps: list[SafetyRollbackStep]) -> None:
    failed = ", ".join(run.failed_checks)
    outcomes = "; ".join(f"{s.position}. {s.name}: {s.outcome}" for s in steps)
    administrators = session.scalars(
        select(User.id).where(User.role == Role.ADMINISTRATOR, User.enabled.is_(True))
    ).all()
    for administrator_id in administrators:
        session.add(
            Notification(
                user_id=administrator_id,
                subject=f"Safety rollback after run {run.id}",
                message=(
                    f"Critical safety checks failed ({failed}); the optimizations were switched "
                    f"off: {outcomes}. `verenigingen safety restore` turns them back on once "
                    "the checks pass."
                ),
                indicator=Indicator.RED.value,
            )
        )
