"""indexes: the ledger of the online index manager

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 19:35:01.508338

Only the ledger table. The strategic indexes themselves are never created by a migration: the
index manager (``verenigingen indexes add``) builds them online, per dialect, and records each
change here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "index_change",
        sa.Column("dialect", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("index_name", sa.String(length=64), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("ddl", sa.Text(), nullable=False),
        sa.Column("inverse_ddl", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("plan_before", sa.Text(), nullable=True),
        sa.Column("plan_after", sa.Text(), nullable=True),
        sa.Column("timings_before", sa.JSON(), nullable=True),
        sa.Column("timings_after", sa.JSON(), nullable=True),
        sa.Column("build_ms", sa.Double(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("rolled_back_at", sa.DateTime(), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_change")),
    )
    with op.batch_alter_table("index_change", schema=None) as batch_op:
        batch_op.create_index("ix_index_change_index_name", ["index_name", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("index_change")
