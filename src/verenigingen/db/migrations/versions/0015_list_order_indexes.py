"""The indexes that keyset-paged lists read in order

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:10:00.000000

Each list endpoint pages on a key that ends in a unique column (``db/paging.py``): invoices and
payments newest first, members by name, memberships by start, bank statements by closing date.
With an index on exactly that key a page is a range scan of ``limit + 1`` index entries, with no
sort and no count, whatever the size of the table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_invoice_posting_date_id", "invoice", ["posting_date", "id"]),
    ("ix_payment_posting_date_id", "payment", ["posting_date", "id"]),
    ("ix_member_name", "member", ["last_name", "first_name", "id"]),
    ("ix_membership_start_date_id", "membership", ["start_date", "id"]),
    ("ix_bank_statement_closing_date_id", "bank_statement", ["closing_date", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
