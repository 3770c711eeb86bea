"""installation: the database's own random id

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:20:00.000000

One row with a random UUID, written here and never changed. The cache's Redis keys carry it, so
two installations on one Redis never serve each other's entries (``db/installation.py``).
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    op.bulk_insert(installation, [{"id": str(uuid.uuid4())}])


def downgrade() -> None:
    op.drop_table("installation")
