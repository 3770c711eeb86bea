"""The two tables of ``docs/api.md`` that must never drift: every endpoint and every error code.

    python -m verenigingen.web.apidoc

prints both tables from the code: the endpoints from the app's OpenAPI document, the error codes
from the error classes (each rule's code, status and docstring) and the codes the web handlers
give to what is not a domain error. ``docs/api.md`` keeps its own prose and may word each line
its own way; ``tests/web/test_api_docs.py`` holds it to the same sources, both ways: every
endpoint and every code of the code is in the document with the right status, and everything
the document lists exists.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from verenigingen import errors as platform_errors
from verenigingen.auth import errors as auth_errors
from verenigingen.bank import errors as bank_errors
from verenigingen.billing import errors as billing_errors
from verenigingen.dues import errors as dues_errors
from verenigingen.errors import DomainError
from verenigingen.indexes import errors as indexes_errors
from verenigingen.jobs import errors as jobs_errors
from verenigingen.members import errors as members_errors
from verenigingen.safety import errors as safety_errors
from verenigingen.sepa import errors as sepa_errors
from verenigingen.settings import errors as settings_errors
from verenigingen.web import errors as web_errors
from verenigingen.web.app import API_PREFIX

ERROR_MODULES: tuple[tuple[str, ModuleType], ...] = (
    ("Everywhere", platform_errors),
    ("Users, logins and ownership", auth_errors),
    ("Members, applications and memberships", members_errors),
    ("Dues", dues_errors),
    ("Invoices, credit notes and payments", billing_errors),
    ("SEPA mandates", sepa_errors),
    ("Bank statements", bank_errors),
    ("Jobs", jobs_errors),
    ("Indexes", indexes_errors),
    ("Runtime settings", settings_errors),
    ("Safety monitor", safety_errors),
    ("The HTTP face", web_errors),
)
"""Where error classes live, with the heading their table has in ``docs/api.md``. A class
defined anywhere else is an error of its own (a test walks every ``DomainError`` subclass)."""

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int | None
    """None: the status of the HTTP error itself (``http_error``)."""
    meaning: str
    group: str


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """As ``docs/api.md`` writes it: without the ``/api/v1`` prefix, which every route but
    ``/health`` has."""
    summary: str


def error_classes() -> list[type[DomainError]]:
    """Every error class of :data:`ERROR_MODULES` (the categories included, ``DomainError``
    itself not: it is never raised), in the order of the modules and then of the source."""
    modules = {module.__name__ for _group, module in ERROR_MODULES}
    found = [cls for cls in _subclasses(DomainError) if cls.__module__ in modules]
    order = {module.__name__: index for index, (_group, module) in enumerate(ERROR_MODULES)}
    return sorted(found, key=lambda cls: (order[cls.__module__], inspect.getsourcelines(cls)[1]))


def all_error_subclasses() -> list[type[DomainError]]:
    """Every ``DomainError`` subclass imported so far, wherever it is defined."""
    return list(_subclasses(DomainError))


def _subclasses(root: type[DomainError]) -> Iterator[type[DomainError]]:
    seen: set[type[DomainError]] = set()
    stack = [root]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
                yield sub


def meaning(cls: type) -> str:
    """The first paragraph of a class's docstring, on one line."""
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n", 1)[0].split())


def error_codes() -> list[ErrorCode]:
    """Every code a response's ``error`` field can carry, once each, grouped as the document
    groups them. A category's code (``conflict``) is both a class and a handler's code; its
    meaning is the two put together."""
    group_of = {module.__name__: group for group, module in ERROR_MODULES}
    codes: dict[str, ErrorCode] = {}
    for cls in error_classes():
        codes[cls.code] = ErrorCode(
            cls.code, cls.status_code, meaning(cls), group_of[cls.__module__]
        )
    for code, (status, when) in web_errors.HANDLER_CODES.items():
        known = codes.get(code)
        if known is None:
            codes[code] = ErrorCode(code, status, when or "", ERROR_MODULES[0][0])
        elif when:
            codes[code] = ErrorCode(code, status, f"{known.meaning} {when}", known.group)
    return list(codes.values())


def endpoints(openapi: dict[str, Any]) -> list[Endpoint]:
    """Every operation of an OpenAPI document, in its order."""
    found = []
    for path, operations in openapi["paths"].items():
        for method in HTTP_METHODS:
            if method in operations:
                operation = operations[method]
                summary = operation.get("description") or operation.get("summary") or ""
                found.append(
                    Endpoint(
                        method.upper(),
                        path.removeprefix(API_PREFIX) if path != API_PREFIX else path,
                        " ".join(summary.split("\n\n", 1)[0].split()),
                    )
                )
    return found


def endpoint_table(openapi: dict[str, Any]) -> str:
    lines = ["| method | path | what |", "|---|---|---|"]
    lines += [f"| {e.method} | `{e.path}` | {e.summary} |" for e in endpoints(openapi)]
    return "\n".join(lines)


def error_tables() -> str:
    parts: list[str] = []
    codes = error_codes()
    for group, _module in ERROR_MODULES:
        rows = [c for c in codes if c.group == group]
        if not rows:
            continue
        parts += [f"### {group}", "", "| status | `error` | when |", "|---|---|---|"]
        parts += [
            f"| {c.status if c.status is not None else 'any'} | `{c.code}` | {c.meaning} |"
            for c in rows
        ]
        parts.append("")
    return "\n".join(parts)


def _offline_openapi() -> dict[str, Any]:
    """The OpenAPI document of an app built on an in-memory database (nothing is connected)."""
    from sqlalchemy import create_engine

    from verenigingen.app_context import AppContext
    from verenigingen.cache.memory import MemoryBackend
    from verenigingen.cache.versioned import VersionedCache
    from verenigingen.config import Settings
    from verenigingen.jobs.engine import JobEngine
    from verenigingen.settings.live import LiveSettings
    from verenigingen.web.app import create_app

    settings = Settings()
    context = AppContext.build(
        settings,
        database=create_engine("sqlite://"),
        cache=VersionedCache(MemoryBackend()),
        jobs=JobEngine.memory("apidoc"),
        runtime=LiveSettings.of_defaults(settings),
    )
    try:
        return create_app(context).openapi()
    finally:
        context.close()


def main() -> None:
    print("## Endpoints\n")
    print(endpoint_table(_offline_openapi()))
    print("\n## Error codes\n")
    print(error_tables())


if __name__ == "__main__":
    main()
