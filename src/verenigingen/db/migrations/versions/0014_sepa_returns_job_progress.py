"""SEPA returns and retries (sepa_status_report, sepa_return; the reason code on the entry's
date and the mandate usage) and the progress of a running job

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 16:00:00.000000

``sepa_status_report`` is an imported pain.002 or camt.054 file, once per file hash;
``sepa_return`` is one rejected or returned batch entry with its reason code and its retry
(``sepa/returns.py``, ``sepa/retries.py``). ``job.progress_done``/``progress_total`` are how far
a long task is (``jobs/progress.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MONEY = sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    op.create_table(
        "sepa_status_report",
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("file_format", sa.String(length=20), nullable=False),
        sa.Column("message_id", sa.String(length=35), nullable=True),
        sa.Column("original_message_id", sa.String(length=35), nullable=True),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=255), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_status_report")),
        sa.UniqueConstraint("file_hash", name=op.f("uq_sepa_status_report_file_hash")),
    )
    op.create_table(
        "sepa_return",
        sa.Column("entry_id", _ID, nullable=False),
        sa.Column("invoice_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("mandate_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=4), nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("status_report_id", _ID, nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_status", sa.String(length=20), nullable=False),
        sa.Column("retry_due_on", sa.Date(), nullable=True),
        sa.Column("retry_entry_id", _ID, nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["sepa_batch_entry.id"],
            name=op.f("fk_sepa_return_entry_id_sepa_batch_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoice.id"], name=op.f("fk_sepa_return_invoice_id_invoice")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"],
            ["sepa_mandate.id"],
            name=op.f("fk_sepa_return_mandate_id_sepa_mandate"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_sepa_return_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["retry_entry_id"],
            ["sepa_batch_entry.id"],
            name=op.f("fk_sepa_return_retry_entry_id_sepa_batch_entry"),
        ),
        sa.ForeignKeyConstraint(
            ["status_report_id"],
            ["sepa_status_report.id"],
            name=op.f("fk_sepa_return_status_report_id_sepa_status_report"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sepa_return")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_sepa_return_entry_id")),
    )
    with op.batch_alter_table("sepa_return") as table:
        table.create_index(op.f("ix_sepa_return_invoice_id"), ["invoice_id"], unique=False)
        table.create_index("ix_sepa_return_retry", ["retry_status", "retry_due_on"], unique=False)
    with op.batch_alter_table("sepa_batch_entry") as table:
        table.add_column(sa.Column("returned_on", sa.Date(), nullable=True))
    with op.batch_alter_table("sepa_mandate_usage") as table:
        table.add_column(sa.Column("return_reason", sa.String(length=4), nullable=True))
    with op.batch_alter_table("job") as table:
        table.add_column(sa.Column("progress_done", sa.Integer(), nullable=True))
        table.add_column(sa.Column("progress_total", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as table:
        table.drop_column("progress_total")
        table.drop_column("progress_done")
    with op.batch_alter_table("sepa_mandate_usage") as table:
        table.drop_column("return_reason")
    with op.batch_alter_table("sepa_batch_entry") as table:
        table.drop_column("returned_on")
    op.drop_table("sepa_return")
    op.drop_table("sepa_status_report")
