"""``verenigingen dues``: the dues run."""

from __future__ import annotations

import datetime as dt

import typer

from verenigingen import clock
from verenigingen.cli.context import console, ready_context, system_user, transaction
from verenigingen.dues.service import generate_dues

app = typer.Typer(help="Dues schedules and their invoices.", no_args_is_help=True)


@app.command("generate")
def generate(
    date: dt.datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="Bill as of this day (default today)."
    ),
    batch_size: int = typer.Option(500, min=1, max=10_000, help="Schedules per batch."),
) -> None:
    """Bill every dues schedule that is due: one invoice per schedule, never twice a period."""
    day = date.date() if date else clock.today()
    context = ready_context()
    with transaction(context) as session:
        result = generate_dues(session, system_user(session), today=day, batch_size=batch_size)
    console.print(
        f"Dues run of {day}: {result.invoices_created} invoices for "
        f"{result.schedules_billed} schedules, total {result.total_amount} "
        f"({result.batches} batches)."
    )
