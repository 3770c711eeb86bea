"""The strategic indexes on the desk's performance page, for administrators: each with its state
in the index ledger (created, rolled back, invalid), when and by whom, its measured impact, and
the buttons that measure it, roll it back and build it again.

Those three are the index manager's own operations (``indexes.service``, as the command line
and the API run them), queued as tracked jobs (``indexes.tasks``): they take seconds, and they
run DDL and write the ledger on connections of their own, which on SQLite would wait for the
write lock a page's request holds. A rollback or a build asks for a confirmation first; a
second press while the job waits or runs is the same job. The row shows the job's progress
until it ends; the ledger then shows what it did. An action the index's state does not allow
(a stale page) queues nothing and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.indexes import catalog
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.models import IndexChange, IndexState
from verenigingen.indexes.tasks import ADD, MEASURE_IMPACT, ROLLBACK, TASKS, dedup_key
from verenigingen.jobs import enqueue
from verenigingen.jobs.models import Job
from verenigingen.settings.service import require_administrator
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

CONFIRMED = "yes"
PERFORMANCE = "/desk/performance#indexes-heading"

IndexName = Annotated[str, Path(max_length=catalog.MAX_NAME_LENGTH)]
ChoiceField = Annotated[str, Form(max_length=10)]

IMPACT_QUEUED = flash_message(
    "index_impact_queued",
    "success",
    N_("The index's impact is being measured as a job; its progress shows in its row."),
)
ROLLBACK_QUEUED = flash_message(
    "index_rollback_queued",
    "success",
    N_("The index is being rolled back as a job; its progress shows in its row."),
)
ADD_QUEUED = flash_message(
    "index_add_queued",
    "success",
    N_("The index is being built as a job; its progress shows in its row."),
)
ACTION_REFUSED = flash_message(
    "index_action_refused",
    "warning",
    N_(
        "The index's state does not allow that now (the table shows it as it is); "
        "nothing was queued."
    ),
)
STATE_LABELS = {
    "declared": N_("declared by the models"),
    "absent": N_("not created"),
    IndexState.PLANNED: N_("planned"),
    IndexState.BUILDING: N_("building"),
    IndexState.VALID: N_("created"),
    IndexState.INVALID: N_("invalid"),
    IndexState.IGNORED: N_("ignored (rollback interrupted)"),
    IndexState.ROLLED_BACK: N_("rolled back"),
}


def measured_impact(change: IndexChange | None) -> float | None:
    """1 - (with the index) / (without it) over the reads its last measurement timed; None
    before a measurement."""
    if change is None or not change.timings_before or not change.timings_after:
        return None
    without = sum(float(ms) for ms in change.timings_before.values())
    with_index = sum(float(ms) for ms in change.timings_after.values())
    return 1 - with_index / without if without > 0 else None


@dataclass(frozen=True)
class StrategicIndex:
    """A strategic index as the ledger has it, with the jobs waiting or running on it."""

    spec: IndexSpec
    change: IndexChange | None
    """Its latest ledger entry; None when the index manager never touched it."""
    jobs: list[Job] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.change is None:
            return "declared" if self.spec.declared_by_models else "absent"
        return self.change.state

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    @property
    def impact(self) -> float | None:
        return measured_impact(self.change)

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    @property
    def may_measure(self) -> bool:
        return self.state in ("declared", IndexState.VALID)

    @property
    def may_roll_back(self) -> bool:
        """The manager added it and has not rolled it back (the models' own: a migration's)."""
        return not self.spec.declared_by_models and self.state in (
            IndexState.VALID,
            IndexState.INVALID,
            IndexState.IGNORED,
            IndexState.BUILDING,
        )

    @property
    def may_add(self) -> bool:
        return not self.spec.declared_by_models and self.state in (
            "absent",
            IndexState.ROLLED_BACK,
            IndexState.INVALID,
            IndexState.PLANNED,
        )


def strategic_indexes(session: Session) -> list[StrategicIndex]:
    """Every strategic index with its latest ledger entry and its waiting or running jobs: two
    statements (the ledger's index on the name, the jobs' unique active key), whatever the size
    of the ledger or of the jobs table."""
    names = catalog.strategic_names()
    latest = (
        select(func.max(IndexChange.id))
        .where(IndexChange.index_name.in_(names))
        .group_by(IndexChange.index_name)
    )
    changes = {
        change.index_name: change
        for change in session.scalars(select(IndexChange).where(IndexChange.id.in_(latest)))
    }
    keys = {dedup_key(task, name): name for task in TASKS for name in names}
    jobs: dict[str, list[Job]] = {name: [] for name in names}
    for job in session.scalars(
        select(Job).where(Job.active_dedup_key.in_(list(keys))).order_by(Job.id)
    ):
        jobs[keys[str(job.active_dedup_key)]].append(job)
    return [
        StrategicIndex(spec, changes.get(spec.name), jobs[spec.name]) for spec in catalog.STRATEGIC
    ]


def _strategic(session: Session, viewer: User, name: str) -> StrategicIndex:
    """The strategic index ``name`` as the ledger has it; 404 for any other name."""
    require_desk_role(viewer)
    require_administrator(viewer)
    spec = catalog.resolve(name)
    return next(index for index in strategic_indexes(session) if index.spec.name == spec.name)


def _queue(
    session: Session, viewer: User, request: Request, task: str, name: str, done: str
) -> Response:
    enqueue(session, task, user=viewer, dedup_key=dedup_key(task, name), max_retries=0, index=name)
    response = RedirectResponse(PERFORMANCE, status_code=303)
    flash(response, request, done)
    return response


def _refused(request: Request) -> Response:
    response = RedirectResponse(PERFORMANCE, status_code=303)
    flash(response, request, ACTION_REFUSED)
    return response


@router.post("/desk/performance/indexes/{name}/impact")
def measure_impact(
    request: Request, session: SessionDep, viewer: SignedIn, name: IndexName
) -> Response:
    """Queue the measurement of a present index (``indexes.measure_impact``)."""
    index = _strategic(session, viewer, name)
    if not index.may_measure:
        return _refused(request)
    return _queue(session, viewer, request, MEASURE_IMPACT, index.spec.name, IMPACT_QUEUED)


ACTIONS: dict[str, tuple[str, str]] = {
    "rollback": (ROLLBACK, ROLLBACK_QUEUED),
    "add": (ADD, ADD_QUEUED),
}


def _allowed(index: StrategicIndex, action: str) -> bool:
    return index.may_roll_back if action == "rollback" else index.may_add


def _confirmation(
    request: Request, session: Session, viewer: User, name: str, action: str
) -> Response:
    index = _strategic(session, viewer, name)
    if not _allowed(index, action):
        return _refused(request)
    return render(
        request,
        "desk/index_confirm.html",
        {"index": index, "action": action, "nav": desk_nav(viewer)},
    )


def _confirmed(
    request: Request, session: Session, viewer: User, name: str, action: str, confirmed: str
) -> Response:
    index = _strategic(session, viewer, name)
    if not _allowed(index, action):
        return _refused(request)
    if confirmed != CONFIRMED:
        return RedirectResponse(f"/desk/performance/indexes/{index.spec.name}/{action}", 303)
    task, done = ACTIONS[action]
    return _queue(session, viewer, request, task, index.spec.name, done)


@router.get("/desk/performance/indexes/{name}/rollback")
def confirm_rollback(
    request: Request, session: SessionDep, viewer: SignedIn, name: IndexName
) -> Response:
    """What a rollback does to this index, and the button that queues it: three statements
    (the sign-in, the ledger, the jobs)."""
    return _confirmation(request, session, viewer, name, "rollback")


@router.post("/desk/performance/indexes/{name}/rollback")
def rollback(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    name: IndexName,
    confirmed: ChoiceField = "",
) -> Response:
    """Queue the rollback (``indexes.rollback``) once confirmed; else the confirmation."""
    return _confirmed(request, session, viewer, name, "rollback", confirmed)


@router.get("/desk/performance/indexes/{name}/add")
def confirm_add(
    request: Request, session: SessionDep, viewer: SignedIn, name: IndexName
) -> Response:
    """What building this index does, and the button that queues it: three statements."""
    return _confirmation(request, session, viewer, name, "add")


@router.post("/desk/performance/indexes/{name}/add")
def add(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    name: IndexName,
    confirmed: ChoiceField = "",
) -> Response:
    """Queue the build (``indexes.add``) once confirmed; else the confirmation."""
    return _confirmed(request, session, viewer, name, "add", confirmed)
