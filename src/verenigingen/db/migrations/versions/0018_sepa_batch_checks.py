"""A direct-debit batch's stored checks: when its file was last checked against the XSD and
the EPC rules, how many errors it had, the first of them, and the creditor settings it was
checked with

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 19:40:00.000000

The desk's batch page showed the checks by building and validating the whole pain.008 on every
view (1.7 s for 7,793 entries); ``sepa.checks`` now runs them as a job when the batch is made
(or when asked) and stores the outcome here. Batches made before have none: the page offers to
check them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sepa_batch", schema=None) as batch_op:
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("check_error_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("check_errors", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("checked_creditor", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sepa_batch", schema=None) as batch_op:
        batch_op.drop_column("checked_creditor")
        batch_op.drop_column("check_errors")
        batch_op.drop_column("check_error_count")
        batch_op.drop_column("checked_at")
