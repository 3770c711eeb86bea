"""The migration that keeps a batch booking's message id (camt ``Btch/MsgId``) adds the column,
keeps the lines stored before (without one), and drops it again on downgrade. SQLite,
PostgreSQL and MariaDB, each on a database of its own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from alembic import command
from migration_support import line_columns, revisions

from verenigingen.db.migrate import alembic_config, upgrade

BOOKED = dt.date(2026, 11, 18)
MIGRATION_FILE = "_bank_line_batch_message_id.py"


def test_the_column_is_added_to_the_lines_stored_before_and_dropped_on_downgrade(
    empty_engine: sa.Engine,
) -> None:
    this, before = revisions(empty_engine, MIGRATION_FILE)
    upgrade(empty_engine, before)
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
                closing_balance=Decimal("100.00"),
                entry_count=1,
                file_format="camt.053",
                file_hash="0" * 64,
                imported_by="test",
                imported_at=dt.datetime(2026, 11, 19, 8, 0),
            )
        ).inserted_primary_key[0]
        connection.execute(
            sa.insert(line).values(
                bank_account_id=account_id,
                statement_id=statement_id,
                position=1,
                booking_date=BOOKED,
                amount=Decimal("100.00"),
                currency="EUR",
                payment_information_id="SDD-20261116080000-ab12cd34",
                dedup_key="1" * 64,
                reconciliation_status="Open",
            )
        )

    upgrade(empty_engine, this)

    with empty_engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT payment_information_id, batch_message_id FROM bank_statement_line")
        ).one()
    assert tuple(stored) == ("SDD-20261116080000-ab12cd34", None)
    with empty_engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE bank_statement_line SET batch_message_id = :message_id"),
            {"message_id": "SDD-20261116080000-ab12cd34"},
        )

    config = alembic_config(empty_engine)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before)
    assert "batch_message_id" not in line_columns(empty_engine)
    assert "payment_information_id" in line_columns(empty_engine)
    with empty_engine.connect() as connection:
        count = connection.execute(sa.text("SELECT COUNT(*) FROM bank_statement_line")).scalar()
    assert count == 1
