"""docs/api.md against the code: every endpoint of the OpenAPI document and every error code.

The document may word each line its own way; what it lists must be exactly what exists.
``python -m verenigingen.web.apidoc`` prints the tables as the code has them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from verenigingen.auth.models import Role
from verenigingen.web import apidoc

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ENDPOINT_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \|", re.MULTILINE)
ERROR_ROW = re.compile(r"^\| (\d{3}|any) \| `([a-z0-9_]+)` \|", re.MULTILINE)


def documented_endpoints(text: str) -> list[tuple[str, str]]:
    return [(method, path) for method, path in ENDPOINT_ROW.findall(text)]


def documented_codes(text: str) -> list[tuple[str, int | None]]:
    return [
        (code, None if status == "any" else int(status)) for status, code in ERROR_ROW.findall(text)
    ]


def drift(text: str, openapi: dict[str, Any]) -> list[str]:
    """What ``text`` gets wrong about ``openapi`` and the error classes; empty when nothing."""
    problems: list[str] = []
    endpoints = documented_endpoints(text)
    real = {(e.method, e.path) for e in apidoc.endpoints(openapi)}
    problems += [
        f"endpoint listed twice: {e}" for e in sorted(set(endpoints)) if endpoints.count(e) > 1
    ]
    problems += [f"endpoint not documented: {m} {p}" for m, p in sorted(real - set(endpoints))]
    problems += [
        f"documented endpoint does not exist: {m} {p}" for m, p in sorted(set(endpoints) - real)
    ]

    codes = documented_codes(text)
    names = [code for code, _status in codes]
    status_of = {c.code: c.status for c in apidoc.error_codes()}
    problems += [f"code listed twice: {c}" for c in sorted(set(names)) if names.count(c) > 1]
    problems += [f"code not documented: {c}" for c in sorted(status_of.keys() - set(names))]
    problems += [
        f"documented code does not exist: {c}" for c in sorted(set(names) - status_of.keys())
    ]
    problems += [
        f"code {code} is documented with status {status}, the code says {status_of[code]}"
        for code, status in codes
        if code in status_of and status != status_of[code]
    ]
    return problems


@pytest.fixture
def openapi(api: Any) -> dict[str, Any]:
    """The OpenAPI document of the app the tests use (``create_app`` with every router)."""
    app = api(Role.ADMINISTRATOR).app
    assert isinstance(app, FastAPI)
    return app.openapi()


def test_the_document_lists_every_endpoint_and_every_code_and_nothing_else(
    openapi: dict[str, Any],
) -> None:
    assert drift(API_DOC.read_text(encoding="utf-8"), openapi) == []


def test_the_document_covers_what_it_once_left_out(openapi: dict[str, Any]) -> None:
    endpoints = set(documented_endpoints(API_DOC.read_text(encoding="utf-8")))
    assert {
        ("GET", "/jobs"),
        ("GET", "/notifications"),
        ("GET", "/members/{member_id}/payment-history"),
        ("GET", "/members/{member_id}/financial-summary"),
        ("GET", "/perf/indexes"),
        ("GET", "/perf/cache"),
        ("POST", "/dues/generate"),
    } <= endpoints


def test_the_check_sees_each_kind_of_drift(openapi: dict[str, Any]) -> None:
    """Negative controls: a document with one thing wrong fails the check, naming it."""
    text = API_DOC.read_text(encoding="utf-8")

    def without(row_start: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith(row_start)]
        assert len(lines) == len(text.splitlines()) - 1, row_start
        return "\n".join(lines)

    assert drift(without("| POST | `/dues/generate` |"), openapi) == [
        "endpoint not documented: POST /dues/generate"
    ]
    assert drift(without("| 409 | `invoice_not_draft` |"), openapi) == [
        "code not documented: invoice_not_draft"
    ]
    assert drift(text + "\n| DELETE | `/members/{member_id}` | x |\n", openapi) == [
        "documented endpoint does not exist: DELETE /members/{member_id}"
    ]
    assert drift(text + "\n| 409 | `invoice_on_fire` | x |\n", openapi) == [
        "documented code does not exist: invoice_on_fire"
    ]
    wrong_status = text.replace("| 409 | `invoice_not_draft` |", "| 422 | `invoice_not_draft` |")
    assert drift(wrong_status, openapi) == [
        "code invoice_not_draft is documented with status 422, the code says 409"
    ]


def test_the_printed_tables_pass_the_same_check(openapi: dict[str, Any]) -> None:
    """``python -m verenigingen.web.apidoc``'s tables are a document the check accepts."""
    assert drift(apidoc.endpoint_table(openapi) + "\n" + apidoc.error_tables(), openapi) == []
