"""Values as JSON text, the same in every backend, with ``Decimal`` and dates kept exact.

A ``Decimal`` is written as ``{"$decimal": "12.50"}`` and read back as ``Decimal("12.50")``
(never through a float); a ``date`` or ``datetime`` as its ISO form under ``$date`` /
``$datetime``. Anything else must be plain JSON: callers turn their dataclasses into such
structures with the ``encode`` / ``decode`` hooks of :meth:`VersionedCache.get_or_fill`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

_DECIMAL = "$decimal"
_DATE = "$date"
_DATETIME = "$datetime"


def _tagged(value: object) -> dict[str, str]:
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    # datetime before date: a datetime is a date too.
    if isinstance(value, dt.datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dt.date):
        return {_DATE: value.isoformat()}
    raise TypeError(f"a cached value holds {type(value).__name__}, which is not JSON: {value!r}")


def _untagged(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if _DECIMAL in obj:
            return Decimal(obj[_DECIMAL])
        if _DATE in obj:
            return dt.date.fromisoformat(obj[_DATE])
        if _DATETIME in obj:
            return dt.datetime.fromisoformat(obj[_DATETIME])
    return obj


def dumps(value: object) -> str:
    """JSON text of ``value``; raises ``TypeError`` for anything that would not read back equal."""
    return json.dumps(value, default=_tagged, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | bytes) -> Any:
    return json.loads(text, object_hook=_untagged)
