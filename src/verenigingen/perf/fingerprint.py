"""Statement fingerprints: the same query shape gives the same fingerprint, whatever its values.

SQLAlchemy statements are fingerprinted from their compiled form, taken before IN lists are
expanded, so neither values nor list lengths split a group. Raw SQL (``exec_driver_sql``) has its
literals masked with sqlglot, and IN lists and multi-row VALUES collapsed to one element.

sqlglot (about 8 MB) is imported at the first raw statement: a process that sends none (the
API) never loads it (``tests/architecture/test_startup_imports.py``).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlglot import exp

_WHITESPACE = re.compile(r"\s+")
_POSTCOMPILE = re.compile(r"\(?__\[POSTCOMPILE_(\w+)\]\)?")
SQLGLOT_DIALECTS = {
    "postgresql": "postgres",
    "mariadb": "mysql",
    "mysql": "mysql",
    "sqlite": "sqlite",
}


def normalise(sql: str) -> str:
    """One line, single spaces, expanding-IN markers shown as ``(…name)``."""
    collapsed = _WHITESPACE.sub(" ", sql).strip()
    return _POSTCOMPILE.sub(lambda match: f"(…{match.group(1)})", collapsed)


def fingerprint_id(fingerprint: str) -> str:
    """A short stable id for a fingerprint, for reports and baselines."""
    return hashlib.sha1(fingerprint.encode(), usedforsecurity=False).hexdigest()[:12]


def _mask(node: exp.Expression) -> exp.Expression:
    from sqlglot import exp

    if isinstance(node, exp.Literal):
        return exp.Placeholder()
    if isinstance(node, exp.In) and node.expressions:
        return exp.In(this=node.this, expressions=[exp.Placeholder()])
    if isinstance(node, exp.Values) and len(node.expressions) > 1:
        return exp.Values(expressions=[node.expressions[0]])
    return node


@lru_cache(maxsize=4096)
def mask_literals(sql: str, dialect: str) -> str:
    """Fingerprint raw SQL: literals become ``?``; IN lists and VALUES rows collapse to one."""
    import sqlglot
    from sqlglot.errors import SqlglotError

    read = SQLGLOT_DIALECTS.get(dialect)
    try:
        tree = sqlglot.parse_one(sql, read=read)
    except SqlglotError:
        return normalise(sql)
    if tree is None:
        return normalise(sql)
    return normalise(tree.transform(_mask).sql(dialect=read))
