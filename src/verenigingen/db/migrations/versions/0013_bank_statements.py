"""bank_account, bank_statement, bank_statement_line: imported bank statements

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00.000000

The association's own accounts, the statements imported for them (camt.053 or MT940) and their
lines, each line stored once per account by its dedup key (``bank/dedupe.py``), with where it
is in reconciliation (``bank/reconcile.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MONEY = sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    op.create_table(
        "bank_account",
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("name", sa.String(length=140), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column(
            "modified_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_account")),
        sa.UniqueConstraint("iban", name=op.f("uq_bank_account_iban")),
    )
    op.create_table(
        "bank_statement",
        sa.Column("bank_account_id", _ID, nullable=False),
        sa.Column("statement_number", sa.String(length=35), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=True),
        sa.Column("opening_date", sa.Date(), nullable=False),
        sa.Column("closing_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opening_balance", _MONEY, nullable=False),
        sa.Column("closing_balance", _MONEY, nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("file_format", sa.String(length=20), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_by", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_account.id"],
            name=op.f("fk_bank_statement_bank_account_id_bank_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statement")),
        sa.UniqueConstraint(
            "bank_account_id",
            "statement_number",
            "closing_date",
            name=op.f("uq_bank_statement_bank_account_id_statement_number_closing_date"),
        ),
    )
    op.create_table(
        "bank_statement_line",
        sa.Column("bank_account_id", _ID, nullable=False),
        sa.Column("statement_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("counterparty_name", sa.String(length=140), nullable=True),
        sa.Column("counterparty_iban", sa.String(length=34), nullable=True),
        sa.Column("counterparty_bic", sa.String(length=11), nullable=True),
        sa.Column("remittance", sa.String(length=500), nullable=True),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=True),
        sa.Column("bank_reference", sa.String(length=35), nullable=True),
        sa.Column("transaction_type", sa.String(length=35), nullable=True),
        sa.Column("mandate_reference", sa.String(length=35), nullable=True),
        sa.Column("creditor_id", sa.String(length=35), nullable=True),
        sa.Column("return_reason", sa.String(length=35), nullable=True),
        sa.Column("dedup_key", sa.String(length=64), nullable=False),
        sa.Column("reconciliation_status", sa.String(length=20), nullable=False),
        sa.Column("match_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("match_invoice_id", _ID, nullable=True),
        sa.Column("payment_id", _ID, nullable=True),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_account.id"],
            name=op.f("fk_bank_statement_line_bank_account_id_bank_account"),
        ),
        sa.ForeignKeyConstraint(
            ["match_invoice_id"],
            ["invoice.id"],
            name=op.f("fk_bank_statement_line_match_invoice_id_invoice"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
            name=op.f("fk_bank_statement_line_payment_id_payment"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statement.id"],
            name=op.f("fk_bank_statement_line_statement_id_bank_statement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statement_line")),
        sa.UniqueConstraint(
            "bank_account_id",
            "dedup_key",
            name=op.f("uq_bank_statement_line_bank_account_id_dedup_key"),
        ),
    )
    with op.batch_alter_table("bank_statement_line") as table:
        table.create_index(
            "ix_bank_statement_line_statement", ["statement_id", "position"], unique=False
        )
        table.create_index(
            "ix_bank_statement_line_reconciliation",
            ["reconciliation_status", "id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("bank_statement_line")
    op.drop_table("bank_statement")
    op.drop_table("bank_account")
