"""A bank statement line's SEPA batch message id in its own column

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 20:00:00.000000

``bank_statement_line.batch_message_id`` holds the message id a batch booking names in camt.053
``NtryDtls/Btch/MsgId``: the original pain.008's message id, which is the batch's. Some banks
name a batch booking by it alone, without the payment information id; reconciliation matches
the batch by it. Lines imported before have none (the reader did not keep it): importing their
statement again adds nothing, as every import of a line already stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "bank_statement_line",
        sa.Column("batch_message_id", sa.String(length=35), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("bank_statement_line", schema=None) as batch_op:
        batch_op.drop_column("batch_message_id")
