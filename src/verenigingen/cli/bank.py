"""``verenigingen bank``: the association's bank accounts and statement imports.

Commands act as the first enabled administrator (``system_user``). An import is one
transaction: a file that cannot be read, does not balance or is of another account is refused
with the line or account named, and nothing of it is written.
"""

from __future__ import annotations

from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from sqlalchemy.orm import Session

from verenigingen.bank import reconcile, service
from verenigingen.bank import review as review_service
from verenigingen.bank.models import BankStatementLine
from verenigingen.billing.schemas import AllocationIn
from verenigingen.cli.context import console, fail, ready_context, system_user, transaction
from verenigingen.db.paging import PageRequest
from verenigingen.money import parse_amount

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
    returned = f", {result.returned} returned direct debits" if result.returned else ""
    console.print(
        f"{result.allocated} lines paid and allocated, {result.review} lines to review{returned}",
        highlight=False,
    )


review_app = typer.Typer(
    help="The lines waiting for the treasurer, and the decisions on them.",
    invoke_without_command=True,
)
app.add_typer(review_app, name="review")


@review_app.callback()
def review(
    ctx: typer.Context,
    limit: int = typer.Option(50, min=1, max=500, help="Lines to show."),
) -> None:
    """The lines waiting for review, each with its best candidates and their scores."""
    if ctx.invoked_subcommand is not None:
        return
    context = ready_context()
    with transaction(context) as session:
        found = review_service.review_lines(
            session, system_user(session), page=PageRequest(limit=limit, count=True)
        )
        rows, total = [_review_row(item) for item in found.items], found.total or 0
    if not rows:
        console.print("no bank line waits for review")
        return
    table = Table("line", "booked", "amount", "from", "remittance", "candidates (score)")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    if total > len(rows):
        console.print(f"{len(rows)} of {total} lines shown (--limit)", highlight=False)


def _review_row(item: review_service.LineForReview) -> tuple[str, ...]:
    line = item.line
    candidates = "; ".join(
        f"{candidate.reason} ({candidate.score})"
        + (f" [invoice id {candidate.invoice_id}]" if candidate.invoice_id else "")
        for candidate in item.candidates
    )
    return (
        str(line.id),
        line.booking_date.isoformat(),
        f"{line.amount}",
        line.counterparty_name or "",
        line.remittance or "",
        candidates or (item.note.text if item.note else "-"),
    )


@review_app.command("accept")
def accept(
    line_id: int = typer.Argument(..., help="The line's id (first column of bank review)."),
    invoice: int | None = typer.Option(
        None, "--invoice", help="The candidate invoice's id; the best candidate when left out."
    ),
) -> None:
    """Pay the line's best candidate, or the candidate invoice named."""
    context = ready_context()
    with transaction(context) as session:
        line = review_service.accept_candidate(
            session, system_user(session), line_id, invoice_id=invoice
        )
        outcome = _outcome(line)
    console.print(outcome, highlight=False)


@review_app.command("allocate")
def allocate(
    line_id: int = typer.Argument(..., help="The line's id (first column of bank review)."),
    invoices: list[str] = typer.Option(
        ...,
        "--invoice",
        help="INVOICE_ID:AMOUNT, once per invoice (a split); the amounts add up to the line's. "
        "INVOICE_ID alone takes the whole line.",
    ),
) -> None:
    """Pay invoices of one customer by hand: one payment, an allocation per invoice."""
    context = ready_context()
    with transaction(context) as session:
        user = system_user(session)
        allocations = _allocations(session, line_id, invoices)
        line = review_service.allocate_line(session, user, line_id, allocations)
        outcome = _outcome(line)
    console.print(outcome, highlight=False)


@review_app.command("unrelated")
def unrelated(
    line_id: int = typer.Argument(..., help="The line's id (first column of bank review)."),
    note: str = typer.Option("", "--note", help="Why (kept in the audit trail)."),
) -> None:
    """Mark the line as not member-related: it is left alone from now on."""
    context = ready_context()
    with transaction(context) as session:
        line = review_service.mark_unrelated(session, system_user(session), line_id, note=note)
        outcome = _outcome(line)
    console.print(outcome, highlight=False)


def _allocations(session: Session, line_id: int, given: list[str]) -> list[AllocationIn]:
    """``INVOICE_ID:AMOUNT`` options as allocations; one ``INVOICE_ID`` alone takes the line."""
    allocations = []
    for text in given:
        invoice_text, _, amount_text = text.partition(":")
        if amount_text:
            amount = parse_amount(amount_text.strip(), field="amount")
        elif len(given) == 1:
            line = session.get(BankStatementLine, line_id)
            # An unknown line or a debit is refused by the service, naming the rule.
            amount = max(abs(line.amount), Decimal("0.01")) if line else Decimal("0.01")
        else:
            raise fail(f"--invoice {text!r}: a split needs INVOICE_ID:AMOUNT for every invoice")
        try:
            allocations.append(
                AllocationIn(invoice_id=invoice_text.strip(), allocated_amount=amount)
            )
        except ValidationError:
            raise fail(f"--invoice {text!r}: expected INVOICE_ID or INVOICE_ID:AMOUNT") from None
    return allocations


def _outcome(line: BankStatementLine) -> str:
    if line.payment_id is not None:
        return f"line {line.id} {line.reconciliation_status}: payment id {line.payment_id}"
    return f"line {line.id} {line.reconciliation_status}"


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
