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
