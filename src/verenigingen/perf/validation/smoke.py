"""The functional smoke suite: a handful of real API calls on the optimized side, each with the
outcome it must have. A refused payment must change nothing, a paid invoice must show as paid in
the member's history (through the cache), the health and metrics endpoints must answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from verenigingen.perf.validation.association import Side
from verenigingen.perf.validation.runs import OpenInvoice, payment_body


@dataclass(frozen=True)
class SmokeCheck:
    name: str
    passed: bool
    detail: str


def smoke_suite(side: Side, invoice: OpenInvoice) -> list[SmokeCheck]:
    """Run the checks in order; one that fails does not stop the others."""
    state: dict[str, Any] = {}
    checks: list[tuple[str, Callable[[], str]]] = [
        ("health answers ok", lambda: _health(side)),
        ("a request without a token is refused", lambda: _unauthenticated(side)),
        ("an over-allocation is refused and writes nothing", lambda: _refused(side, invoice)),
        ("a payment settles its invoice", lambda: _paid(side, invoice, state)),
        ("the member's history shows the payment", lambda: _history(side, invoice, state)),
        ("metrics are served", lambda: _metrics(side)),
    ]
    results = []
    for name, check in checks:
        try:
            results.append(SmokeCheck(name, True, check()))
        except SmokeFailure as error:
            results.append(SmokeCheck(name, False, str(error)))
        except (LookupError, TypeError, ValueError) as error:  # a response of another shape
            results.append(SmokeCheck(name, False, f"{type(error).__name__}: {error}"))
    return results


class SmokeFailure(Exception):
    """An outcome of the smoke suite was not the one it must be."""


def _require(condition: object, message: str) -> None:
    # Not ``assert``: the checks must run under ``python -O`` too.
    if not condition:
        raise SmokeFailure(message)


def _health(side: Side) -> str:
    response = side.client.get("/health")
    body = response.json()
    _require(response.status_code == 200, f"/health: HTTP {response.status_code}: {body}")
    database = body["checks"]["database"]
    _require(database["status"] == "ok", f"/health database: {database}")
    return f"HTTP 200, status {body['status']}"


def _unauthenticated(side: Side) -> str:
    response = side.client.get("/api/v1/members", headers={"authorization": ""})
    _require(response.status_code == 401, f"HTTP {response.status_code}, expected 401")
    return "HTTP 401"


def _invoice(side: Side, invoice_id: int) -> dict[str, Any]:
    response = side.client.get(f"/api/v1/invoices/{invoice_id}")
    _require(response.status_code == 200, f"invoice {invoice_id}: HTTP {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def _refused(side: Side, invoice: OpenInvoice) -> str:
    body = payment_body(invoice)
    too_much = str(invoice.outstanding + Decimal("1.00"))
    body["paid_amount"] = too_much
    body["allocations"] = [{"invoice_id": invoice.invoice_id, "allocated_amount": too_much}]
    before = side.client.get("/api/v1/payments?limit=1&count=true").json()["total"]
    response = side.client.post("/api/v1/payments", json=body)
    error = response.json().get("error")
    _require(response.status_code == 422, f"HTTP {response.status_code}, expected 422")
    _require(error == "allocation_exceeds_outstanding", f"error {error!r}")
    after = side.client.get("/api/v1/payments?limit=1&count=true").json()["total"]
    _require(after == before, f"payments {before} -> {after}")
    outstanding = Decimal(_invoice(side, invoice.invoice_id)["outstanding_amount"])
    _require(outstanding == invoice.outstanding, f"outstanding changed to {outstanding}")
    return f"HTTP 422 {error}, {before} payments before and after"


def _paid(side: Side, invoice: OpenInvoice, state: dict[str, Any]) -> str:
    response = side.client.post("/api/v1/payments", json=payment_body(invoice))
    _require(response.status_code == 201, f"HTTP {response.status_code}: {response.text[:200]}")
    payment = response.json()
    _require(payment["docstatus"] == 1, f"payment docstatus {payment['docstatus']}")
    state["payment"] = payment["number"]
    paid = _invoice(side, invoice.invoice_id)
    _require(Decimal(paid["outstanding_amount"]) == 0, f"outstanding {paid['outstanding_amount']}")
    _require(paid["status"] == "Paid", f"status {paid['status']}")
    state["member"] = paid["member_id"]
    return f"payment {payment['number']}, invoice {paid['number']} Paid, outstanding 0.00"


def _history(side: Side, invoice: OpenInvoice, state: dict[str, Any]) -> str:
    _require("payment" in state, "no payment to look for")
    _require(state.get("member"), "the paid invoice has no member")
    response = side.client.get(f"/api/v1/members/{state['member']}/payment-history?limit=500")
    _require(response.status_code == 200, f"HTTP {response.status_code}")
    rows = [row for row in response.json()["invoices"] if row["id"] == invoice.invoice_id]
    _require(rows, f"invoice {invoice.invoice_id} not in the history")
    numbers = [payment["payment_number"] for payment in rows[0]["payments"]]
    _require(state["payment"] in numbers, f"payments shown: {numbers}")
    _require(Decimal(rows[0]["outstanding_amount"]) == 0, "history still shows it outstanding")
    return f"invoice {invoice.invoice_id} shows {state['payment']}, outstanding 0.00"


def _metrics(side: Side) -> str:
    response = side.client.get("/metrics")
    _require(response.status_code == 200, f"HTTP {response.status_code}")
    _require("# TYPE" in response.text, "not the Prometheus text format")
    return f"HTTP 200, {len(response.text.splitlines())} lines"
