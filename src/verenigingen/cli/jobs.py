"""``verenigingen jobs``: watch, retry and cancel tracked jobs; sweep expired leases."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.table import Table

from verenigingen import clock
from verenigingen.auth.service import get_user_by_email
from verenigingen.cli.context import console, fail, ready_context, system_user, transaction
from verenigingen.jobs import queries
from verenigingen.jobs.daily import start_daily_jobs
from verenigingen.jobs.models import JobStatus
from verenigingen.jobs.relay import relay
from verenigingen.jobs.schemas import JobOut
from verenigingen.jobs.service import cancel_job, retry_job
from verenigingen.jobs.sweeper import sweep

app = typer.Typer(
    help="Background jobs: list, show, retry, cancel, sweep, daily.", no_args_is_help=True
)


def _parse_status(value: str | None) -> JobStatus | None:
    if value is None:
        return None
    try:
        return JobStatus(value.capitalize())
    except ValueError:
        valid = ", ".join(s.value for s in JobStatus)
        raise fail(f"unknown status {value!r}; choose one of: {valid}") from None


@app.command("list")
def list_jobs(
    status: str | None = typer.Option(None, help="Queued, Running, Completed, Failed, Cancelled."),
    user: str | None = typer.Option(None, help="Only this user's jobs (email)."),
    name: str | None = typer.Option(None, help="Only this task, e.g. dues.generate."),
    limit: int = typer.Option(50, min=1, max=queries.MAX_LIST),
) -> None:
    """Jobs, newest first."""
    wanted = _parse_status(status)
    context = ready_context()
    with transaction(context) as session:
        user_id = get_user_by_email(session, user).id if user else None
        jobs = queries.list_jobs(session, status=wanted, user_id=user_id, name=name, limit=limit)
        shown = [JobOut.of(job) for job in jobs]
    table = Table("id", "name", "queue", "status", "attempts", "user", "created", "error")
    for job in shown:
        table.add_row(
            str(job.id),
            job.name,
            job.queue,
            _status_text(job),
            f"{job.attempts}/{job.max_retries + 1}",
            str(job.user_id),
            f"{job.created_at:%Y-%m-%d %H:%M:%S}",
            (job.error or "")[:60],
        )
    console.print(table)


def _status_text(job: JobOut) -> str:
    if job.status == JobStatus.RUNNING and job.cancel_requested_at is not None:
        return f"{job.status} (cancel requested by {job.cancel_requested_by})"
    return job.status


@app.command("show")
def show(job_id: int) -> None:
    """Everything about one job, as JSON (IBANs masked)."""
    context = ready_context()
    with transaction(context) as session:
        shown = JobOut.of(queries.get_job(session, system_user(session), job_id))
    typer.echo(json.dumps(shown.model_dump(mode="json"), indent=2))


@app.command("retry")
def retry(job_id: int) -> None:
    """Queue a Failed job again (while it has attempts left)."""
    context = ready_context()
    with transaction(context) as session:
        job = retry_job(session, system_user(session), job_id)
        shown = f"Job {job.id} '{job.name}' is {job.status} again."
    context.close()
    console.print(shown, highlight=False)


@app.command("cancel")
def cancel(job_id: int) -> None:
    """Cancel a Queued or Running job (a Running one: its worker stops it and rolls back)."""
    context = ready_context()
    with transaction(context) as session:
        job = cancel_job(session, system_user(session), job_id)
        if job.status == JobStatus.RUNNING:
            beat = context.settings.job_heartbeat_seconds
            shown = (
                f"Job {job.id} '{job.name}' is Running; cancel requested. Its worker hears of it "
                f"at its next heartbeat (within {beat:g} s), stops the task, rolls its work back "
                f"and ends the job Cancelled: see `verenigingen jobs show {job.id}`."
            )
        else:
            shown = f"Job {job.id} '{job.name}' is {job.status}."
            if job.cancel_requested_at is not None:
                shown += " Its worker was gone: cancelled at once."
    console.print(shown, highlight=False)


@app.command("sweep")
def sweep_now() -> None:
    """Take back Running jobs past their lease and hand over lost Queued ones, once."""
    context = ready_context()
    swept = sweep(context.sessions, context.settings)
    sent = relay(context.sessions, context.jobs, context.settings)
    console.print(
        f"Requeued {swept.requeued}, failed {swept.failed} and cancelled {swept.cancelled} "
        f"job(s) past their lease; dispatched {sent} queued job(s).",
        highlight=False,
    )


@app.command("daily")
def daily(
    day: str | None = typer.Option(None, help="YYYY-MM-DD (default: today)."),
    again_failed: bool = typer.Option(
        False, "--again-failed", help="Also start again the day's daily jobs that failed."
    ),
) -> None:
    """Start today's daily jobs that have not started yet (the workers do this by themselves)."""
    try:
        when = dt.date.fromisoformat(day) if day else clock.today()
    except ValueError:
        raise fail(f"--day must be a date as YYYY-MM-DD, got {day!r}") from None
    context = ready_context()
    with transaction(context) as session:
        started = [
            (job.id, job.name) for job in start_daily_jobs(session, when, again_failed=again_failed)
        ]
    if not started:
        console.print(f"The daily jobs of {when} have all started already.", highlight=False)
        return
    for job_id, name in started:
        console.print(f"Started job {job_id}: {name}", highlight=False)
