"""Shapes in and out of the index manager, as the API shows them. The rules live in the service."""

from __future__ import annotations

from pydantic import BaseModel, Field

from verenigingen.indexes.dialects import BuildOptions
from verenigingen.indexes.impact import ImpactReport
from verenigingen.indexes.selection import IndexSelection
from verenigingen.indexes.service import AddOutcome, IndexStatus, RollbackOutcome


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
    def of(cls, s: IndexStatus) -> IndexStatusOut:
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

    def selection(self) -> IndexSelection:
        return IndexSelection(self.name, self.strategic, self.table, tuple(self.columns))

    def options(self) -> BuildOptions:
        return BuildOptions(self.lock_timeout_ms, self.statement_timeout_ms)


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

    @classmethod
    def of(cls, o: AddOutcome) -> AddOut:
        return cls(
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

    @classmethod
    def of(cls, o: RollbackOutcome) -> RollbackOut:
        return cls(
            name=o.spec.name,
            state=o.state,
            detail=o.detail,
            change_id=o.change_id,
            statements=o.statements,
        )
