"""Rules of invoices, credit notes and payments (see ``verenigingen.errors`` for the scheme).

A state the record is in forbids the change: 409. The request asks for something that can never
be right (an amount above what is owed or paid, another customer's invoice): 422.
"""

from __future__ import annotations

from verenigingen.errors import Conflict, ValidationFailed

# Invoices


class DueDateBeforePostingDate(ValidationFailed):
    """An invoice's due date before its posting date."""

    code = "due_date_before_posting_date"


class CoverageEndBeforeStart(ValidationFailed):
    """An invoice's coverage period ends before it starts."""

    code = "coverage_end_before_start"


class MemberNotBilledToCustomer(ValidationFailed):
    """An invoice names a member whose dues another customer pays."""

    code = "member_not_billed_to_customer"


class InvoiceTotalNotPositive(ValidationFailed):
    """The lines of an invoice add up to zero or less."""

    code = "invoice_total_not_positive"


class InvoiceNotDraft(Conflict):
    """Only a draft invoice can be submitted; this one is submitted or cancelled already."""

    code = "invoice_not_draft"


class InvoiceAlreadyCancelled(Conflict):
    """The invoice or credit note is cancelled already."""

    code = "invoice_already_cancelled"


class InvoiceStillSettled(Conflict):
    """Submitted payments or credit notes still settle the invoice; cancel those first."""

    code = "invoice_still_settled"


class OutstandingExceedsTotal(Conflict):
    """The change would leave an invoice owing more than its total: the ledger was edited
    outside the services, and nothing is written until it is repaired."""

    code = "outstanding_exceeds_total"


class InvoiceNotSubmitted(Conflict):
    """Money moves only against a submitted invoice: this one is a draft or cancelled (credit
    note, payment allocation)."""

    code = "invoice_not_submitted"


# Credit notes


class CreditNoteNotCreditable(Conflict):
    """A credit note cannot be credited itself; credit the original invoice."""

    code = "credit_note_not_creditable"


class NothingOutstandingToCredit(Conflict):
    """The invoice owes nothing, so there is nothing to credit."""

    code = "nothing_outstanding_to_credit"


class CreditExceedsOutstanding(ValidationFailed):
    """A credit amount above what the invoice still owes."""

    code = "credit_exceeds_outstanding"


# Payments


class PaymentTypeCannotSettle(ValidationFailed):
    """Only a Receive payment settles invoices; a Pay or Internal Transfer payment has no
    allocations."""

    code = "payment_type_cannot_settle"


class InvoiceAllocatedTwice(ValidationFailed):
    """One payment names the same invoice in two allocations."""

    code = "invoice_allocated_twice"


class AllocationToAnotherCustomer(ValidationFailed):
    """A payment allocated to an invoice of another customer."""

    code = "allocation_to_another_customer"


class AllocationToCreditNote(ValidationFailed):
    """A payment allocated to a credit note; payments settle invoices only."""

    code = "allocation_to_credit_note"


class AllocationExceedsOutstanding(ValidationFailed):
    """An allocation above what the invoice still owes (at submit: it was paid meanwhile)."""

    code = "allocation_exceeds_outstanding"


class AllocationsExceedPaidAmount(ValidationFailed):
    """A payment's allocations add up to more than its paid amount."""

    code = "allocations_exceed_paid_amount"


class PaymentNotDraft(Conflict):
    """Only a draft payment can be submitted; this one is submitted or cancelled already."""

    code = "payment_not_draft"


class PaymentAlreadyCancelled(Conflict):
    """The payment is cancelled already."""

    code = "payment_already_cancelled"
