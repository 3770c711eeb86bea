"""The index the desk's terminations list reads in order

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 20:45:00.000000

``members.lists.list_terminations`` pages the terminated members on (termination date, id),
latest first. With an index on (status, termination_date, id) a page is a range scan of
``limit + 1`` entries of the Terminated members, with no sort, however many there are.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_member_status_termination_date_id", "member", ["status", "termination_date", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_member_status_termination_date_id", table_name="member")
