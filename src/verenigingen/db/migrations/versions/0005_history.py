"""history: member financial summary, payment analytics, SEPA mandate usage

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 19:46:37.014360

Three tables derived from the ledger and written only by background jobs: the financial summary
per member (optimistic ``version``), monthly payment analytics, and the usages of SEPA mandates
(FRST/RCUR per collection). Each can be rebuilt from the ledger; none is read by a money rule.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_analytics",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("received", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("refunded", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("invoiced", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("collected", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("collection_rate", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_payment_analytics")),
    )
    op.create_table(
        "member_financial_summary",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("invoice_count", sa.Integer(), nullable=False),
        sa.Column("total_invoiced", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total_credited", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("total_paid", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("outstanding", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("overdue_count", sa.Integer(), nullable=False),
        sa.Column("last_payment_date", sa.Date(), nullable=True),
        sa.Column("payment_status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_member_financial_summary_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_financial_summary_member_id_member")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_financial_summary")),
    )
    with op.batch_alter_table("member_financial_summary", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_financial_summary_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "sepa_mandate_usage",
        sa.Column(
            "mandate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("usage_date", sa.Date(), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("batch_reference", sa.String(length=35), nullable=True),
        sa.Column("sequence_type", sa.String(length=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_sepa_mandate_usage_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["sepa_mandate.id"],
            name=op.f("fk_sepa_mandate_usage_mandate_id_sepa_mandate"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payment.id"], name=op.f("fk_sepa_mandate_usage_payment_id_payment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_mandate_usage")),
        sa.UniqueConstraint(
            "mandate_id", "payment_id", name=op.f("uq_sepa_mandate_usage_mandate_id_payment_id")
        ),
    )
    with op.batch_alter_table("sepa_mandate_usage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sepa_mandate_usage_payment_id"), ["payment_id"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes; MariaDB refuses to drop an index a foreign key needs.
    op.drop_table("sepa_mandate_usage")
    op.drop_table("member_financial_summary")
    op.drop_table("payment_analytics")
