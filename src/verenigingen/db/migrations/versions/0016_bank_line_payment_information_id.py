"""A bank statement line's SEPA payment information id in its own column

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:30:00.000000

``bank_statement_line.payment_information_id`` holds the PmtInfId a batch booking names (camt
``Btch/PmtInfId`` or the ``TxDtls/Refs/PmtInfId`` its transactions share, MT940 ``/PREF/``).
Until now the import wrote it into ``end_to_end_id`` when the line had no end-to-end id of its
own (``end_to_end_id or payment information id``), so the two could not be told apart.

The lines imported so far are told apart by how the import stored them: a line's ``dedup_key``
(``bank/dedupe.py``) was made from its end-to-end id when it had one, as
``sha256("{booking date}|{amount}|e2e:{end-to-end id}|{occurrence}")`` with the occurrence
counted within its statement (at most the statement's ``entry_count``). A stored value that
makes no such key was not the line's end-to-end id but a payment information id: it moves to
the new column, and ``end_to_end_id`` becomes empty.
"""

import hashlib
from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CHUNK = 1000

_line = sa.table(
    "bank_statement_line",
    sa.column("id", _ID),
    sa.column("statement_id", _ID),
    sa.column("booking_date", sa.Date()),
    sa.column("amount", sa.Numeric(precision=12, scale=2)),
    sa.column("end_to_end_id", sa.String(length=35)),
    sa.column("payment_information_id", sa.String(length=35)),
    sa.column("dedup_key", sa.String(length=64)),
)
_statement = sa.table(
    "bank_statement", sa.column("id", _ID), sa.column("entry_count", sa.Integer())
)


def upgrade() -> None:
    op.add_column(
        "bank_statement_line",
        sa.Column("payment_information_id", sa.String(length=35), nullable=True),
    )
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(
                _line.c.id,
                _line.c.booking_date,
                _line.c.amount,
                _line.c.end_to_end_id,
                _line.c.dedup_key,
                _statement.c.entry_count,
            )
            .join(_statement, _statement.c.id == _line.c.statement_id)
            .where(_line.c.end_to_end_id.is_not(None), _line.c.id > after)
            .order_by(_line.c.id)
            .limit(_CHUNK)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        moved = [
            {"line_id": row.id, "value": row.end_to_end_id}
            for row in rows
            if not _keyed_by_end_to_end_id(
                row.booking_date.isoformat(),
                Decimal(row.amount),
                row.end_to_end_id,
                row.dedup_key,
                row.entry_count,
            )
        ]
        if moved:
            connection.execute(
                sa.update(_line)
                .where(_line.c.id == sa.bindparam("line_id"))
                .values(payment_information_id=sa.bindparam("value"), end_to_end_id=None),
                moved,
            )


def _keyed_by_end_to_end_id(
    booking_date: str, amount: Decimal, value: str, dedup_key: str, entry_count: int
) -> bool:
    """Whether the line's dedup key was made from ``value`` as its end-to-end id."""
    base = f"{booking_date}|{amount:.2f}|e2e:{value}"
    return any(
        hashlib.sha256(f"{base}|{occurrence}".encode()).hexdigest() == dedup_key
        for occurrence in range(1, max(entry_count, 1) + 1)
    )


def downgrade() -> None:
    # Back to one column: the payment information id where there is no end-to-end id.
    op.execute(
        sa.update(_line)
        .where(_line.c.end_to_end_id.is_(None), _line.c.payment_information_id.is_not(None))
        .values(end_to_end_id=_line.c.payment_information_id)
    )
    with op.batch_alter_table("bank_statement_line", schema=None) as batch_op:
        batch_op.drop_column("payment_information_id")
