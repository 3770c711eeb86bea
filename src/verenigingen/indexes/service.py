"""What may happen to an index: status, add (online, healing), impact, rollback; for administrators.

The index manager is its own transaction boundary, unlike the domain services: DDL cannot share
the caller's transaction (PostgreSQL refuses ``CONCURRENTLY`` inside one, MariaDB commits around
every DDL statement), and the ledger must show ``building`` *before* the build starts so that a
crash mid-build leaves a trace. So the functions here take the engine, run DDL on dedicated
connections (``dialects``), and record every step in short transactions of their own through
:func:`verenigingen.db.session.unit_of_work`, the helper the other boundaries use.

Every operation that changes or measures an index holds that index's lock from its first look at
the index to its last ledger write (:mod:`verenigingen.indexes.locking`): a second operation on
the same index is refused at once with 409 ``index_busy`` and writes nothing. What the database
refuses on the way (a lock wait that timed out, a lost connection) leaves as a named error, not
as the database's own text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.errors import PermissionDenied
from verenigingen.indexes import catalog, impact
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.dialects import (
    BuildFailed,
    BuildOptions,
    ExistingIndex,
    IndexOperation,
    for_engine,
)
from verenigingen.indexes.errors import (
    IndexDeclaredByModels,
    IndexLockTimeout,
    IndexNameTaken,
    IndexNotBuilt,
    IndexNotManaged,
    IndexOperationInterrupted,
    IndexRollbackInterrupted,
    IndexWithoutProbes,
    UnknownIndex,
)
from verenigingen.indexes.locking import exclusive
from verenigingen.indexes.models import IndexChange, IndexState


def require_administrator(user: User) -> None:
    if not user.enabled or user.role != Role.ADMINISTRATOR:
        raise PermissionDenied("only an administrator may manage indexes")


@contextlib.contextmanager
def _ledger(engine: Engine) -> Iterator[Session]:
    with unit_of_work(make_session_factory(engine)) as session:
        yield session


@contextlib.contextmanager
def _database_refusals_named(
    engine: Engine, operation: IndexOperation, names: Sequence[str]
) -> Iterator[None]:
    """What the database refuses during ``operation`` as a named error: its own text in a 503
    would tell the administrator neither what stopped nor what to do next."""
    try:
        yield
    except OperationalError as error:
        said = (str(error.orig).splitlines() or ["no reason given"])[0]
        stopped = f"{operation} of {', '.join(names)} stopped"
        if for_engine(engine).lock_timed_out(error):
            raise IndexLockTimeout(
                f"{stopped}: the database gave up waiting for a lock on the table (a long "
                "transaction or another change holds it); the ledger shows how far it got, try "
                f"again when the table is free (the database said: {said})"
            ) from error
        raise IndexOperationInterrupted(
            f"{stopped}: the database failed ({said}); `verenigingen indexes status` shows what "
            "it has now"
        ) from error


def _update(engine: Engine, change_id: int, **values: object) -> None:
    with _ledger(engine) as session:
        change = session.get_one(IndexChange, change_id)
        for name, value in values.items():
            setattr(change, name, value)


def _existing(engine: Engine, table: str) -> tuple[dict[str, ExistingIndex], list[str]]:
    dialect = for_engine(engine)
    with engine.connect() as connection:
        indexes = {i.name: i for i in dialect.existing_indexes(connection, table)}
        return indexes, dialect.leftovers(connection, table)


def _latest_change(session: Session, name: str) -> IndexChange | None:
    return session.scalar(
        select(IndexChange)
        .where(IndexChange.index_name == name)
        .order_by(IndexChange.id.desc())
        .limit(1)
    )


def find_spec(engine: Engine, name: str) -> IndexSpec:
    """A declared index, or an ad-hoc one the ledger knows (its table and columns re-validated)."""
    try:
        return catalog.resolve(name)
    except UnknownIndex:
        with _ledger(engine) as session:
            change = _latest_change(session, name)
        if change is None:
            raise
        return catalog.validate(
            IndexSpec(name, change.table_name, tuple(change.columns), "ad-hoc (from the ledger)")
        )


@dataclass
class AddOutcome:
    spec: IndexSpec
    action: str
    """``built``, ``healed`` (an invalid index dropped and rebuilt), ``skipped`` or ``failed``."""
    state: str
    detail: str
    change_id: int | None = None
    statements: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.action == "failed"


def add_indexes(
    engine: Engine, user: User, specs: Sequence[IndexSpec], options: BuildOptions | None = None
) -> list[AddOutcome]:
    """Add each index online; one failing does not stop the others (each is recorded).

    Holds the lock of every index asked for until the last is done: 409 ``index_busy`` before
    anything is built when another operation holds one of them."""
    require_administrator(user)
    for spec in specs:
        catalog.validate(spec)  # all checked before the first DDL runs
    names = [spec.name for spec in specs]
    with (
        _database_refusals_named(engine, IndexOperation.ADD, names),
        exclusive(engine, names, IndexOperation.ADD),
    ):
        return [_add(engine, user, spec, options or BuildOptions()) for spec in specs]


def _add(engine: Engine, user: User, spec: IndexSpec, options: BuildOptions) -> AddOutcome:
    dialect = for_engine(engine)
    existing, leftovers = _existing(engine, spec.table)
    current = existing.get(spec.name)
    if current is not None and current.valid:
        if current.columns != spec.columns:
            raise IndexNameTaken(
                f"an index {spec.name} already exists on {spec.table} with other columns "
                f"({', '.join(current.columns)})"
            )
        if current.ignored:
            raise IndexRollbackInterrupted(
                f"{spec.name} is IGNORED (a rollback was interrupted); roll it back"
            )
        return AddOutcome(
            spec, "skipped", IndexState.VALID, "already exists and valid", leftovers=leftovers
        )
    twin = next(
        (i for i in existing.values() if i.columns == spec.columns and i.valid and not i.ignored),
        None,
    )
    if twin is not None:
        detail = f"already covered by {twin.name} on the same columns"
        return AddOutcome(spec, "skipped", IndexState.VALID, detail, leftovers=leftovers)

    healing = current is not None  # present but invalid: a failed earlier build
    statements = ([dialect.drop_ddl(engine, spec)] if healing else []) + dialect.create_ddl(
        engine, spec
    )
    plan_before = impact.current_plans(engine, spec, user) if spec.probes else None
    with _ledger(engine) as session:
        change = IndexChange(
            dialect=dialect.name,
            table_name=spec.table,
            index_name=spec.name,
            columns=list(spec.columns),
            ddl="\n".join(statements),
            inverse_ddl=dialect.drop_ddl(engine, spec),
            state=IndexState.PLANNED,
            plan_before=plan_before,
            note="rebuilding an invalid index left by a failed build" if healing else None,
            requested_by=user.email,
        )
        session.add(change)
        session.flush()
        change_id = change.id
    _update(engine, change_id, state=IndexState.BUILDING)
    started = time.perf_counter()
    try:
        sent = dialect.build(engine, spec, options)
    except BuildFailed as failure:
        state = IndexState.INVALID if failure.built else IndexState.PLANNED
        _update(engine, change_id, state=state, note=failure.detail, finished_at=clock.now())
        return AddOutcome(
            spec,
            "failed",
            state,
            failure.detail,
            change_id,
            statements=failure.statements,
            leftovers=leftovers,
        )
    build_ms = (time.perf_counter() - started) * 1000
    built = _existing(engine, spec.table)[0].get(spec.name)
    if built is None or not built.valid:
        detail = "the build finished but the database does not list a valid index"
        _update(engine, change_id, state=IndexState.INVALID, note=detail, finished_at=clock.now())
        return AddOutcome(spec, "failed", IndexState.INVALID, detail, change_id, sent, leftovers)
    plan_after = impact.current_plans(engine, spec, user) if spec.probes else None
    _update(
        engine,
        change_id,
        state=IndexState.VALID,
        plan_after=plan_after,
        build_ms=round(build_ms, 3),
        finished_at=clock.now(),
    )
    action = "healed" if healing else "built"
    detail = f"built in {build_ms:.0f} ms" + (" (an invalid index was rebuilt)" if healing else "")
    return AddOutcome(spec, action, IndexState.VALID, detail, change_id, sent, leftovers)


def measure_impact(
    engine: Engine, user: User, name: str, runs: int = impact.DEFAULT_RUNS
) -> impact.ImpactReport:
    """Plans and interleaved median timings of the index's reads with and without it; the
    result is written to the index's latest ledger entry when the manager added it.

    Holds the index's lock while it measures: 409 ``index_busy`` when another operation has it."""
    require_administrator(user)
    with _database_refusals_named(engine, IndexOperation.IMPACT, [name]):
        spec = find_spec(engine, name)
        with exclusive(engine, [spec.name], IndexOperation.IMPACT):
            return _measure_impact(engine, user, spec, runs)


def _measure_impact(engine: Engine, user: User, spec: IndexSpec, runs: int) -> impact.ImpactReport:
    current = _existing(engine, spec.table)[0].get(spec.name)
    if current is None or not current.valid or current.ignored:
        raise IndexNotBuilt(f"{spec.name} is not built and valid; add it first")
    if not spec.probes:
        raise IndexWithoutProbes(f"{spec.name} declares no reads to measure (an ad-hoc index)")
    report = impact.measure_index(engine, spec, user, runs)
    with _ledger(engine) as session:
        change = _latest_change(session, spec.name)
        if change is not None and change.state == IndexState.VALID:
            change.plan_before = report.plans(with_index=False)
            change.plan_after = report.plans(with_index=True)
            change.timings_before = report.timings(with_index=False)
            change.timings_after = report.timings(with_index=True)
            if report.flagged:
                change.note = (
                    f"improves its reads by {report.improvement:.0%}, below the "
                    f"{impact.IMPROVEMENT_BAR:.0%} bar: rollback offered"
                )
    return report


@dataclass
class RollbackOutcome:
    spec: IndexSpec
    state: str
    detail: str
    change_id: int
    statements: list[str]


def rollback_index(
    engine: Engine, user: User, name: str, options: BuildOptions | None = None
) -> RollbackOutcome:
    """Remove an index the manager added: MariaDB marks it IGNORED first and measures its
    reads without it before dropping; PostgreSQL drops it concurrently; SQLite drops it.

    Holds the index's lock until the drop is recorded: 409 ``index_busy`` when another operation
    has it."""
    require_administrator(user)
    with _database_refusals_named(engine, IndexOperation.ROLLBACK, [name]):
        spec = find_spec(engine, name)
        with exclusive(engine, [spec.name], IndexOperation.ROLLBACK):
            return _rollback(engine, user, spec, options or BuildOptions())


def _rollback(
    engine: Engine, user: User, spec: IndexSpec, options: BuildOptions
) -> RollbackOutcome:
    if spec.declared_by_models:
        raise IndexDeclaredByModels(
            f"{spec.name} is declared by the models; only a migration may drop it"
        )
    with _ledger(engine) as session:
        change = _latest_change(session, spec.name)
        if change is None or change.state == IndexState.ROLLED_BACK:
            raise IndexNotManaged(
                f"{spec.name} was not added by the index manager; nothing to roll back"
            )
        change_id = change.id
    dialect = for_engine(engine)
    statements: list[str] = []
    notes: list[str] = []
    if spec.name in _existing(engine, spec.table)[0]:
        if spec.probes:
            notes.append(f"reads with the index: {impact.median_now(engine, spec, user):.3f} ms")
        if dialect.ignore(engine, spec, options):
            statements.append(f"ALTER TABLE {spec.table} ALTER INDEX {spec.name} IGNORED")
            _update(engine, change_id, state=IndexState.IGNORED)
            if spec.probes:
                ignored_ms = impact.median_now(engine, spec, user)
                notes.append(f"reads while IGNORED: {ignored_ms:.3f} ms")
        dialect.drop(engine, spec, options)
        statements.append(dialect.drop_ddl(engine, spec))
    else:
        notes.append("the index was already gone")
    detail = "; ".join(notes) or "dropped"
    _update(
        engine, change_id, state=IndexState.ROLLED_BACK, rolled_back_at=clock.now(), note=detail
    )
    return RollbackOutcome(spec, IndexState.ROLLED_BACK, detail, change_id, statements)


@dataclass
class IndexStatus:
    spec: IndexSpec
    present: bool
    valid: bool
    ignored: bool
    ledger_state: str | None
    requested_by: str | None
    changed_at: str | None
    note: str | None
    leftovers: list[str]


def index_status(engine: Engine, user: User) -> list[IndexStatus]:
    """Every declared index and every index the ledger knows, as the database has them now."""
    require_administrator(user)
    with _ledger(engine) as session:
        names = list(
            dict.fromkeys(
                [*catalog.strategic_names(), *session.scalars(select(IndexChange.index_name))]
            )
        )
    statuses = []
    for name in names:
        spec = find_spec(engine, name)
        existing, leftovers = _existing(engine, spec.table)
        current = existing.get(name)
        with _ledger(engine) as session:
            change = _latest_change(session, name)
        statuses.append(
            IndexStatus(
                spec,
                present=current is not None,
                valid=current is not None and current.valid,
                ignored=current is not None and current.ignored,
                ledger_state=change.state if change else None,
                requested_by=change.requested_by if change else None,
                changed_at=str(change.created_at) if change else None,
                note=change.note if change else None,
                leftovers=leftovers,
            )
        )
    return statuses
