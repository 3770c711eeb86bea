"""``verenigingen indexes``: status, advise, add, impact and rollback of online indexes.

Exit codes: 0 done, 1 a build failed or (``advise --fail-on-missing``) an index is missing,
2 bad input (an unknown index, table or column) — nothing was run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import Engine

from verenigingen.auth.models import User
from verenigingen.cli.context import (
    console,
    fail,
    ready_context,
    ready_engine,
    system_user,
    transaction,
)
from verenigingen.errors import DomainError, NotFound, ValidationFailed
from verenigingen.indexes import advisor, service
from verenigingen.indexes.dialects import BuildOptions
from verenigingen.indexes.errors import ScratchUnavailable
from verenigingen.indexes.impact import DEFAULT_RUNS, IMPROVEMENT_BAR, ImpactReport
from verenigingen.indexes.scratch import DemoCopy, ScratchSource, ServerDatabaseCopy, SqliteFileCopy
from verenigingen.indexes.selection import IndexSelection, select_indexes
from verenigingen.perf.workloads import UnknownWorkload

app = typer.Typer(
    help="Safe online indexes: add, measure, roll back, advise.", no_args_is_help=True
)


@contextlib.contextmanager
def _manager() -> Iterator[tuple[Engine, User]]:
    """The engine and the acting administrator; a domain error becomes a one-line exit."""
    context = ready_context()
    engine = context.database
    try:
        with transaction(context) as session:
            user = system_user(session)
        try:
            yield engine, user
        except (ValidationFailed, NotFound) as error:
            raise fail(error.detail, 2) from None
        except DomainError as error:
            raise fail(error.detail) from None
    finally:
        engine.dispose()


def _state(present: bool, valid: bool, ignored: bool) -> str:
    if not present:
        return "absent"
    if ignored:
        return "[yellow]ignored[/]"
    return "[green]valid[/]" if valid else "[red]invalid[/]"


@app.command("status")
def status() -> None:
    """The declared indexes and every index in the ledger, as the database has them now."""
    with _manager() as (engine, user):
        rows = service.index_status(engine, user)
    table = Table(title=f"Indexes on {engine.dialect.name}")
    for column in ("index", "table", "columns", "database", "ledger", "by", "when", "note"):
        table.add_column(column)
    for s in rows:
        table.add_row(
            s.spec.name + (" *" if s.spec.strategic else ""),
            s.spec.table,
            ", ".join(s.spec.columns),
            _state(s.present, s.valid, s.ignored),
            s.ledger_state or "-",
            s.requested_by or "-",
            s.changed_at or "-",
            s.note or "",
        )
    console.print(table)
    console.print("* strategic (declared in verenigingen.indexes.catalog)")
    for leftover in sorted({name for s in rows for name in s.leftovers}):
        console.print(f"[yellow]leftover of a failed concurrent build:[/] {leftover}")


@app.command("add")
def add(
    name: str | None = typer.Argument(None, help="A declared index."),
    strategic: bool = typer.Option(False, "--strategic", help="Every strategic index."),
    table_name: str | None = typer.Option(None, "--table", help="Ad-hoc: the table …"),
    columns: list[str] | None = typer.Option(None, "--column", help="… and its columns."),
    lock_timeout_ms: int = typer.Option(5_000, min=1, help="Longest wait for a lock."),
    statement_timeout_ms: int = typer.Option(
        0, min=0, help="PostgreSQL: cancel a longer build (0: none)."
    ),
) -> None:
    """Build indexes online (already valid ones are skipped); every change is recorded."""
    with _manager() as (engine, user):
        selection = IndexSelection(name, strategic, table_name, tuple(columns or ()))
        specs = select_indexes(user, selection)
        options = BuildOptions(lock_timeout_ms, statement_timeout_ms)
        outcomes = service.add_indexes(engine, user, specs, options)
    table = Table(title=f"Add on {engine.dialect.name}")
    for column in ("index", "table", "columns", "action", "state", "detail"):
        table.add_column(column)
    for o in outcomes:
        colour = {"failed": "red", "skipped": "dim"}.get(o.action, "green")
        table.add_row(
            o.spec.name,
            o.spec.table,
            ", ".join(o.spec.columns),
            f"[{colour}]{o.action}[/]",
            o.state,
            o.detail,
        )
    console.print(table)
    for leftover in sorted({name for o in outcomes for name in o.leftovers}):
        console.print(f"[yellow]leftover of a failed concurrent build:[/] {leftover}")
    if any(o.failed for o in outcomes):
        raise typer.Exit(1)


def _first_line(plan: str, index: str) -> str:
    """The plan line that names an index or a scan: what changed, in one line."""
    lines = [line.strip() for line in plan.splitlines() if line.strip()]
    for line in lines:
        if index in line or "scan" in line.lower() or "search" in line.lower():
            return line[:90]
    return lines[0][:90] if lines else ""


def _print_impact(report: ImpactReport) -> None:
    table = Table(title=f"Impact of {report.index} (median of {report.runs} interleaved runs)")
    for column in ("query", "plan without", "plan with", "without", "with", "gain"):
        table.add_column(
            column, justify="right" if column in ("without", "with", "gain") else "left"
        )
    for q in report.queries:
        table.add_row(
            q.sql[:70],
            _first_line(q.plan_without, report.index),
            _first_line(q.plan_with, report.index),
            f"{q.median_without_ms:.3f} ms",
            f"{q.median_with_ms:.3f} ms",
            f"{q.improvement:.0%}",
        )
    console.print(table)
    console.print(
        f"{report.index}: {report.total_without_ms:.3f} ms → {report.total_with_ms:.3f} ms "
        f"({report.improvement:.0%})"
    )


@app.command("impact")
def impact(
    name: str | None = typer.Argument(None, help="An index (default: every present one)."),
    runs: int = typer.Option(DEFAULT_RUNS, min=1, max=100, help="Interleaved runs per side."),
    rollback: bool = typer.Option(
        False, "--rollback-if-flagged", help="Roll back a flagged index without asking."
    ),
) -> None:
    """Plans and median times of each index's reads with and without it; an index that gains
    less than 30 % is flagged and its rollback offered."""
    with _manager() as (engine, user):
        if name:
            names = [service.find_spec(engine, name).name]
        else:
            names = [s.spec.name for s in service.index_status(engine, user) if s.valid]
        for index in names:
            report = service.measure_impact(engine, user, index, runs)
            _print_impact(report)
            if not report.flagged:
                continue
            console.print(
                f"[yellow]{index} improves its reads by less than {IMPROVEMENT_BAR:.0%}.[/]"
            )
            spec = service.find_spec(engine, index)
            if spec.declared_by_models:
                console.print("It is declared by the models; only a migration may drop it.")
            elif rollback or (
                console.is_interactive and typer.confirm(f"Roll back {index}?", default=False)
            ):
                outcome = service.rollback_index(engine, user, index)
                console.print(f"{index}: {outcome.state} ({outcome.detail})")
            else:
                console.print(f"Roll it back with: verenigingen indexes rollback {index}")


@app.command("rollback")
def rollback(
    name: str = typer.Argument(..., help="An index the manager added."),
    lock_timeout_ms: int = typer.Option(5_000, min=1, help="Longest wait for a lock."),
) -> None:
    """Remove an index the manager added (MariaDB: IGNORED first, measured, then dropped)."""
    with _manager() as (engine, user):
        outcome = service.rollback_index(engine, user, name, BuildOptions(lock_timeout_ms))
    table = Table(title=f"Rollback on {engine.dialect.name}")
    for column in ("index", "state", "statements", "detail"):
        table.add_column(column)
    table.add_row(outcome.spec.name, outcome.state, "\n".join(outcome.statements), outcome.detail)
    console.print(table)


@app.command("advise")
def advise(
    source: Path | None = typer.Option(
        None, "--from", help="performance_baseline.json of a `perf profile` run (default: live)."
    ),
    workload: list[str] | None = typer.Option(None, "--workload", "-w", help="Live: workloads."),
    min_rows: int = typer.Option(advisor.MIN_ROWS, min=0, help="Leave smaller tables alone."),
    fail_on_missing: bool = typer.Option(
        False, "--fail-on-missing", help="Exit 1 when a workload has a proven missing index."
    ),
) -> None:
    """Propose indexes for the statements the workloads send, each proven on a scratch copy."""
    engine = ready_engine()
    url = engine.url
    engine.dispose()
    # Prove on a copy of the association's own data, on its own engine.
    scratch: ScratchSource
    if url.get_backend_name() != "sqlite":
        scratch = ServerDatabaseCopy(url.render_as_string(hide_password=False))
    elif url.database and url.database != ":memory:":
        scratch = SqliteFileCopy(Path(url.database))
    else:
        scratch = DemoCopy(advisor.demo_database())
    where = scratch.where
    try:
        if source is not None:
            stats = advisor.stats_from_profile(source)
        else:
            with console.status("Running the workloads under capture"):
                stats = advisor.stats_from_live(workload, advisor.demo_database())
    except (OSError, ValueError, KeyError) as error:
        raise fail(f"cannot read the query log {source}: {error}", 2) from None
    except UnknownWorkload as error:
        raise fail(f"unknown workload {error.name!r}", 2) from None
    label = str(source) if source else "live capture"
    with console.status(f"Proving candidates on {where}"):
        try:
            advice = advisor.advise(stats, scratch, source=label, min_rows=min_rows)
        except ScratchUnavailable as error:
            raise fail(error.detail, 2) from None
    _print_advice(advice, where)
    if fail_on_missing and advice.proposed:
        missing = ", ".join(advice.missing_for())
        raise fail(f"proven missing indexes for: {missing}", 1)


def _print_advice(advice: advisor.Advice, where: str) -> None:
    table = Table(title=f"Proposed indexes ({advice.source}; proven on {where})")
    for column in ("index", "table", "columns", "workloads", "spent", "saved", "gain", "plan"):
        table.add_column(column)
    for c in advice.proposed:
        table.add_row(
            c.spec.name,
            c.spec.table,
            ", ".join(c.spec.columns),
            ", ".join(c.workloads),
            f"{c.spent_ms:.1f} ms",
            f"{c.saved_ms:.1f} ms",
            f"{c.improvement:.0%}",
            _first_line(c.plan_after, c.spec.name),
        )
    console.print(table)
    if advice.proposed:
        first = advice.proposed[0]
        console.print(
            f"Add one with: verenigingen indexes add --table {first.spec.table} "
            + " ".join(f"--column {c}" for c in first.spec.columns)
        )
    aside = Table(title="Set aside")
    for column in ("candidate", "reason"):
        aside.add_column(column)
    for c in advice.set_aside:
        aside.add_row(f"{c.spec.table}({', '.join(c.spec.columns)})", c.reason)
    console.print(aside)
