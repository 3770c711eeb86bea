"""The member search's indexes on PostgreSQL

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 20:50:00.000000

``members.search`` matches a text against the full name (contains), the member id and email
(equal, ignoring case) and the IBAN (ends with), in the members list's name order. Without an
index for each test, a search that matches few members walks every name of the association
(seconds at a million members). On PostgreSQL: trigram indexes (``pg_trgm``, a trusted
extension since PostgreSQL 13) serve "contains" and "ends with", expression indexes the
case-blind equalities. Where ``pg_trgm`` is not installed, and on SQLite and MariaDB (the
smaller shapes), nothing is made and the search walks the names as before. The ``ixs_`` names
keep them out of the models' comparison (``migrations/env.py``): the models declare no
dialect-only index.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    "CREATE INDEX ixs_member_full_name_trgm ON member"
    " USING gin (lower(first_name || ' ' || last_name) gin_trgm_ops)",
    "CREATE INDEX ixs_member_iban_trgm ON member USING gin (iban gin_trgm_ops)",
    "CREATE INDEX ixs_member_member_id_lower ON member (lower(member_id))",
    "CREATE INDEX ixs_member_email_lower ON member (lower(email))",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    available = bind.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"))
    if available is None:
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in INDEXES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in (
        "ixs_member_email_lower",
        "ixs_member_member_id_lower",
        "ixs_member_iban_trgm",
        "ixs_member_full_name_trgm",
    ):
        op.execute(f"DROP INDEX IF EXISTS {name}")
