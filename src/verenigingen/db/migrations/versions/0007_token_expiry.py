"""api_token: a label and an optional expiry

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:50:00.000000

Operators list and revoke tokens by id and label; a token past ``expires_at`` authenticates no
one (``auth/service.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_token") as table:
        table.add_column(
            sa.Column("label", sa.String(length=100), server_default="", nullable=False)
        )
        table.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_token") as table:
        table.drop_column("expires_at")
        table.drop_column("label")
