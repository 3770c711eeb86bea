"""The migration that gives a statement line's payment information id its own column moves the
values the import used to store in ``end_to_end_id`` (a batch booking's PmtInfId), told apart by
the line's dedup key, and leaves real end-to-end ids where they are. SQLite, PostgreSQL and
MariaDB, each on a database of its own migrated to the revision before it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from alembic import command
from migration_support import revisions

from verenigingen.bank.dedupe import dedup_keys
from verenigingen.bank.statement_file import StatementEntry
from verenigingen.db.migrate import alembic_config, upgrade

BOOKED = dt.date(2026, 11, 18)
MIGRATION_FILE = "_bank_line_payment_information_id.py"


def entry(
    amount: str, *, end_to_end_id: str | None = None, bank: str | None = None
) -> StatementEntry:
    return StatementEntry(
        booking_date=BOOKED,
        value_date=BOOKED,
        amount=Decimal(amount),
        currency="EUR",
        where="test",
        end_to_end_id=end_to_end_id,
        bank_reference=bank,
    )


def test_payment_information_ids_move_to_their_own_column(empty_engine: sa.Engine) -> None:
    this, before = revisions(empty_engine, MIGRATION_FILE)
    upgrade(empty_engine, before)
    # As the import stored them: the dedup key from the entry, end_to_end_id from the entry's
    # end-to-end id or else its payment information id.
    entries = [
        (entry("25.00", end_to_end_id="LID-42"), "LID-42"),
        (entry("100.00", bank="RABO-1"), "SDD-20261116080000-ab12cd34-RCUR"),
        (entry("45.00", end_to_end_id="TWICE"), "TWICE"),
        (entry("45.00", end_to_end_id="TWICE"), "TWICE"),  # its key's occurrence is 2
        (entry("-3.25", bank="KOSTEN-11"), None),
    ]
    keys = dedup_keys(e for e, _stored in entries)
    meta = sa.MetaData()
    meta.reflect(empty_engine, only=["bank_account", "bank_statement", "bank_statement_line"])
    account, statement, line = (
        meta.tables[name] for name in ("bank_account", "bank_statement", "bank_statement_line")
    )
    with empty_engine.begin() as connection:
        account_id = connection.execute(
            sa.insert(account).values(iban="NL20INGB0001234567", name="", currency="EUR")
        ).inserted_primary_key[0]
        statement_id = connection.execute(
            sa.insert(statement).values(
                bank_account_id=account_id,
                statement_number="1",
                opening_date=BOOKED,
                closing_date=BOOKED,
                currency="EUR",
                opening_balance=Decimal("0.00"),
                closing_balance=Decimal("211.75"),
                entry_count=len(entries),
                file_format="camt.053",
                file_hash="0" * 64,
                imported_by="test",
                imported_at=dt.datetime(2026, 11, 19, 8, 0),
            )
        ).inserted_primary_key[0]
        connection.execute(
            sa.insert(line),
            [
                {
                    "bank_account_id": account_id,
                    "statement_id": statement_id,
                    "position": position,
                    "booking_date": BOOKED,
                    "value_date": BOOKED,
                    "amount": e.amount,
                    "currency": "EUR",
                    "end_to_end_id": stored,
                    "bank_reference": e.bank_reference,
                    "dedup_key": key,
                    "reconciliation_status": "Open",
                }
                for position, ((e, stored), key) in enumerate(zip(entries, keys, strict=True), 1)
            ],
        )

    upgrade(empty_engine, this)

    def columns() -> list[tuple[str | None, str | None]]:
        with empty_engine.connect() as connection:
            return [
                (row.end_to_end_id, row.payment_information_id)
                for row in connection.execute(
                    sa.text(
                        "SELECT end_to_end_id, payment_information_id FROM bank_statement_line "
                        "ORDER BY position"
                    )
                )
            ]

    assert columns() == [
        ("LID-42", None),
        (None, "SDD-20261116080000-ab12cd34-RCUR"),
        ("TWICE", None),
        ("TWICE", None),
        (None, None),
    ]

    # And back: one column again, as the import used to fill it.
    config = alembic_config(empty_engine)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before)
    with empty_engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT end_to_end_id FROM bank_statement_line ORDER BY position")
        ).scalars()
        assert list(stored) == [
            "LID-42",
            "SDD-20261116080000-ab12cd34-RCUR",
            "TWICE",
            "TWICE",
            None,
        ]
