"""Job groups: the follow-up jobs of one write share a group, and its user has one notification

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:00:00.000000

``job_group`` is what one write (a payment submitted or cancelled) left for the background:
``jobs_open`` counts its jobs that have not ended, and the job that brings it to zero writes the
group's one notification (``jobs/groups.py``). ``job.group_id`` names the group of a job.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job_group",
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("jobs_total", sa.Integer(), nullable=False),
        sa.Column("jobs_open", sa.Integer(), nullable=False),
        sa.Column("jobs_failed", sa.Integer(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(), server_default=sa.func.current_timestamp(), nullable=False
        ),
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_job_group_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_group")),
    )
    with op.batch_alter_table("job") as table:
        table.add_column(sa.Column("group_id", _ID, nullable=True))
        table.create_foreign_key(
            op.f("fk_job_group_id_job_group"), "job_group", ["group_id"], ["id"]
        )
        table.create_index(op.f("ix_job_group_id"), ["group_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job") as table:
        table.drop_index(op.f("ix_job_group_id"))
        table.drop_constraint(op.f("fk_job_group_id_job_group"), type_="foreignkey")
        table.drop_column("group_id")
    op.drop_table("job_group")
