"""The safety page's actions, for administrators: run the five checks now, and turn the
optimizations back on after a rollback (``verenigingen safety restore``), after a confirmation.

Both run as tracked jobs (``safety.check``, ``safety.restore``): the checks take seconds, and
they read and record in transactions of their own, which on SQLite would wait for the write
lock a page's request holds. The button queues the job and shows it on the jobs page, whose
row polls its progress; the safety page (``desk_admin``) shows the run once it is recorded. A
second press while one is queued or running is the same job (its dedup key).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.jobs import enqueue
from verenigingen.settings.service import require_administrator
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

CHECK_TASK = "safety.check"
RESTORE_TASK = "safety.restore"
CONFIRMED = "yes"

ChoiceField = Annotated[str, Form(max_length=10)]

CHECKS_QUEUED = flash_message(
    "safety_checks_queued",
    "success",
    N_("The safety checks are running as a job; the safety page shows the run when it ends."),
)
RESTORE_QUEUED = flash_message(
    "safety_restore_queued",
    "success",
    N_("The restore is running as a job: the checks first, then the optimizations back on."),
)


@router.post("/desk/safety/check")
def run_checks(
    request: Request, session: SessionDep, viewer: SignedIn, auto_rollback: ChoiceField = ""
) -> Response:
    """Queue the checks (with the rollback on a critical failure when ``auto_rollback`` is
    ``yes``), then the jobs page with the job."""
    require_desk_role(viewer)
    require_administrator(viewer)
    rollback = auto_rollback == CONFIRMED
    enqueue(
        session,
        CHECK_TASK,
        user=viewer,
        dedup_key=f"{CHECK_TASK}:{'rollback' if rollback else 'check'}",
        auto_rollback=rollback,
    )
    return _to_jobs(request, CHECK_TASK, CHECKS_QUEUED)


@router.get("/desk/safety/restore")
def confirm_restore(request: Request, viewer: SignedIn) -> Response:
    """What a restore does, and the button that starts it: one statement (the sign-in)."""
    require_desk_role(viewer)
    require_administrator(viewer)
    return render(request, "desk/safety_restore.html", {"nav": desk_nav(viewer)})


@router.post("/desk/safety/restore")
def restore(
    request: Request, session: SessionDep, viewer: SignedIn, confirmed: ChoiceField = ""
) -> Response:
    """Queue the restore once confirmed; without the confirmation, the confirmation page."""
    require_desk_role(viewer)
    require_administrator(viewer)
    if confirmed != CONFIRMED:
        return RedirectResponse("/desk/safety/restore", status_code=303)
    enqueue(session, RESTORE_TASK, user=viewer, dedup_key=RESTORE_TASK)
    return _to_jobs(request, RESTORE_TASK, RESTORE_QUEUED)


def _to_jobs(request: Request, task: str, message: str) -> Response:
    response = RedirectResponse(f"/desk/jobs?task={task}", status_code=303)
    flash(response, request, message)
    return response
