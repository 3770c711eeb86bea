"""safety_run and safety_rollback_step: the safety monitor's runs and the rollbacks they caused

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 10:00:00.000000

A run of the five safety checks is a row of ``safety_run`` with each check's result as JSON;
each step of an automatic rollback (and of a restore) is a row of ``safety_rollback_step`` with
its outcome (``safety/models.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "safety_run",
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("critical_failed", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("rolled_back", sa.Boolean(), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_run")),
    )
    op.create_table(
        "safety_rollback_step",
        sa.Column("run_id", _ID, nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("undo", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["safety_run.id"],
            name=op.f("fk_safety_rollback_step_run_id_safety_run"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_rollback_step")),
    )
    with op.batch_alter_table("safety_rollback_step") as table:
        table.create_index("ix_safety_rollback_step_run_id", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("safety_rollback_step")
    op.drop_table("safety_run")
