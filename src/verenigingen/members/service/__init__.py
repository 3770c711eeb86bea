"""Member use cases: applications, changes and memberships (one module per use case)."""

from verenigingen.members.service.applications import (
    apply_for_membership,
    approve_member,
    reject_member,
)
from verenigingen.members.service.changes import terminate_member, update_member
from verenigingen.members.service.memberships import (
    cancel_membership,
    first_renewal_date,
    renew_membership,
    term_months,
)

__all__ = [
    "apply_for_membership",
    "approve_member",
    "cancel_membership",
    "first_renewal_date",
    "reject_member",
    "renew_membership",
    "term_months",
    "terminate_member",
    "update_member",
]
