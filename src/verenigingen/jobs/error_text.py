"""The error text a failed attempt leaves on its job: what went wrong and where, IBANs masked.

A domain error (bad input, no permission) is told by its own message, which is written for
people; any other exception by its type, its message and the line that raised it.
"""

from __future__ import annotations

import traceback

from verenigingen.errors import DomainError
from verenigingen.jobs.masking import mask_text

MAX_ERROR_LENGTH = 4000


def describe(error: BaseException) -> str:
    """``RuntimeError: the bank refused (at tasks.py:42)``, or a domain error's own detail."""
    if isinstance(error, DomainError):
        return error.detail
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def error_to_store(text: str) -> str:
    """``text`` as the job row keeps it: IBANs masked, cut to :data:`MAX_ERROR_LENGTH`."""
    return mask_text(text)[:MAX_ERROR_LENGTH]
