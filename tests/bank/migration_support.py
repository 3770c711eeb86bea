"""What the bank's migration tests share (beside ``empty_engine`` in conftest.py): the revision
of a migration and the one before it, found by its file's name whatever its number."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from verenigingen.db.migrate import alembic_config


def revisions(engine: sa.Engine, migration_file: str) -> tuple[str, str]:
    """The revision of the migration whose file ends with ``migration_file``, and the one
    before it."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    (revision,) = [r for r in script.walk_revisions() if r.path.endswith(migration_file)]
    assert isinstance(revision.down_revision, str)
    return revision.revision, revision.down_revision


def line_columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("bank_statement_line")}
