"""``verenigingen safety``: run the safety checks, roll the optimizations back, restore them.

Commands act as the first enabled administrator (``system_user``). ``check`` exits 1 when a
critical check fails (after the rollback, with ``--auto-rollback``), so that cron or a
monitoring agent can act on it.
"""

from __future__ import annotations

import typer
from rich.table import Table

from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import User
from verenigingen.cli.context import console, fail, ready_context, system_user
from verenigingen.errors import DomainError
from verenigingen.safety import rollback, runner
from verenigingen.safety.models import SafetyRollbackStep, Trigger
from verenigingen.safety.runner import RunReport

app = typer.Typer(
    help="The safety monitor: check, restore, history.",
    no_args_is_help=True,
)


def _administrator(context: AppContext) -> User:
    with context.read_sessions() as session:
        user = system_user(session)
        session.expunge(user)
    return user


def _print_run(run: RunReport) -> None:
    table = Table(title=f"safety run {run.id}")
    for column in ("check", "result", "critical"):
        table.add_column(column, no_wrap=True)
    table.add_column("message")
    for check in run.checks:
        table.add_row(
            check.name,
            "[green]passed[/]" if check.passed else "[red]failed[/]",
            "yes" if check.critical else "no",
            check.message,
        )
    console.print(table)


def _print_steps(title: str, steps: list[SafetyRollbackStep]) -> None:
    table = Table(title=title)
    for column in ("step", "outcome"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail")
    for step in steps:
        table.add_row(f"{step.position}. {step.name}", step.outcome, step.detail)
    console.print(table)


@app.command("check")
def check(
    auto_rollback: bool = typer.Option(
        False, "--auto-rollback", help="On a critical failure, run the rollback steps."
    ),
) -> None:
    """Run the five checks and print them; exit 1 when a critical check fails."""
    context = ready_context()
    user = _administrator(context)
    try:
        run = runner.run_checks(context, user, trigger=Trigger.COMMAND)
        _print_run(run)
        if not run.critical_failed:
            return
        if auto_rollback:
            report = rollback.roll_back(context, user, run)
            _print_steps(f"rollback after run {run.id}", report.steps)
    except DomainError as error:
        raise fail(error.detail) from None
    raise fail("a critical safety check failed")


@app.command("restore")
def restore() -> None:
    """Run the checks; when none critical fails, turn back on what the rollbacks switched off."""
    context = ready_context()
    user = _administrator(context)
    try:
        report = rollback.restore(context, user)
    except DomainError as error:
        raise fail(error.detail) from None
    _print_run(report.run)
    _print_steps(f"restore after run {report.run.id}", report.steps)


@app.command("history")
def history(limit: int = typer.Option(20, min=1, max=500, help="Runs to show.")) -> None:
    """The latest runs, newest first."""
    context = ready_context()
    user = _administrator(context)
    with context.read_sessions() as session:
        runs, total = runner.run_history(session, user, limit=limit)
    table = Table(title=f"safety runs ({total} in all)")
    for column in ("run", "finished (UTC)", "trigger", "result", "rolled back"):
        table.add_column(column, no_wrap=True)
    table.add_column("failed checks")
    for run in runs:
        table.add_row(
            str(run.id),
            f"{clock.as_utc(run.finished_at):%Y-%m-%d %H:%M:%S}",
            run.trigger,
            "passed" if run.passed else "critical" if run.critical_failed else "failed",
            "yes" if run.rolled_back else "",
            ", ".join(run.failed_checks),
        )
    console.print(table)
