"""The error classes: one per rule, each with a code of its own and one HTTP status."""

from __future__ import annotations

import importlib
import pkgutil
import re

import verenigingen
from verenigingen.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from verenigingen.indexes.errors import InvalidIndexSpec
from verenigingen.web import apidoc
from verenigingen.web.errors import HANDLER_CODES

CATEGORIES: tuple[type[DomainError], ...] = (
    NotFound,
    ValidationFailed,
    Conflict,
    PermissionDenied,
    NotAuthenticated,
)
CODES_CLIENTS_KNEW = {PermissionDenied: "forbidden", InvalidIndexSpec: "invalid_index"}
"""Codes older than the rule that a code is its class's name in snake_case; kept, as codes are."""


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _import_everything() -> None:
    """Every module of the package but the migration scripts (Alembic runs those), so that no
    error class can hide in a module nobody imported."""
    for module in pkgutil.walk_packages(verenigingen.__path__, "verenigingen."):
        if ".db.migrations" not in module.name and module.name != "verenigingen.__main__":
            importlib.import_module(module.name)


def test_every_error_class_lives_in_an_error_module() -> None:
    _import_everything()
    registered = set(apidoc.error_classes())
    elsewhere = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in apidoc.all_error_subclasses()
        if cls.__module__.startswith("verenigingen.") and cls not in registered
    ]
    assert elsewhere == [], "move these into an errors module listed in apidoc.ERROR_MODULES"


def test_codes_are_unique() -> None:
    seen: dict[str, str] = {}
    for cls in apidoc.error_classes():
        assert cls.code not in seen, f"{cls.__name__} reuses {cls.code!r} of {seen[cls.code]}"
        seen[cls.code] = cls.__name__


def test_each_class_says_its_code_and_meaning_itself() -> None:
    for cls in apidoc.error_classes():
        assert "code" in vars(cls), f"{cls.__name__} inherits the code of its category"
        assert vars(cls).get("__doc__"), f"{cls.__name__} has no docstring to document it"


def test_a_code_is_its_class_name_in_snake_case() -> None:
    for cls in apidoc.error_classes():
        assert cls.code == CODES_CLIENTS_KNEW.get(cls, _snake(cls.__name__)), cls.__name__


def test_a_rule_has_the_status_of_its_category() -> None:
    for cls in apidoc.error_classes():
        for category in CATEGORIES:
            if issubclass(cls, category):
                assert cls.status_code == category.status_code, cls.__name__
        assert 400 <= cls.status_code < 600


def test_one_status_per_code() -> None:
    status_of = {cls.code: cls.status_code for cls in apidoc.error_classes()}
    for code, (status, _when) in HANDLER_CODES.items():
        if code in status_of:
            assert status == status_of[code], code
    documented = apidoc.error_codes()
    assert len({c.code for c in documented}) == len(documented)


def test_the_business_rules_of_the_issue_have_their_own_code() -> None:
    codes = {cls.code for cls in apidoc.error_classes()}
    assert {
        "invoice_not_draft",
        "allocation_exceeds_outstanding",
        "payment_already_cancelled",
        "payment_not_draft",
        "application_already_decided",
    } <= codes
