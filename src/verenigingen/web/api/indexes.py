"""/api/v1/perf/indexes: the online index manager, for administrators only.

These routes do not take the request's transaction (``SessionDep``): the index manager runs DDL
on connections of its own and records each step itself (see ``indexes.service``), and on SQLite
an open request transaction would hold the write lock the ledger needs. So the caller is
authenticated by ``CurrentUserOutsideTransaction``, in a short read-only session that ends before
any work starts; the service refuses anyone but an administrator.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection, Engine

from verenigingen.indexes import service
from verenigingen.indexes.errors import IndexBuildFailed
from verenigingen.indexes.schemas import AddIn, AddOut, ImpactOut, IndexStatusOut, RollbackOut
from verenigingen.indexes.selection import select_indexes
from verenigingen.web.deps import CurrentUserOutsideTransaction, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/perf/indexes",
    tags=["indexes"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)


def _engine(request: Request) -> Engine:
    bind = request.app.state.session_factory.kw["bind"]
    return bind.engine if isinstance(bind, Connection) else bind


EngineDep = Annotated[Engine, Depends(_engine)]


@router.get("")
def index_status(engine: EngineDep, user: CurrentUserOutsideTransaction) -> list[IndexStatusOut]:
    """Every declared index and every index in the ledger, as the database has it now."""
    return [IndexStatusOut.of(s) for s in service.index_status(engine, user)]


@router.post("")
def add_indexes(
    engine: EngineDep, user: CurrentUserOutsideTransaction, body: AddIn
) -> list[AddOut]:
    """Build indexes online; 409 when a build failed (the ledger records why), 409 ``index_busy``
    (nothing built) when another operation holds one of them."""
    specs = select_indexes(user, body.selection())
    outcomes = service.add_indexes(engine, user, specs, body.options())
    if failed := [o for o in outcomes if o.failed]:
        raise IndexBuildFailed("; ".join(f"{o.spec.name}: {o.state}: {o.detail}" for o in failed))
    return [AddOut.of(o) for o in outcomes]


@router.post("/{name}/impact")
def measure_impact(engine: EngineDep, user: CurrentUserOutsideTransaction, name: str) -> ImpactOut:
    """The index's reads planned and timed with and without it; ``flagged`` below 30 %; 409
    ``index_busy`` when another operation holds the index."""
    return ImpactOut.of(service.measure_impact(engine, user, name))


@router.post("/{name}/rollback")
def rollback_index(
    engine: EngineDep, user: CurrentUserOutsideTransaction, name: str
) -> RollbackOut:
    """Remove an index the manager added; 409 ``index_busy`` when another operation holds it."""
    return RollbackOut.of(service.rollback_index(engine, user, name))
