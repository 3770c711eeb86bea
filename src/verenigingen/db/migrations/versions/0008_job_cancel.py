"""job: a cancel request for a Running job

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 10:00:00.000000

An administrator may cancel a Running job: the request is recorded here, and the worker that runs
the job ends it Cancelled instead of Completed, its work rolled back (``jobs/service.py``,
``jobs/heartbeat.py``). A job whose worker is gone is cancelled at once, with the request kept.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job") as table:
        table.add_column(sa.Column("cancel_requested_at", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("cancel_requested_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as table:
        table.drop_column("cancel_requested_by")
        table.drop_column("cancel_requested_at")
