"""SEPA direct debit: the creditor's settings, collection batches and their entries; the mandate's
amendment, reason and last collection

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 14:00:00.000000

``sepa_creditor`` holds one row: the association as creditor (``sepa/creditor.py``).
``sepa_batch`` and ``sepa_batch_entry`` are the collection runs (``sepa/batches.py``); an entry
copies the mandate's account and reference as they were when the batch was made.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sepa_creditor",
        sa.Column("name", sa.String(length=70), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("creditor_identifier", sa.String(length=35), nullable=False),
        sa.Column("pain_version", sa.String(length=20), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("cutoff_time", sa.Time(), nullable=True),
        sa.Column("first_collection_frst", sa.Boolean(), nullable=False),
        sa.Column("reference_pattern", sa.String(length=100), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "modified_at",
            sa.DateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_creditor")),
    )
    op.create_table(
        "sepa_batch",
        sa.Column("message_id", sa.String(length=35), nullable=False),
        sa.Column("batch_date", sa.Date(), nullable=False),
        sa.Column("collection_date", sa.Date(), nullable=False),
        sa.Column("description", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("pain_version", sa.String(length=20), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "created_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.text("CURRENT_TIMESTAMP"), nullable=False
        ),
        sa.Column(
            "modified_at",
            sa.DateTime(),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_sepa_batch_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_batch")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sepa_batch_message_id")),
    )
    op.create_table(
        "sepa_batch_entry",
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "mandate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("account_holder", sa.String(length=140), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("mandate_reference", sa.String(length=35), nullable=False),
        sa.Column("mandate_sign_date", sa.Date(), nullable=False),
        sa.Column("original_iban", sa.String(length=34), nullable=True),
        sa.Column("sequence_type", sa.String(length=4), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=35), nullable=False),
        sa.Column("remittance", sa.String(length=140), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("return_reason", sa.String(length=4), nullable=True),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["sepa_batch.id"], name=op.f("fk_sepa_batch_entry_batch_id_sepa_batch")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_sepa_batch_entry_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["sepa_mandate.id"],
            name=op.f("fk_sepa_batch_entry_mandate_id_sepa_mandate"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_sepa_batch_entry_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_sepa_batch_entry_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_batch_entry")),
        sa.UniqueConstraint("end_to_end_id", name=op.f("uq_sepa_batch_entry_end_to_end_id")),
    )
    op.create_index(
        op.f("ix_sepa_batch_entry_batch_id"), "sepa_batch_entry", ["batch_id"], unique=False
    )
    op.create_index(
        op.f("ix_sepa_batch_entry_invoice_id"), "sepa_batch_entry", ["invoice_id"], unique=False
    )
    op.create_index(
        op.f("ix_sepa_batch_entry_mandate_id"), "sepa_batch_entry", ["mandate_id"], unique=False
    )
    with op.batch_alter_table("sepa_mandate") as table:
        table.add_column(sa.Column("amended_from_iban", sa.String(length=34), nullable=True))
        table.add_column(sa.Column("status_reason", sa.String(length=140), nullable=True))
        table.add_column(sa.Column("last_collection_date", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sepa_mandate") as table:
        table.drop_column("last_collection_date")
        table.drop_column("status_reason")
        table.drop_column("amended_from_iban")
    op.drop_index(op.f("ix_sepa_batch_entry_mandate_id"), table_name="sepa_batch_entry")
    op.drop_index(op.f("ix_sepa_batch_entry_invoice_id"), table_name="sepa_batch_entry")
    op.drop_index(op.f("ix_sepa_batch_entry_batch_id"), table_name="sepa_batch_entry")
    op.drop_table("sepa_batch_entry")
    op.drop_table("sepa_batch")
    op.drop_table("sepa_creditor")
