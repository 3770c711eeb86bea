"""What the members domain records: decisions on applications, memberships and members.

Dues and billing subscribe to these to start, extend or stop billing; the members domain itself
never learns how a membership is billed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from verenigingen.events import DomainEvent


@dataclass(frozen=True)
class MembershipApproved(DomainEvent):
    """An application was approved: a new Active membership at ``dues_rate`` from ``start_date``."""

    member_id: int
    customer_id: int
    membership_id: int
    membership_type_id: int
    dues_rate: Decimal
    start_date: dt.date


@dataclass(frozen=True)
class MembershipRenewed(DomainEvent):
    """A membership was extended by one term, to ``renewal_date``."""

    membership_id: int
    renewal_date: dt.date


@dataclass(frozen=True)
class MembershipCancelled(DomainEvent):
    """A membership ends on ``ends_on``: today (``immediate``) or at the end of its period."""

    membership_id: int
    ends_on: dt.date
    immediate: bool


@dataclass(frozen=True)
class MembershipsEnded(DomainEvent):
    """Memberships cancelled at the end of their period reached that end (the daily job)."""

    membership_ids: tuple[int, ...]


@dataclass(frozen=True)
class MemberTerminated(DomainEvent):
    """A member's relation with the association ended on ``termination_date``."""

    member_id: int
    customer_id: int | None
    termination_date: dt.date


@dataclass(frozen=True)
class MemberChanged(DomainEvent):
    """Fields of a member's own record changed (names, contact or payment details)."""

    member_id: int
    fields: frozenset[str]
