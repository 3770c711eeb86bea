"""The error text a failed attempt leaves on its job: what went wrong and where, IBANs masked,
no server paths.

A domain error (bad input, no permission) is told by its own message, which is written for
people; any other exception by its type, its message and the line that raised it. Users read
this text (``GET /api/v1/jobs/{id}``), so where the server keeps its files stays out of it: the
line is named by its module's path inside the package, and absolute paths in a message (a
database file, a temporary directory) are cut to their last part.
"""

from __future__ import annotations

import re
import traceback
from pathlib import PurePath

from verenigingen.errors import DomainError
from verenigingen.jobs.masking import mask_text

MAX_ERROR_LENGTH = 4000
PACKAGE = "verenigingen"

# An absolute POSIX path of two or more parts, not the path of a URL (``https://host/a/b``).
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])(?:/[\w.@+-]+)+/([\w.@+-]+)")


def describe(error: BaseException) -> str:
    """``RuntimeError: the bank refused (at verenigingen/sepa/tasks.py:42)``, or a domain
    error's own detail."""
    if isinstance(error, DomainError):
        return error.detail
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {source_name(last[0].filename)}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


def source_name(filename: str) -> str:
    """A source file as a user may see it: from the package down, or its name alone."""
    parts = PurePath(filename).parts
    if PACKAGE in parts:
        return "/".join(parts[len(parts) - 1 - parts[::-1].index(PACKAGE) :])
    return PurePath(filename).name


def error_to_store(text: str) -> str:
    """``text`` as the job row keeps it: IBANs masked, absolute paths cut to their last part
    (``…/verenigingen.db``), at most :data:`MAX_ERROR_LENGTH` characters."""
    return _ABSOLUTE_PATH.sub(r"…/\1", mask_text(text))[:MAX_ERROR_LENGTH]
