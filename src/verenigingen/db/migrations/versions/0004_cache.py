"""cache: one version row per cache tag

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 19:43:42.889987

Writers bump a tag's version in their own transaction; a cached entry is served only while the
versions it was computed from are still current (DESIGN.md rule 5). A missing row means version 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_tag",
        sa.Column(
            "tag",
            sa.String(length=120).with_variant(
                mysql.VARCHAR(length=120, collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_cache_tag")),
    )


def downgrade() -> None:
    op.drop_table("cache_tag")
