"""``verenigingen sepa``: the creditor's settings, mandates and direct-debit batches.

Commands act as the first enabled administrator (``system_user``); each is one transaction, and
a broken rule is a one-line error with nothing written.
"""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from verenigingen.cli.context import (
    console,
    errors,
    fail,
    ready_context,
    system_user,
    transaction,
)
from verenigingen.jobs.progress import listening
from verenigingen.sepa import batches, creditor, mandates, pain008, retries, returns, service
from verenigingen.sepa.errors import BatchInvalid
from verenigingen.sepa.models import DirectDebitBatch, PainVersion, RetryStatus, SepaMandate
from verenigingen.sepa.schemas import CreditorIn, MandateCreate

app = typer.Typer(
    help="SEPA direct debit: creditor settings, mandates and batches.", no_args_is_help=True
)
creditor_app = typer.Typer(help="The association as SEPA creditor.", no_args_is_help=True)
batch_app = typer.Typer(
    help="Direct-debit batches: create, export, submit, process, cancel.", no_args_is_help=True
)
mandates_app = typer.Typer(
    help="SEPA mandates: list, create, suspend, reinstate, cancel.", no_args_is_help=True
)
app.add_typer(creditor_app, name="creditor")
app.add_typer(mandates_app, name="mandates")
returns_app = typer.Typer(
    help="Rejects and returns: import the bank's pain.002 or camt.054.", no_args_is_help=True
)
retries_app = typer.Typer(help="Returned collections and their retries.", no_args_is_help=True)
app.add_typer(batch_app, name="batch")
app.add_typer(returns_app, name="returns")
app.add_typer(retries_app, name="retries")
PROGRESS_FROM_ENTRIES = 1000
"""A batch this large gets a progress bar."""


@creditor_app.command("set")
def set_creditor(
    name: str = typer.Option(..., help="The creditor's name (at most 70 SEPA characters)."),
    iban: str = typer.Option(..., help="The account collected into."),
    creditor_identifier: str = typer.Option(..., "--creditor-id", help="NL51ZZZ405365330000"),
    bic: str | None = typer.Option(None, help="Derived from the IBAN when omitted."),
    pain_version: PainVersion = typer.Option(PainVersion.V08, help="The bank's pain.008 version."),
    lead_days: int = typer.Option(
        1, min=1, max=15, help="TARGET2 business days before collection."
    ),
    cutoff: str | None = typer.Option(None, help="The bank's upload cut-off, HH:MM (Amsterdam)."),
    first_collection_frst: bool = typer.Option(False, help="Send first collections as FRST."),
    reference_pattern: str = typer.Option("M-{member_id}-{yyyymmdd}-{nnn}", help="New references."),
) -> None:
    """Set (replace) the creditor settings."""
    try:
        cutoff_time = dt.time.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise fail(f"--cutoff {cutoff!r} is not a time (HH:MM)") from None
    data = CreditorIn(
        name=name,
        iban=iban,
        bic=bic,
        creditor_identifier=creditor_identifier,
        pain_version=pain_version,
        lead_days=lead_days,
        cutoff_time=cutoff_time,
        first_collection_frst=first_collection_frst,
        reference_pattern=reference_pattern,
    )
    context = ready_context()
    with transaction(context) as session:
        saved = creditor.set_creditor(session, system_user(session), data)
        console.print(f"creditor {saved.name} ({saved.creditor_identifier}) saved", highlight=False)


@creditor_app.command("show")
def show_creditor() -> None:
    """The creditor settings."""
    context = ready_context()
    with transaction(context) as session:
        current = creditor.get_creditor(session, system_user(session))
        table = Table("setting", "value")
        for field in (
            "name",
            "iban",
            "bic",
            "creditor_identifier",
            "pain_version",
            "lead_days",
            "cutoff_time",
            "first_collection_frst",
            "reference_pattern",
        ):
            table.add_row(field, str(getattr(current, field)))
    console.print(table)


def _mandate_line(mandate: SepaMandate) -> str:
    reason = f" ({mandate.status_reason})" if mandate.status_reason else ""
    return f"mandate {mandate.id} {mandate.mandate_reference}: {mandate.status}{reason}"


@mandates_app.command("list")
def list_mandates(member_id: int) -> None:
    """The member's mandates, newest signature first."""
    context = ready_context()
    with transaction(context) as session:
        found = service.list_mandates(session, system_user(session), member_id)
        table = Table("id", "reference", "status", "IBAN", "signed", "last collection", "reason")
        for mandate in found:
            table.add_row(
                str(mandate.id),
                mandate.mandate_reference,
                mandate.status,
                mandate.iban,
                str(mandate.sign_date),
                str(mandate.last_collection_date or ""),
                mandate.status_reason or "",
            )
    console.print(table)


@mandates_app.command("create")
def create_mandate(
    member_id: int,
    iban: str = typer.Option(..., help="The debtor's account."),
    sign_date: dt.datetime = typer.Option(..., formats=["%Y-%m-%d"], help="YYYY-MM-DD"),
    reference: str | None = typer.Option(None, help="Default: the creditor's pattern."),
    bic: str | None = typer.Option(None, help="Derived from the IBAN when omitted."),
    account_holder: str | None = typer.Option(None, help="Default: the member's name."),
) -> None:
    """Record a signed mandate (Active)."""
    data = MandateCreate(
        mandate_reference=reference,
        iban=iban,
        bic=bic,
        account_holder=account_holder,
        sign_date=sign_date.date(),
    )
    context = ready_context()
    with transaction(context) as session:
        mandate = service.create_mandate(session, system_user(session), member_id, data)
        console.print(_mandate_line(mandate), highlight=False)


@mandates_app.command("suspend")
def suspend_mandate(mandate_id: int, reason: str = typer.Option(..., help="Why.")) -> None:
    """Active -> Suspended: no batch collects on it until it is reinstated."""
    context = ready_context()
    with transaction(context) as session:
        mandate = mandates.suspend_mandate(session, system_user(session), mandate_id, reason)
        console.print(_mandate_line(mandate), highlight=False)


@mandates_app.command("reinstate")
def reinstate_mandate(mandate_id: int) -> None:
    """Suspended -> Active."""
    context = ready_context()
    with transaction(context) as session:
        mandate = mandates.reinstate_mandate(session, system_user(session), mandate_id)
        console.print(_mandate_line(mandate), highlight=False)


@mandates_app.command("cancel")
def cancel_mandate(mandate_id: int, reason: str = typer.Option(..., help="Why.")) -> None:
    """Cancel a mandate; final, its reference is never used again."""
    context = ready_context()
    with transaction(context) as session:
        mandate = mandates.cancel_mandate(session, system_user(session), mandate_id, reason)
        console.print(_mandate_line(mandate), highlight=False)


def _describe(batch: DirectDebitBatch) -> str:
    return (
        f"batch {batch.id} {batch.status}: {batch.entry_count} collections, "
        f"{batch.total_amount} EUR on {batch.collection_date} (message {batch.message_id})"
    )


@batch_app.command("create")
def create(
    collection_date: dt.datetime = typer.Option(..., formats=["%Y-%m-%d"], help="YYYY-MM-DD"),
    description: str | None = typer.Option(None, help="The batch's description."),
) -> None:
    """A Draft batch of every open invoice with an active mandate, for the collection date."""
    context = ready_context()
    with transaction(context) as session:
        batch = batches.create_batch(
            session, system_user(session), collection_date.date(), description=description
        )
        console.print(_describe(batch), highlight=False)


@batch_app.command("list")
def list_batches() -> None:
    """Every batch, newest first."""
    context = ready_context()
    with transaction(context) as session:
        table = Table("id", "status", "collection date", "entries", "total", "message id")
        for batch in batches.list_batches(session, system_user(session)):
            table.add_row(
                str(batch.id),
                batch.status,
                str(batch.collection_date),
                str(batch.entry_count),
                str(batch.total_amount),
                batch.message_id,
            )
    console.print(table)


@batch_app.command("export")
def export(
    batch_id: int,
    out: Path = typer.Option(..., help="The pain.008 file to write."),
) -> None:
    """Write the batch's pain.008, validated against the XSD (a Draft becomes Generated).
    An invalid batch writes nothing and lists its errors per entry."""
    context = ready_context()
    with transaction(context) as session:
        try:
            document = pain008.export_batch(session, system_user(session), batch_id)
        except BatchInvalid as invalid:
            for error in invalid.errors:
                errors.print(error, highlight=False, soft_wrap=True)
            raise fail(
                f"batch {batch_id} is invalid ({len(invalid.errors)} errors); nothing written"
            ) from None
        out.write_bytes(document)
    console.print(f"batch {batch_id}: {len(document)} bytes written to {out}", highlight=False)


@batch_app.command("submit")
def submit(batch_id: int) -> None:
    """Mark a Generated batch Submitted: the file went to the bank."""
    _step(batches.submit_batch, batch_id)


@batch_app.command("process")
def process(batch_id: int) -> None:
    """Book a Submitted batch as collected: payments and allocations, usages Collected (a
    progress bar for a large batch). Entries the bank rejected before are left out: the batch
    is then Partially Processed."""
    context = ready_context()
    with ExitStack() as stack:
        bar = _ProgressBar(stack, "collecting")
        with transaction(context) as session, listening(bar.show):
            batch = batches.process_batch(session, system_user(session), batch_id)
            shown = _describe(batch)
    console.print(shown, highlight=False)


@batch_app.command("cancel")
def cancel(batch_id: int) -> None:
    """Cancel a Draft or Generated batch: its invoices are free for another one."""
    _step(batches.cancel_batch, batch_id)


def _step(step: batches.BatchStep, batch_id: int) -> None:
    context = ready_context()
    with transaction(context) as session:
        batch = step(session, system_user(session), batch_id)
        console.print(_describe(batch), highlight=False)


class _ProgressBar:
    """A bar that appears only once the work turns out to be large."""

    def __init__(self, stack: ExitStack, label: str) -> None:
        self._stack = stack
        self._label = label
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def show(self, done: int, total: int) -> None:
        if total < PROGRESS_FROM_ENTRIES:
            return
        if self._progress is None:
            self._progress = self._stack.enter_context(
                Progress(
                    TextColumn(self._label),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=console,
                    transient=True,
                )
            )
            self._task = self._progress.add_task(self._label, total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done)


@returns_app.command("import")
def import_returns(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
) -> None:
    """Import a pain.002 status report or camt.054 notification: every reject or return in it,
    or nothing (a line that matches no collection of ours names itself). Twice: nothing new."""
    data = file.read_bytes()
    context = ready_context()
    with transaction(context) as session:
        outcome = returns.import_status_report(session, system_user(session), data)
    if outcome.already_imported:
        console.print(
            f"{file.name} was imported before (report {outcome.report_id}): nothing changed.",
            highlight=False,
        )
        return
    tally = outcome.tally
    codes = ", ".join(f"{code} {n}" for code, n in sorted(tally.reason_codes.items())) or "none"
    console.print(
        f"{outcome.file_format} imported (report {outcome.report_id}): {tally.rejected} "
        f"rejected, {tally.returned} returned ({codes}); {tally.invoices_reopened} invoice(s) "
        f"open again; {tally.mandates_stopped} mandate(s) stopped, "
        f"{tally.mandates_invalidated} invalid; {tally.retries_scheduled} retry(ies) "
        f"scheduled, {tally.retries_exhausted} out of retries (treasurer told); "
        f"{tally.already_recorded} recorded before.",
        highlight=False,
    )


@retries_app.command("list")
def list_retries(
    all_returns: bool = typer.Option(False, "--all", help="Every return, not only waiting ones."),
) -> None:
    """The retry queue: returned collections waiting for their retry, earliest due first."""
    context = ready_context()
    with transaction(context) as session:
        status = None if all_returns else RetryStatus.WAITING
        queue = retries.retry_queue(session, system_user(session), status=status)
    if not queue:
        console.print("No retries waiting." if not all_returns else "No returns.")
        return
    table = Table("return", "invoice", "member", "mandate", "reason", "attempt", "retry", "due")
    for item in queue:
        table.add_row(
            str(item.return_id),
            item.invoice_number,
            item.member_name,
            item.mandate_reference,
            item.reason_code,
            str(item.attempt),
            item.retry_status,
            str(item.retry_due_on or "-"),
        )
    console.print(table)
