"""``verenigingen bank``: the association's bank accounts and statement imports.

Commands act as the first enabled administrator (``system_user``). An import is one
transaction: a file that cannot be read, does not balance or is of another account is refused
with the line or account named, and nothing of it is written.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from verenigingen.bank import reconcile, service
from verenigingen.cli.context import console, fail, ready_context, system_user, transaction

app = typer.Typer(
    help="Bank accounts and statement imports (camt.053, MT940).", no_args_is_help=True
)
accounts_app = typer.Typer(help="The association's own bank accounts.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")

# Below this many entries an import is over before a bar would be worth drawing.
_PROGRESS_FROM_ENTRIES = 1000


@accounts_app.command("add")
def add_account(
    iban: str,
    name: str = typer.Option("", help="What the account is for (Contributies, Kas)."),
    currency: str = typer.Option("EUR", help="The account's currency."),
) -> None:
    """Register an account of the association: only its statements are imported."""
    context = ready_context()
    with transaction(context) as session:
        account = service.add_account(
            session, system_user(session), iban, name=name, currency=currency
        )
        added = account.iban
    console.print(f"bank account {added} added", highlight=False)


@accounts_app.command("list")
def list_accounts() -> None:
    """The association's bank accounts."""
    context = ready_context()
    with transaction(context) as session:
        rows = [
            (a.iban, a.name, a.currency)
            for a in service.list_accounts(session, system_user(session))
        ]
    if not rows:
        console.print("no bank account registered yet: verenigingen bank accounts add IBAN")
        return
    table = Table("IBAN", "name", "currency")
    for row in rows:
        table.add_row(*row)
    console.print(table)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=False, help="A camt.053 (XML) or MT940 file."),
    account: str | None = typer.Option(
        None, "--account", help="The IBAN the file must be of; needed for older account numbers."
    ),
) -> None:
    """Import a statement file: each line once, all or nothing; gaps in numbers reported."""
    try:
        content = file.read_bytes()
    except OSError as error:
        raise fail(f"cannot read {file}: {error.strerror}") from None
    context = ready_context()
    with ExitStack() as stack:
        bar = _ProgressBar(stack)
        with transaction(context) as session:
            result = service.import_statement_file(
                session, system_user(session), content, account_iban=account, progress=bar.show
            )
    for statement in result.statements:
        state = " (imported before)" if statement.already_imported else ""
        console.print(
            f"{statement.account_iban} statement {statement.statement_number} of "
            f"{statement.closing_date}{state}: {statement.lines_added} lines added, "
            f"{statement.lines_skipped} skipped as already imported",
            highlight=False,
        )
    console.print(
        f"{result.file_format}: {len(result.statements)} statements, {result.lines_added} lines "
        f"added, {result.lines_skipped} skipped",
        highlight=False,
    )
    for gap in result.gaps:
        console.print(f"[yellow]gap:[/] {gap}", highlight=False)


@app.command("reconcile")
def reconcile_lines() -> None:
    """Match money in to open invoices: sure matches (0.85 and up) paid and allocated, the
    rest put in review."""
    context = ready_context()
    with transaction(context) as session:
        result = reconcile.reconcile_open_lines(session, system_user(session))
    console.print(
        f"{result.allocated} lines paid and allocated, {result.review} lines to review",
        highlight=False,
    )


@app.command("review")
def review() -> None:
    """The lines waiting for the treasurer, with their best candidate and its score."""
    context = ready_context()
    with transaction(context) as session:
        lines = [
            (
                line.booking_date.isoformat(),
                f"{line.amount}",
                line.counterparty_name or "",
                line.remittance or "",
                "" if line.match_invoice_id is None else str(line.match_invoice_id),
                "" if line.match_score is None else f"{line.match_score}",
            )
            for line in reconcile.review_lines(session, system_user(session))
        ]
    if not lines:
        console.print("no bank line waits for review")
        return
    table = Table("booked", "amount", "from", "remittance", "invoice id", "score")
    for row in lines:
        table.add_row(*row)
    console.print(table)


class _ProgressBar:
    """A bar that appears only once the file turns out to hold many entries."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def show(self, handled: int, total: int) -> None:
        if total < _PROGRESS_FROM_ENTRIES:
            return
        if self._progress is None:
            self._progress = self._stack.enter_context(
                Progress(
                    TextColumn("importing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=console,
                    transient=True,
                )
            )
            self._task = self._progress.add_task("lines", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=handled)
