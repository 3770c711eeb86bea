"""``verenigingen demo``: load the deterministic demo association."""

from __future__ import annotations

import datetime as dt
import time

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from verenigingen.cli.context import console, fail, ready_context
from verenigingen.db.session import unit_of_work
from verenigingen.demo.generator import DemoOptions, load_demo
from verenigingen.demo.sign_in import DEMO_PASSWORD, give_demo_passwords
from verenigingen.errors import DomainError
from verenigingen.members.models import Member


def demo(
    members: int = typer.Option(2000, min=1, max=200_000, help="Members who apply."),
    months: int = typer.Option(24, min=1, max=240, help="Months of history, ending today."),
    seed: int = typer.Option(7, help="Seed: the same seed gives the same association."),
    end: dt.datetime | None = typer.Option(
        None, formats=["%Y-%m-%d"], help="Last day of the demo (default today)."
    ),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Load nothing when members exist (demo passwords still set)."
    ),
    password: str = typer.Option(
        DEMO_PASSWORD, help="Password of the demo's example.org users that have none yet."
    ),
) -> None:
    """Load a demo association: members, memberships, dues, payments, mandates, credit notes.
    The demo's example.org users without a password get the demo password."""
    context = ready_context()
    factory = context.sessions
    with factory() as session:
        existing = session.scalar(select(func.count(Member.id))) or 0
    if existing and if_empty:
        console.print(f"The database already holds {existing} members; no demo loaded.")
        _give_passwords(factory, password)
        return
    options = DemoOptions(
        members=members, months=months, seed=seed, end=end.date() if end else None
    )
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("[bold]Demo association"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("months"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("months", total=months)
            counts = load_demo(factory, options, lambda step: progress.advance(task, step))
    except DomainError as error:
        raise fail(f"the demo could not be loaded: {error.detail}") from None
    elapsed = time.perf_counter() - started

    table = Table(title=f"Demo association (seed {seed}, {months} months)", show_header=False)
    for status, count in counts.members_by_status.items():
        table.add_row(f"members {status}", str(count))
    for status, count in counts.invoices_by_status.items():
        table.add_row(f"invoices {status}", str(count))
    table.add_row("payments", str(counts.payments))
    table.add_row("SEPA mandates", str(counts.mandates))
    table.add_row("customers shared by a family", str(counts.customers_shared_by_families))
    table.add_row("rows in the database", str(counts.rows))
    console.print(table)
    console.print(f"Loaded in {elapsed:.1f} s.")
    _give_passwords(factory, password)


def _give_passwords(factory: sessionmaker[Session], password: str) -> None:
    try:
        with unit_of_work(factory) as session:
            emails = give_demo_passwords(session, password)
    except DomainError as error:
        raise fail(f"the demo password is refused: {error.detail}") from None
    if emails:
        console.print(f"Demo password set for {', '.join(emails)}.")
