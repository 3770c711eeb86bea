"""COPY for the scale load: rows in PostgreSQL's text format per table, and the secondary
indexes, unique constraints and foreign keys of the loaded tables dropped before the rows go in
and made again (from their own definitions, so they are checked) afterwards."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

NULL = "\\N"

LOADED_TABLES = (
    "customer",
    "member",
    "membership",
    "dues_schedule",
    "sepa_mandate",
    "invoice",
    "invoice_line",
    "payment",
    "payment_allocation",
    "member_financial_summary",
)


class CopyRows:
    """Text-format COPY rows for one table, gathered per chunk and sent in one COPY."""

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.lines: list[str] = []

    def add(self, *values: Any) -> None:
        """A row of any values: None is NULL, text is escaped."""
        self.lines.append("\t".join(NULL if value is None else _text(value) for value in values))

    def line(self, text: str) -> None:
        """A row already in COPY's text format (numbers, dates, codes: nothing to escape)."""
        self.lines.append(text)

    def send(self, cursor: psycopg.Cursor[Any]) -> None:
        if self.lines:
            with cursor.copy(self.statement) as copy:
                copy.write("\n".join(self.lines) + "\n")
        self.lines = []


def _text(value: Any) -> str:
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
    return text


def copy_tables() -> dict[str, CopyRows]:
    return {
        "customer": CopyRows("customer", ("id", "debtor_number", "name", "email", "city")),
        "member": CopyRows(
            "member",
            (
                "id",
                "member_id",
                "first_name",
                "last_name",
                "email",
                "birth_date",
                "address_line",
                "postal_code",
                "city",
                "status",
                "application_status",
                "member_since",
                "payment_method",
                "iban",
                "account_holder",
                "requested_membership_type_id",
                "customer_id",
            ),
        ),
        "membership": CopyRows(
            "membership",
            ("id", "member_id", "membership_type_id", "start_date", "renewal_date", "status"),
        ),
        "dues_schedule": CopyRows(
            "dues_schedule",
            (
                "id",
                "membership_id",
                "member_id",
                "customer_id",
                "billing_frequency",
                "billing_months",
                "dues_rate",
                "next_invoice_date",
                "last_invoice_date",
                "invoice_days_before",
                "status",
                "auto_generate",
            ),
        ),
        "sepa_mandate": CopyRows(
            "sepa_mandate",
            (
                "id",
                "mandate_reference",
                "member_id",
                "account_holder",
                "iban",
                "sign_date",
                "status",
                "last_collection_date",
            ),
        ),
        "invoice": CopyRows(
            "invoice",
            (
                "id",
                "number",
                "customer_id",
                "member_id",
                "dues_schedule_id",
                "posting_date",
                "due_date",
                "coverage_start",
                "coverage_end",
                "grand_total",
                "outstanding_amount",
                "status",
                "docstatus",
                "is_return",
            ),
        ),
        "invoice_line": CopyRows(
            "invoice_line",
            ("id", "invoice_id", "idx", "description", "quantity", "rate", "amount"),
        ),
        "payment": CopyRows(
            "payment",
            (
                "id",
                "number",
                "payment_type",
                "customer_id",
                "posting_date",
                "paid_amount",
                "unallocated_amount",
                "mode_of_payment",
                "reference_no",
                "reference_date",
                "docstatus",
            ),
        ),
        "payment_allocation": CopyRows(
            "payment_allocation", ("id", "payment_id", "invoice_id", "allocated_amount")
        ),
        "member_financial_summary": CopyRows(
            "member_financial_summary",
            (
                "member_id",
                "customer_id",
                "invoice_count",
                "total_invoiced",
                "total_credited",
                "total_paid",
                "outstanding",
                "overdue_count",
                "last_payment_date",
                "payment_status",
                "version",
            ),
        ),
    }


@dataclass(frozen=True)
class SavedSchema:
    indexes: list[str]
    """CREATE INDEX statements of the secondary indexes (not behind a constraint)."""
    constraints: list[tuple[str, str, str]]
    """(table, name, definition) of the unique constraints and foreign keys."""


def drop_secondary(cursor: psycopg.Cursor[Any]) -> SavedSchema:
    """Drop the loaded tables' secondary indexes, unique constraints and foreign keys; return
    their definitions so :func:`restore_secondary` makes them again."""
    tables = list(LOADED_TABLES)
    indexes = [
        row[0]
        for row in cursor.execute(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " JOIN pg_class t ON t.oid = i.indrelid"
            " WHERE t.relname = ANY(%s) AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            (tables,),
        )
    ]
    # Foreign keys of every table that point at a loaded one too (they are dropped with the
    # unique constraints they rely on); unique constraints first when made again.
    constraints = [
        (row[0], row[1], row[2])
        for row in cursor.execute(
            "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_class t ON t.oid = c.conrelid"
            " WHERE c.contype IN ('u', 'f') AND (t.relname = ANY(%s)"
            " OR c.confrelid IN (SELECT oid FROM pg_class WHERE relname = ANY(%s)))"
            " ORDER BY c.contype DESC, t.relname, c.conname",
            (tables, tables),
        )
    ]
    for table, name, _definition in reversed(constraints):
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    for row in cursor.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class t"
        " ON t.oid = i.indrelid WHERE t.relname = ANY(%s) AND NOT i.indisprimary"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (tables,),
    ).fetchall():
        cursor.execute(f"DROP INDEX {row[0]}")
    return SavedSchema(indexes, constraints)


def restore_secondary(
    cursor: psycopg.Cursor[Any], saved: SavedSchema, progress: Callable[[str], None]
) -> None:
    for statement in saved.indexes:
        cursor.execute(statement)
    progress(f"  {len(saved.indexes)} indexes made again")
    for table, name, definition in saved.constraints:
        cursor.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    progress(f"  {len(saved.constraints)} unique constraints and foreign keys made and checked")
