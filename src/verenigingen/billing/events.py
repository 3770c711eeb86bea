"""What the ledger records when money changes: the events other domains subscribe to.

Each event carries what its subscribers need as plain values, so that acting on it costs no
query to find out what happened. Amounts are the ledger's own ``Decimal`` values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from verenigingen.auth.models import User
from verenigingen.billing.models import ModeOfPayment, PaymentType
from verenigingen.events import DomainEvent


@dataclass(frozen=True)
class PaymentChange(DomainEvent):
    """A submitted payment: what it paid, what it settled, and whose ledger it is."""

    user: User
    payment_id: int
    customer_id: int
    member_ids: tuple[int, ...]
    """The customer's members, found while the payment was locked."""
    payment_type: PaymentType
    mode_of_payment: ModeOfPayment
    posting_date: dt.date
    paid_amount: Decimal
    allocated_amount: Decimal
    invoice_count: int
    """How many invoices the payment's allocations touch."""
    invoice_posting_dates: tuple[dt.date, ...]
    settled: tuple[tuple[dt.date, Decimal], ...] = ()
    """Each allocation to an invoice (credit notes left out): the invoice's posting date and
    the amount it settled. The monthly analytics' collected amounts move by these."""
    payment_number: str = ""

    def follow_up_subject(self) -> str:
        # One notification per payment, whatever the number of jobs that follow it.
        return f"Payment {self.payment_number or self.payment_id}"


@dataclass(frozen=True)
class PaymentSubmitted(PaymentChange):
    """A Draft payment was submitted: its allocations lowered what the invoices owe."""


@dataclass(frozen=True)
class PaymentCancelled(PaymentChange):
    """A submitted payment was cancelled: each invoice owes again what it had settled."""

    def follow_up_subject(self) -> str:
        return f"Payment {self.payment_number or self.payment_id} cancelled"


@dataclass(frozen=True)
class PaymentsRecorded(DomainEvent):
    """Payments were created and submitted in bulk (a payment batch, the demo association)."""

    user: User
    payment_ids: tuple[int, ...]
    customer_ids: frozenset[int]
    posting_dates: frozenset[dt.date]
    """The payments' posting dates and those of the invoices they settle."""
    direct_debit_payment_ids: tuple[int, ...] = ()
    """Those of ``payment_ids`` collected by SEPA direct debit (their mandate usage follows)."""


@dataclass(frozen=True)
class PaymentsCancelled(DomainEvent):
    """Submitted payments were cancelled in bulk (returned direct debits): each invoice owes
    again what they had settled."""

    user: User
    payment_ids: tuple[int, ...]
    customer_ids: frozenset[int]
    posting_dates: frozenset[dt.date]
    """The payments' posting dates and those of the invoices they had settled."""
    direct_debit_payment_ids: tuple[int, ...] = ()
    """Those of ``payment_ids`` collected by SEPA direct debit."""


@dataclass(frozen=True)
class InvoiceSubmitted(DomainEvent):
    """A Draft invoice was submitted: its customer now owes its grand total."""

    user: User
    invoice_id: int
    customer_id: int
    grand_total: Decimal
    posting_date: dt.date


@dataclass(frozen=True)
class InvoiceCancelled(DomainEvent):
    """A submitted invoice was cancelled; ``outstanding_amount`` is what it still owed."""

    user: User
    invoice_id: int
    customer_id: int
    grand_total: Decimal
    outstanding_amount: Decimal
    posting_date: dt.date


@dataclass(frozen=True)
class CreditNoteSubmitted(DomainEvent):
    """A credit note of ``amount`` (positive) lowered what its original invoice owes."""

    user: User
    credit_note_id: int
    original_invoice_id: int
    customer_id: int
    amount: Decimal
    original_posting_date: dt.date


@dataclass(frozen=True)
class CreditNoteCancelled(DomainEvent):
    """A submitted credit note was cancelled: its original owes ``amount`` again."""

    user: User
    credit_note_id: int
    original_invoice_id: int
    customer_id: int
    amount: Decimal
    original_posting_date: dt.date


@dataclass(frozen=True)
class InvoicesTurnedOverdue(DomainEvent):
    """The daily refresh moved open invoices of these customers past their due date."""

    customer_ids: frozenset[int]
