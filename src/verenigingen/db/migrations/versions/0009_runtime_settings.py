"""runtime_setting and runtime_setting_change: settings changed while the processes run

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00.000000

A setting without a row has its default from the environment; an administrator's value is a row
of ``runtime_setting``, and every change (a value set, or a reset to the default) is a row of
``runtime_setting_change`` (``settings/service.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "runtime_setting",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_runtime_setting")),
    )
    op.create_table(
        "runtime_setting_change",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("old_value", sa.String(length=100), nullable=False),
        sa.Column("old_source", sa.String(length=20), nullable=False),
        sa.Column("new_value", sa.String(length=100), nullable=False),
        sa.Column("new_source", sa.String(length=20), nullable=False),
        sa.Column("changed_by", sa.String(length=255), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runtime_setting_change")),
    )
    with op.batch_alter_table("runtime_setting_change") as table:
        table.create_index("ix_runtime_setting_change_name", ["name", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("runtime_setting_change")
    op.drop_table("runtime_setting")
