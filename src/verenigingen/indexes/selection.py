"""Which indexes a request to add means, decided in one place for the API and the command line.

A request names one declared index, asks for every strategic one, or gives a table and its
columns for an ad-hoc index (an advisor's candidate, named by the manager). Whatever it names is
checked against the models here, before the manager runs any DDL. Impact and rollback name one
index each; :func:`verenigingen.indexes.service.find_spec` resolves that name.
"""

from __future__ import annotations

from dataclasses import dataclass

from verenigingen.auth.models import User
from verenigingen.errors import ValidationFailed
from verenigingen.indexes import catalog
from verenigingen.indexes.catalog import IndexSpec
from verenigingen.indexes.service import require_administrator


@dataclass(frozen=True)
class IndexSelection:
    name: str | None = None
    """One declared index."""
    strategic: bool = False
    """Every declared strategic index; wins over a name or a table."""
    table: str | None = None
    """With ``columns``: an ad-hoc index on them; a name wins over a table."""
    columns: tuple[str, ...] = ()


def select_indexes(user: User, selection: IndexSelection) -> list[IndexSpec]:
    """The indexes ``selection`` means, validated, in the order they are to be built.

    For administrators: 403 before anything is looked up. 404 (``unknown_index``) for a name that
    is not declared, 422 (``invalid_index``) for an unknown table or column, 422 when the
    request names nothing.
    """
    require_administrator(user)
    if selection.strategic:
        return list(catalog.STRATEGIC)
    if selection.name:
        return [catalog.resolve(selection.name)]
    if selection.table:
        return [catalog.adhoc(selection.table, selection.columns)]
    raise ValidationFailed(
        "name an index, ask for the strategic ones, or give a table and its columns"
    )
