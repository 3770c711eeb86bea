"""Rules of SEPA mandates (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, ValidationFailed


class InvalidMandateReference(ValidationFailed):
    """A mandate reference must be 1 to 35 characters of the SEPA set (A-Z, a-z, 0-9, space and
    ``/ ? : ( ) . , ' + -``)."""

    code = "invalid_mandate_reference"


class MandateReferenceTaken(Conflict):
    """Another mandate has this reference already."""

    code = "mandate_reference_taken"


class SignDateInFuture(ValidationFailed):
    """A mandate signed after today."""

    code = "sign_date_in_future"


class FirstCollectionBeforeSignDate(ValidationFailed):
    """A first collection date before the mandate was signed."""

    code = "first_collection_before_sign_date"


class ExpiryBeforeMandateStart(ValidationFailed):
    """An expiry date on or before the day the mandate starts."""

    code = "expiry_before_mandate_start"


class MandateTransitionNotAllowed(Conflict):
    """The mandate's status does not allow this step (activate a cancelled one, reinstate an
    active one …)."""

    code = "mandate_transition_not_allowed"


class ReasonRequired(ValidationFailed):
    """Suspending or cancelling a mandate needs a reason."""

    code = "reason_required"


# The creditor (sepa/creditor.py).


class InvalidCreditorIdentifier(ValidationFailed):
    """Not a valid SEPA creditor identifier (country, check digits, business code, national id)."""

    code = "invalid_creditor_identifier"


class InvalidSepaText(ValidationFailed):
    """A name or text outside the SEPA character set, or longer than the scheme allows."""

    code = "invalid_sepa_text"


class InvalidReferencePattern(ValidationFailed):
    """A mandate reference pattern must use only ``{member_id}``, ``{yyyymmdd}`` and ``{nnn}``,
    contain ``{nnn}``, and give a valid reference."""

    code = "invalid_reference_pattern"


class CreditorNotConfigured(Conflict):
    """No creditor settings yet: ``verenigingen sepa creditor set`` or PUT /sepa/creditor first."""

    code = "creditor_not_configured"


# Batches (sepa/batches.py, sepa/pain008.py).


class CollectionDateNotBusinessDay(ValidationFailed):
    """A collection date on a weekend or a TARGET2 holiday (the ECB calendar)."""

    code = "collection_date_not_business_day"


class CollectionDateTooEarly(ValidationFailed):
    """A collection date before the creditor's lead days (counted in TARGET2 business days from
    the next upload day, after the cut-off from the day after) allow."""

    code = "collection_date_too_early"


class NothingToCollect(Conflict):
    """No submitted Unpaid or Overdue invoice of a member with an active mandate is free to
    collect on that date."""

    code = "nothing_to_collect"


class BatchTransitionNotAllowed(Conflict):
    """The batch's status does not allow this step (submit a Draft, process a Generated …)."""

    code = "batch_transition_not_allowed"


class BatchInvalid(ValidationFailed):
    """The batch's pain.008 breaks the schema or an EPC rule; nothing is written out. The detail
    lists the errors per entry."""

    code = "batch_invalid"

    def __init__(self, detail: str, errors: list[str]) -> None:
        super().__init__(detail)
        self.errors = errors


# Returns, rejects and retries (sepa/status_reports.py, sepa/returns.py).


class StatusReportInvalid(ValidationFailed):
    """A pain.002 or camt.054 file that is not well-formed, is another message, or lacks an
    element a rejected or returned transaction needs; the detail names the element and line.
    Nothing is imported."""

    code = "status_report_invalid"


class UnknownCollection(ValidationFailed):
    """A reject or return of a collection that none of our batches made (an EndToEndId,
    payment-information id or message id that matches no entry). Nothing is imported."""

    code = "unknown_collection"


class ReturnAmountMismatch(ValidationFailed):
    """A return of another amount than the entry collected (SEPA returns the whole amount)."""

    code = "return_amount_mismatch"


class ReturnOfUncollectedEntry(Conflict):
    """A reject or return of an entry of a cancelled batch: nothing was sent to the bank."""

    code = "return_of_uncollected_entry"


class StatusReportImportConcurrent(Conflict):
    """The same status report file is being imported by another request at this moment."""

    code = "status_report_import_concurrent"
