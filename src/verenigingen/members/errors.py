"""Rules of members, applications and memberships (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import Conflict, PermissionDenied, ValidationFailed

# Applications and member details


class NoDefaultMembershipType(ValidationFailed):
    """An application names no membership type and no default membership type is set."""

    code = "no_default_membership_type"


class BicWithoutIban(ValidationFailed):
    """A BIC was given without an IBAN."""

    code = "bic_without_iban"


class IbanRequiredForDirectDebit(ValidationFailed):
    """Payment by SEPA Direct Debit needs an IBAN."""

    code = "iban_required_for_direct_debit"


class BirthDateInFuture(ValidationFailed):
    """A birth date after today."""

    code = "birth_date_in_future"


class DuesRateBelowMinimum(ValidationFailed):
    """A dues rate below the minimum amount of the membership type."""

    code = "dues_rate_below_minimum"


class ApplicationAlreadyDecided(Conflict):
    """Only a pending application can be approved or rejected; this one was decided already."""

    code = "application_already_decided"


class RejectionReasonRequired(ValidationFailed):
    """Rejecting an application needs a reason."""

    code = "rejection_reason_required"


class ContactDetailsOnly(PermissionDenied):
    """A member may change only its own contact details; other fields are the secretary's."""

    code = "contact_details_only"


class MemberAlreadyTerminated(Conflict):
    """The member was terminated already."""

    code = "member_already_terminated"


class MemberNotTerminable(Conflict):
    """Only an Active, Suspended or Expired member can be terminated (not a Pending one)."""

    code = "member_not_terminable"


class TerminationBeforeMemberSince(ValidationFailed):
    """A termination date before the day the member joined."""

    code = "termination_before_member_since"


# Memberships


class MembershipTypeWithoutPeriod(ValidationFailed):
    """The membership type has no period length in months, so no term can be computed."""

    code = "membership_type_without_period"


class CancelledMembershipNotRenewable(Conflict):
    """A cancelled membership, or one cancelled at the end of its period, cannot be renewed."""

    code = "cancelled_membership_not_renewable"


class LifetimeMembershipNotRenewable(Conflict):
    """A lifetime membership never renews."""

    code = "lifetime_membership_not_renewable"


class MembershipAlreadyCancelled(Conflict):
    """The membership is cancelled already."""

    code = "membership_already_cancelled"


class LifetimeMembershipWithoutPeriodEnd(Conflict):
    """A lifetime membership has no period end to cancel at; cancel it immediately."""

    code = "lifetime_membership_without_period_end"
