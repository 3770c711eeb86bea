"""/api/v1/safety: the safety monitor's latest run, and a run on demand; administrators only.

A run on demand does not take the request's transaction (``SessionDep``): the checks read in
sessions of their own and the performance probe writes and rolls back in its own, which on
SQLite an open request transaction (holding the write lock) would block. As the index routes
do, the caller is authenticated in a short read-only session that ends before the checks start.
It runs in the API process, so with the in-memory cache it samples this process's entries.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from verenigingen.safety import rollback, runner
from verenigingen.safety.models import Trigger
from verenigingen.safety.schemas import SafetyRunOut
from verenigingen.web.deps import (
    ContextDep,
    CurrentUser,
    CurrentUserOutsideTransaction,
    SessionDep,
    SessionEndingRoute,
)
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/safety",
    tags=["safety"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


@router.get("")
def latest_run(session: SessionDep, user: CurrentUser) -> SafetyRunOut:
    """The latest run of the safety checks with each check's result and the rollback or
    restore steps recorded against it; 404 ``no_safety_run`` before the first."""
    run, steps = runner.latest_run(session, user)
    return SafetyRunOut.of(run, steps)


@router.post("/check", status_code=status.HTTP_201_CREATED)
def run_checks(
    context: ContextDep,
    user: CurrentUserOutsideTransaction,
    auto_rollback: Annotated[bool, Query()] = False,
) -> SafetyRunOut:
    """Run the five checks now and record the run (201); with ``auto_rollback=true`` a critical
    failure runs the rollback steps, recorded with the run."""
    run = runner.run_checks(context, user, trigger=Trigger.API)
    if auto_rollback and run.critical_failed:
        report = rollback.roll_back(context, user, run)
        with context.read_sessions() as session:
            run, steps = runner.latest_run_of(session, report.run.id)
        return SafetyRunOut.of(run, steps)
    return SafetyRunOut.of(run, [])
