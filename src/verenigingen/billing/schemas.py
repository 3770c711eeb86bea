"""Shapes in and out of the ledger: what a caller may ask for and what it gets back.

Amounts enter through :func:`verenigingen.money.parse_amount` (before Pydantic turns a float into
a binary fraction), so a JSON ``10.005`` or ``-3`` is refused with the same domain error that a
CLI caller gets: a ``ValidationFailed`` rule such as ``AmountTooPrecise``, which the web layer
maps to 422. Amounts leave as strings with exactly two decimals.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from verenigingen.billing.models import DocStatus, ModeOfPayment, PaymentType
from verenigingen.clock import BusinessDate
from verenigingen.db.ids import RecordId
from verenigingen.errors import AmountNotANumber
from verenigingen.money import CENT, parse_amount

if TYPE_CHECKING:
    from verenigingen.events import FollowUp


def _amount_validator(field: str) -> BeforeValidator:
    def validate(value: Any) -> Decimal:
        if isinstance(value, bool):  # bool is an int to Python, never an amount
            raise AmountNotANumber(f"{field} must be a number, got {value!r}")
        return parse_amount(value, field=field)

    return BeforeValidator(validate)


def _money_json(value: Decimal) -> str:
    return str(value.quantize(CENT))


MoneyOut = Annotated[Decimal, PlainSerializer(_money_json, return_type=str, when_used="json")]
"""An amount as it leaves: a string with two decimals in JSON, a Decimal in Python."""

ReasonText = Annotated[str, Field(min_length=1, max_length=400)]


class _Input(BaseModel):
    # Unknown fields are refused so that a typo ("paid_amout") is a 422, not a silent default.
    model_config = ConfigDict(extra="forbid")


class InvoiceLineIn(_Input):
    description: Annotated[str, Field(min_length=1, max_length=255)]
    quantity: Annotated[Decimal, _amount_validator("quantity")] = Decimal("1.00")
    rate: Annotated[Decimal, _amount_validator("rate")]


class InvoiceCreate(_Input):
    """A draft invoice. ``posting_date`` defaults to today, ``due_date`` to the payment term."""

    customer_id: RecordId
    member_id: RecordId | None = None
    dues_schedule_id: RecordId | None = None
    posting_date: BusinessDate | None = None
    due_date: BusinessDate | None = None
    coverage_start: BusinessDate | None = None
    coverage_end: BusinessDate | None = None
    remarks: Annotated[str | None, Field(max_length=500)] = None
    lines: Annotated[list[InvoiceLineIn], Field(min_length=1, max_length=500)]


class CreditNoteCreate(_Input):
    """A credit note against a submitted invoice; without ``amount`` it credits all that is open."""

    amount: Annotated[Decimal | None, _amount_validator("amount")] = None
    reason: ReasonText

    @model_validator(mode="before")
    @classmethod
    def _allow_missing_amount(cls, data: Any) -> Any:
        # The amount validator runs on every given value; an explicit null means "all of it".
        if isinstance(data, dict) and data.get("amount") is None:
            return {key: value for key, value in data.items() if key != "amount"}
        return data


class AllocationIn(_Input):
    invoice_id: RecordId
    allocated_amount: Annotated[Decimal, _amount_validator("allocated_amount")]


class PaymentCreate(_Input):
    """A draft payment. ``allocations`` omitted (null): settle the oldest open invoices first;
    an empty list: keep the whole amount unallocated."""

    customer_id: RecordId
    paid_amount: Annotated[Decimal, _amount_validator("paid_amount")]
    posting_date: BusinessDate | None = None
    payment_type: PaymentType = PaymentType.RECEIVE
    mode_of_payment: ModeOfPayment = ModeOfPayment.BANK_TRANSFER
    reference_no: Annotated[str | None, Field(max_length=140)] = None
    reference_date: BusinessDate | None = None
    allocations: Annotated[list[AllocationIn] | None, Field(max_length=500)] = None


class PaymentCreateRequest(PaymentCreate):
    """The API body: a payment, optionally submitted in the same request."""

    submit: bool = False


class InvoiceLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    idx: int
    description: str
    quantity: MoneyOut
    rate: MoneyOut
    amount: MoneyOut


class InvoiceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    customer_id: int
    member_id: int | None
    dues_schedule_id: int | None
    posting_date: dt.date
    due_date: dt.date
    coverage_start: dt.date | None
    coverage_end: dt.date | None
    grand_total: MoneyOut
    outstanding_amount: MoneyOut
    status: str
    docstatus: int
    is_return: bool
    return_against_id: int | None
    remarks: str | None
    lines: list[InvoiceLineOut]


class AllocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    invoice_id: int
    allocated_amount: MoneyOut


PAYMENT_STATUS_BY_DOCSTATUS: dict[int, str] = {
    DocStatus.DRAFT: "Draft",
    DocStatus.SUBMITTED: "Submitted",
    DocStatus.CANCELLED: "Cancelled",
}
"""Payment Entry statuses as ERPNext shows them; they follow from docstatus alone."""


class FollowUpOut(BaseModel):
    """What a write left for the background: the jobs to follow at ``GET /jobs/{id}``."""

    state: Literal["running", "done"]
    """``running``: the jobs are queued or running; ``done``: the work ran with the write."""
    job_ids: list[int]
    message: str

    @classmethod
    def of(cls, follow_up: FollowUp | None) -> FollowUpOut | None:
        if follow_up is None:
            return None
        if follow_up.running:
            message = "Payment processed; updates running in the background"
            return cls(state="running", job_ids=list(follow_up.job_ids), message=message)
        return cls(state="done", job_ids=[], message="Payment processed; updates done")


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    payment_type: str
    customer_id: int
    posting_date: dt.date
    paid_amount: MoneyOut
    unallocated_amount: MoneyOut
    mode_of_payment: str
    reference_no: str | None
    reference_date: dt.date | None
    docstatus: int
    status: str = ""
    allocations: list[AllocationOut]
    follow_up: FollowUpOut | None = None
    """Set on the answer of a submit or cancel: the member summary, the mandate usage and other
    work that follows the payment, with its job ids; None on reads."""

    @model_validator(mode="after")
    def _status_from_docstatus(self) -> PaymentOut:
        self.status = PAYMENT_STATUS_BY_DOCSTATUS[self.docstatus]
        return self
