"""Random sequences of ledger operations, valid and invalid, against a model of what must happen.

Hypothesis drives invoices, payments (explicit and oldest-first), credit notes and cancellations on
SQLite. A small model predicts each outcome: the domain error an invalid attempt must raise (and
then nothing may change), or the amounts a valid one must produce. After every step the ledger's
invariants are recomputed from the rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from billing_factories import LedgerFactory, ledger_snapshot
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.errors import (
    AllocationExceedsOutstanding,
    AllocationsExceedPaidAmount,
    AllocationToAnotherCustomer,
    AllocationToCreditNote,
    CreditExceedsOutstanding,
    CreditNoteNotCreditable,
    InvoiceAlreadyCancelled,
    InvoiceNotDraft,
    InvoiceNotSubmitted,
    InvoiceStillSettled,
    NothingOutstandingToCredit,
    PaymentAlreadyCancelled,
    PaymentNotDraft,
)
from verenigingen.billing.models import DocStatus, Invoice, Payment
from verenigingen.billing.models import PaymentAllocation as Allocation
from verenigingen.billing.schemas import AllocationIn, CreditNoteCreate, PaymentCreate
from verenigingen.billing.service.credit_notes import create_credit_note
from verenigingen.billing.service.invoices import cancel_invoice, submit_invoice
from verenigingen.billing.service.payments import cancel_payment, create_payment, submit_payment
from verenigingen.billing.status import invoice_status
from verenigingen.errors import DomainError, NotFound

T = TypeVar("T")
ZERO = Decimal("0.00")
amounts = st.integers(min_value=1, max_value=15_000).map(lambda cents: Decimal(cents).scaleb(-2))
picks = st.integers(min_value=0, max_value=10_000)


@dataclass
class ModelInvoice:
    customer: int
    total: Decimal
    posting: dt.date
    due: dt.date
    docstatus: int = DocStatus.DRAFT
    outstanding: Decimal = ZERO
    is_return: bool = False
    against: int | None = None


@dataclass
class ModelPayment:
    customer: int
    paid: Decimal
    docstatus: int = DocStatus.DRAFT
    allocations: dict[int, Decimal] = field(default_factory=dict)


class LedgerMachine(RuleBasedStateMachine):
    engine: Engine  # set by the test before the machine runs

    def __init__(self) -> None:
        super().__init__()
        self.connection = self.engine.connect()
        self.transaction = self.connection.begin()
        self.session = Session(
            bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        user = create_user(self.session, f"kas-{uuid.uuid4().hex[:8]}@example.org", Role.TREASURER)
        self.user = user
        self.ledger = LedgerFactory(self.session, user)
        self.customers = [self.ledger.customer() for _ in range(2)]
        self.customer_ids = [customer.id for customer in self.customers]
        self.invoices: dict[int, ModelInvoice] = {}
        self.payments: dict[int, ModelPayment] = {}

    def teardown(self) -> None:
        self.session.close()
        self.transaction.rollback()
        self.connection.close()

    # -- helpers --------------------------------------------------------------------------

    def _pick(self, ids: list[int], index: int) -> int:
        return sorted(ids)[index % len(ids)]

    def _attempt(self, expected: type[DomainError] | None, action: Callable[[], T]) -> T | None:
        """Run ``action``; when an error is expected, that rule (not a neighbour of it) must be
        the one raised, and nothing may change."""
        if expected is None:
            return action()
        before = ledger_snapshot(self.session)
        with pytest.raises(expected) as raised:
            action()
        assert type(raised.value) is expected
        assert ledger_snapshot(self.session) == before
        return None

    def _allocation_refusal(
        self, invoice_id: int, customer: int, amount: Decimal
    ) -> type[DomainError] | None:
        """The rule that refuses ``amount`` of ``customer`` to ``invoice_id``; None if none does."""
        invoice = self.invoices[invoice_id]
        if invoice.customer != customer:
            return AllocationToAnotherCustomer
        if invoice.is_return:
            return AllocationToCreditNote
        if invoice.docstatus != DocStatus.SUBMITTED:
            return InvoiceNotSubmitted
        if amount > invoice.outstanding:
            return AllocationExceedsOutstanding
        return None

    def _apply_submit(self, payment: ModelPayment) -> None:
        payment.docstatus = DocStatus.SUBMITTED
        for invoice_id, amount in payment.allocations.items():
            self.invoices[invoice_id].outstanding -= amount

    # -- rules ------------------------------------------------------------------------------

    @rule(
        customer=st.sampled_from([0, 1]),
        amount=amounts,
        submit=st.booleans(),
        posted_days_ago=st.integers(0, 3),
        term=st.integers(0, 4),
    )
    def create_invoice(
        self, customer: int, amount: Decimal, submit: bool, posted_days_ago: int, term: int
    ) -> None:
        posting = clock.today() - dt.timedelta(days=posted_days_ago)
        invoice = self.ledger.invoice(
            self.customers[customer],
            amount,
            submit=submit,
            posting_date=posting,
            due_date=posting + dt.timedelta(term),
        )
        model = ModelInvoice(customer, amount, posting, posting + dt.timedelta(term))
        if submit:
            model.docstatus, model.outstanding = DocStatus.SUBMITTED, amount
        self.invoices[invoice.id] = model

    @precondition(lambda self: any(i.docstatus == DocStatus.DRAFT for i in self.invoices.values()))
    @rule(pick=picks)
    def submit_draft_invoice(self, pick: int) -> None:
        drafts = [i for i, m in self.invoices.items() if m.docstatus == DocStatus.DRAFT]
        invoice_id = self._pick(drafts, pick)
        submit_invoice(self.session, self.user, invoice_id)
        model = self.invoices[invoice_id]
        model.docstatus, model.outstanding = DocStatus.SUBMITTED, model.total

    @precondition(lambda self: self.invoices)
    @rule(pick=picks)
    def submit_invoice_again(self, pick: int) -> None:
        done = [i for i, m in self.invoices.items() if m.docstatus != DocStatus.DRAFT]
        if done:
            invoice_id = self._pick(done, pick)
            self._attempt(
                InvoiceNotDraft, lambda: submit_invoice(self.session, self.user, invoice_id)
            )

    @precondition(lambda self: self.invoices)
    @rule(
        customer=st.sampled_from([0, 1]),
        pick=picks,
        amount=amounts,
        extra=st.integers(-500, 2_000),
        submit=st.booleans(),
    )
    def pay_explicitly(
        self, customer: int, pick: int, amount: Decimal, extra: int, submit: bool
    ) -> None:
        invoice_id = self._pick(list(self.invoices), pick)
        paid = max(amount + Decimal(extra).scaleb(-2), Decimal("0.01"))
        refused = self._allocation_refusal(invoice_id, customer, amount) or (
            AllocationsExceedPaidAmount if amount > paid else None
        )
        data = PaymentCreate(
            customer_id=self.customer_ids[customer],
            paid_amount=paid,
            allocations=[AllocationIn(invoice_id=invoice_id, allocated_amount=amount)],
        )
        payment = self._attempt(refused, lambda: create_payment(self.session, self.user, data))
        if payment is None:
            return
        model = ModelPayment(customer, paid, allocations={invoice_id: amount})
        self.payments[payment.id] = model
        assert payment.unallocated_amount == paid - amount
        if submit:
            submit_payment(self.session, self.user, payment.id)
            self._apply_submit(model)

    @rule(customer=st.sampled_from([0, 1]), paid=amounts, submit=st.booleans())
    def pay_oldest_first(self, customer: int, paid: Decimal, submit: bool) -> None:
        open_invoices = sorted(
            (
                (m.due, m.posting, invoice_id, m.outstanding)
                for invoice_id, m in self.invoices.items()
                if m.customer == customer
                and m.docstatus == DocStatus.SUBMITTED
                and not m.is_return
                and m.outstanding > 0
            ),
        )
        expected: dict[int, Decimal] = {}
        remaining = paid
        for _due, _posting, invoice_id, outstanding in open_invoices:
            if remaining <= 0:
                break
            expected[invoice_id] = min(remaining, outstanding)
            remaining -= expected[invoice_id]
        payment = create_payment(
            self.session,
            self.user,
            PaymentCreate(
                customer_id=self.customer_ids[customer],
                paid_amount=paid,
            ),
        )
        assert {a.invoice_id: a.allocated_amount for a in payment.allocations} == expected
        model = ModelPayment(customer, paid, allocations=expected)
        self.payments[payment.id] = model
        if submit:
            submit_payment(self.session, self.user, payment.id)
            self._apply_submit(model)

    @precondition(lambda self: self.payments)
    @rule(pick=picks)
    def submit_a_payment(self, pick: int) -> None:
        payment_id = self._pick(list(self.payments), pick)
        model = self.payments[payment_id]
        refusals = [
            self._allocation_refusal(invoice_id, model.customer, amount)
            for invoice_id, amount in model.allocations.items()
        ]
        refused = (
            PaymentNotDraft
            if model.docstatus != DocStatus.DRAFT
            else next((r for r in refusals if r is not None), None)
        )
        self._attempt(refused, lambda: submit_payment(self.session, self.user, payment_id))
        if not refused:
            self._apply_submit(model)

    @precondition(lambda self: self.payments)
    @rule(pick=picks)
    def cancel_a_payment(self, pick: int) -> None:
        payment_id = self._pick(list(self.payments), pick)
        model = self.payments[payment_id]
        refused = model.docstatus == DocStatus.CANCELLED
        self._attempt(
            PaymentAlreadyCancelled if refused else None,
            lambda: cancel_payment(self.session, self.user, payment_id),
        )
        if refused:
            return
        if model.docstatus == DocStatus.SUBMITTED:
            for invoice_id, amount in model.allocations.items():
                self.invoices[invoice_id].outstanding += amount
        model.docstatus = DocStatus.CANCELLED

    @precondition(lambda self: self.invoices)
    @rule(pick=picks, amount=st.one_of(st.none(), amounts))
    def credit(self, pick: int, amount: Decimal | None) -> None:
        invoice_id = self._pick(list(self.invoices), pick)
        original = self.invoices[invoice_id]
        credited = original.outstanding if amount is None else amount
        expected: type[DomainError] | None = None
        if original.is_return:
            expected = CreditNoteNotCreditable
        elif original.docstatus != DocStatus.SUBMITTED:
            expected = InvoiceNotSubmitted
        elif credited <= 0:
            expected = NothingOutstandingToCredit
        elif credited > original.outstanding:
            expected = CreditExceedsOutstanding
        data = CreditNoteCreate(amount=amount, reason="correctie")
        note = self._attempt(
            expected, lambda: create_credit_note(self.session, self.user, invoice_id, data)
        )
        if note is None:
            return
        assert note.grand_total == -credited
        original.outstanding -= credited
        self.invoices[note.id] = ModelInvoice(
            original.customer,
            -credited,
            clock.today(),
            clock.today(),
            docstatus=DocStatus.SUBMITTED,
            is_return=True,
            against=invoice_id,
        )

    @precondition(lambda self: self.invoices)
    @rule(pick=picks)
    def cancel_an_invoice(self, pick: int) -> None:
        invoice_id = self._pick(list(self.invoices), pick)
        model = self.invoices[invoice_id]
        settled_by_payment = any(
            p.docstatus == DocStatus.SUBMITTED and invoice_id in p.allocations
            for p in self.payments.values()
        )
        credited = any(
            m.against == invoice_id and m.docstatus == DocStatus.SUBMITTED
            for m in self.invoices.values()
        )
        refused: type[DomainError] | None = None
        if model.docstatus == DocStatus.CANCELLED:
            refused = InvoiceAlreadyCancelled
        elif (
            model.docstatus == DocStatus.SUBMITTED
            and not model.is_return
            and (settled_by_payment or credited)
        ):
            refused = InvoiceStillSettled
        self._attempt(refused, lambda: cancel_invoice(self.session, self.user, invoice_id))
        if refused:
            return
        if model.is_return and model.against is not None:
            self.invoices[model.against].outstanding += -model.total
        model.docstatus, model.outstanding = DocStatus.CANCELLED, ZERO

    @rule(which=st.sampled_from(["submit_payment", "cancel_payment", "cancel_invoice", "credit"]))
    def unknown_ids_are_not_found(self, which: str) -> None:
        unknown = 10_000_000
        actions: dict[str, Callable[[], Any]] = {
            "submit_payment": lambda: submit_payment(self.session, self.user, unknown),
            "cancel_payment": lambda: cancel_payment(self.session, self.user, unknown),
            "cancel_invoice": lambda: cancel_invoice(self.session, self.user, unknown),
            "credit": lambda: create_credit_note(
                self.session, self.user, unknown, CreditNoteCreate(reason="x")
            ),
        }
        self._attempt(NotFound, actions[which])

    # -- invariants, recomputed from the rows -----------------------------------------------

    @invariant()
    def ledger_adds_up(self) -> None:
        invoices = {
            i.id: i
            for i in self.session.execute(
                select(
                    Invoice.id,
                    Invoice.grand_total,
                    Invoice.outstanding_amount,
                    Invoice.docstatus,
                    Invoice.status,
                    Invoice.is_return,
                    Invoice.return_against_id,
                    Invoice.due_date,
                )
            )
        }
        payments = {
            p.id: p
            for p in self.session.execute(
                select(
                    Payment.id, Payment.paid_amount, Payment.unallocated_amount, Payment.docstatus
                )
            )
        }
        allocations = self.session.execute(
            select(Allocation.payment_id, Allocation.invoice_id, Allocation.allocated_amount)
        ).all()

        for payment_id, payment in payments.items():
            allocated = sum(
                (a.allocated_amount for a in allocations if a.payment_id == payment_id), ZERO
            )
            assert allocated <= payment.paid_amount
            assert payment.unallocated_amount == payment.paid_amount - allocated
            assert payment.docstatus == self.payments[payment_id].docstatus

        for invoice_id, invoice in invoices.items():
            model = self.invoices[invoice_id]
            assert (invoice.docstatus, invoice.outstanding_amount) == (
                model.docstatus,
                model.outstanding,
            )
            credit_notes = [
                n
                for n in invoices.values()
                if n.return_against_id == invoice_id and n.docstatus == DocStatus.SUBMITTED
            ]
            if invoice.docstatus == DocStatus.SUBMITTED and not invoice.is_return:
                paid = sum(
                    (
                        a.allocated_amount
                        for a in allocations
                        if a.invoice_id == invoice_id
                        and payments[a.payment_id].docstatus == DocStatus.SUBMITTED
                    ),
                    ZERO,
                )
                credited = sum((-n.grand_total for n in credit_notes), ZERO)
                assert invoice.outstanding_amount == invoice.grand_total - paid - credited
                assert ZERO <= invoice.outstanding_amount <= invoice.grand_total
            if invoice.is_return and invoice.docstatus == DocStatus.SUBMITTED:
                assert invoice.grand_total < 0
                assert invoice.outstanding_amount == ZERO
            assert invoice.status == invoice_status(
                docstatus=invoice.docstatus,
                is_return=invoice.is_return,
                grand_total=invoice.grand_total,
                outstanding=invoice.outstanding_amount,
                due_date=invoice.due_date,
                today=clock.today(),
                has_credit_notes=bool(credit_notes),
            )
        submitted_payments_to_cancelled = [
            a
            for a in allocations
            if payments[a.payment_id].docstatus == DocStatus.SUBMITTED
            and invoices[a.invoice_id].docstatus != DocStatus.SUBMITTED
        ]
        assert submitted_payments_to_cancelled == []


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_ledger_state_machine(fresh_sqlite: Engine) -> None:
    LedgerMachine.engine = fresh_sqlite
    run_state_machine_as_test(LedgerMachine, settings=LedgerMachine.TestCase.settings)
