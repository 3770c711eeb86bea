"""/api/v1/perf/indexes: the online index manager, for administrators only.

These routes do not take the request's transaction (``SessionDep``): the index manager runs DDL
on connections of its own and records each step itself (see ``indexes.service``), and on SQLite
an open request transaction would hold the write lock the ledger needs. The caller is
authenticated in a short read-only session before any work starts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine

from verenigingen.auth.models import User
from verenigingen.auth.service import authenticate_token
from verenigingen.db.session import read_only
from verenigingen.errors import Conflict, NotAuthenticated, ValidationFailed
from verenigingen.indexes import catalog, service
from verenigingen.indexes.dialects import BuildOptions
from verenigingen.indexes.impact import ImpactReport
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    prefix="/perf/indexes",
    tags=["indexes"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)
_bearer = HTTPBearer(auto_error=False)


def _engine(request: Request) -> Engine:
    bind = request.app.state.session_factory.kw["bind"]
    return bind.engine if isinstance(bind, Connection) else bind


def administrator(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("send an API token as 'Authorization: Bearer <token>'")
    with read_only(request.app.state.session_factory) as session:
        user = authenticate_token(session, credentials.credentials)
        session.expunge(user)  # keep its loaded attributes past the session's end
    service.require_administrator(user)
    return user


Administrator = Annotated[User, Depends(administrator)]
EngineDep = Annotated[Engine, Depends(_engine)]


class IndexStatusOut(BaseModel):
    name: str
    table: str
    columns: list[str]
    strategic: bool
    purpose: str
    present: bool
    valid: bool
    ignored: bool
    ledger_state: str | None
    requested_by: str | None
    changed_at: str | None
    note: str | None
    leftovers: list[str]

    @classmethod
    def of(cls, s: service.IndexStatus) -> IndexStatusOut:
        return cls(
            name=s.spec.name,
            table=s.spec.table,
            columns=list(s.spec.columns),
            strategic=s.spec.strategic,
            purpose=s.spec.purpose,
            present=s.present,
            valid=s.valid,
            ignored=s.ignored,
            ledger_state=s.ledger_state,
            requested_by=s.requested_by,
            changed_at=s.changed_at,
            note=s.note,
            leftovers=s.leftovers,
        )


class AddIn(BaseModel):
    name: str | None = Field(None, description="a declared index")
    strategic: bool = Field(False, description="every declared strategic index")
    table: str | None = Field(None, description="with columns: an ad-hoc (advisor) index")
    columns: list[str] = Field(default_factory=list)
    lock_timeout_ms: int = Field(5_000, ge=1, le=600_000)
    statement_timeout_ms: int = Field(0, ge=0, le=86_400_000)


class AddOut(BaseModel):
    name: str
    table: str
    columns: list[str]
    action: str
    state: str
    detail: str
    change_id: int | None
    statements: list[str]
    leftovers: list[str]


class QueryImpactOut(BaseModel):
    sql: str
    plan_without: str
    plan_with: str
    median_without_ms: float
    median_with_ms: float
    improvement: float
    uses_index: bool


class ImpactOut(BaseModel):
    index: str
    table: str
    runs: int
    improvement: float
    flagged: bool
    rollback: str | None
    """Where to roll the index back when it is flagged."""
    queries: list[QueryImpactOut]

    @classmethod
    def of(cls, report: ImpactReport) -> ImpactOut:
        return cls(
            index=report.index,
            table=report.table,
            runs=report.runs,
            improvement=round(report.improvement, 4),
            flagged=report.flagged,
            rollback=f"/api/v1/perf/indexes/{report.index}/rollback" if report.flagged else None,
            queries=[
                QueryImpactOut(
                    sql=q.sql,
                    plan_without=q.plan_without,
                    plan_with=q.plan_with,
                    median_without_ms=round(q.median_without_ms, 4),
                    median_with_ms=round(q.median_with_ms, 4),
                    improvement=round(q.improvement, 4),
                    uses_index=q.uses_index,
                )
                for q in report.queries
            ],
        )


class RollbackOut(BaseModel):
    name: str
    state: str
    detail: str
    change_id: int
    statements: list[str]


@router.get("")
def index_status(engine: EngineDep, user: Administrator) -> list[IndexStatusOut]:
    """Every declared index and every index in the ledger, as the database has it now."""
    return [IndexStatusOut.of(s) for s in service.index_status(engine, user)]


@router.post("")
def add_indexes(engine: EngineDep, user: Administrator, body: AddIn) -> list[AddOut]:
    """Build indexes online; 409 when a build failed (the ledger records why)."""
    if body.strategic:
        specs = list(catalog.STRATEGIC)
    elif body.name:
        specs = [catalog.resolve(body.name)]
    elif body.table:
        specs = [catalog.adhoc(body.table, tuple(body.columns))]
    else:
        raise ValidationFailed("give name, strategic: true, or table with columns")
    options = BuildOptions(body.lock_timeout_ms, body.statement_timeout_ms)
    outcomes = service.add_indexes(engine, user, specs, options)
    failed = [o for o in outcomes if o.failed]
    if failed:
        raise Conflict("; ".join(f"{o.spec.name}: {o.state}: {o.detail}" for o in failed))
    return [
        AddOut(
            name=o.spec.name,
            table=o.spec.table,
            columns=list(o.spec.columns),
            action=o.action,
            state=o.state,
            detail=o.detail,
            change_id=o.change_id,
            statements=o.statements,
            leftovers=o.leftovers,
        )
        for o in outcomes
    ]


@router.post("/{name}/impact")
def measure_impact(engine: EngineDep, user: Administrator, name: str) -> ImpactOut:
    """The index's reads planned and timed with and without it; ``flagged`` below 30 %."""
    return ImpactOut.of(service.measure_impact(engine, user, name))


@router.post("/{name}/rollback")
def rollback_index(engine: EngineDep, user: Administrator, name: str) -> RollbackOut:
    outcome = service.rollback_index(engine, user, name)
    return RollbackOut(
        name=outcome.spec.name,
        state=outcome.state,
        detail=outcome.detail,
        change_id=outcome.change_id,
        statements=outcome.statements,
    )
