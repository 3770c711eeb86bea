"""A task's return value as its job row keeps it: plain JSON values, IBANs masked.

A task may return a dataclass, decimals or dates; the row's ``result`` column is JSON, so they
become plain values (a dataclass its fields, anything else JSON cannot hold its text).
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from verenigingen.jobs.masking import mask_ibans


def as_json(value: Any) -> Any:
    """``value`` as JSON values: dataclasses become dicts, decimals and dates their text."""
    if value is None:
        return None
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str))


def result_to_store(value: Any) -> Any:
    """A task's return value as the job's ``result``: JSON values with every IBAN masked."""
    return mask_ibans(as_json(value))
