"""Shapes in and out of the members domain. Business rules live in the services, not here."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from verenigingen.auth.models import User
from verenigingen.auth.permissions import sees_whole_ibans
from verenigingen.clock import BusinessDate
from verenigingen.db.ids import RecordId
from verenigingen.iban import mask_iban
from verenigingen.members.models import (
    CancellationType,
    Member,
    Membership,
    PaymentMethod,
)


class MemberApplication(BaseModel):
    """An application for membership; the approval decides type, rate and start."""

    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    email: str = Field(max_length=255)
    birth_date: BusinessDate | None = None
    address_line: str | None = Field(default=None, max_length=255)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    payment_method: PaymentMethod = PaymentMethod.BANK_TRANSFER
    iban: str | None = Field(default=None, max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    account_holder: str | None = Field(default=None, max_length=140)
    membership_type_id: RecordId | None = None
    """Requested type; the default type when omitted."""
    customer_id: RecordId | None = None
    """Join an existing customer (a family with one payer) instead of getting a new one."""


class MemberUpdate(BaseModel):
    """A partial update: only the fields sent are changed; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=255)
    birth_date: BusinessDate | None = None
    address_line: str | None = Field(default=None, max_length=255)
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    payment_method: PaymentMethod | None = None
    iban: str | None = Field(default=None, max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    account_holder: str | None = Field(default=None, max_length=140)


CONTACT_FIELDS = frozenset({"email", "address_line", "postal_code", "city"})
"""What a member may change about itself in the portal."""


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    membership_type_id: RecordId | None = None
    dues_rate: Decimal | None = None
    """A custom or reduced fee; never below the type's minimum amount."""
    start_date: BusinessDate | None = None


class RejectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=255)


class TerminationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    termination_date: BusinessDate | None = None
    reason: str | None = Field(default=None, max_length=255)


class CancellationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cancellation_type: CancellationType


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: str
    first_name: str
    last_name: str
    email: str
    birth_date: dt.date | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    status: str
    application_status: str
    member_since: dt.date | None
    payment_method: str
    iban: str | None
    bic: str | None
    account_holder: str | None
    requested_membership_type_id: int | None
    customer_id: int | None
    rejection_reason: str | None
    termination_date: dt.date | None
    termination_reason: str | None

    @classmethod
    def of(cls, member: Member, viewer: User) -> MemberOut:
        """``member`` as ``viewer`` may see it: the IBAN masked unless its role collects."""
        shown = cls.model_validate(member)
        if shown.iban is not None and not sees_whole_ibans(viewer):
            shown.iban = mask_iban(shown.iban)
        return shown


class MembershipOut(BaseModel):
    id: int
    member_id: int
    membership_type_id: int
    membership_type: str
    billing_period: str
    start_date: dt.date
    renewal_date: dt.date | None
    status: str
    cancellation_date: dt.date | None
    cancellation_type: str | None

    @classmethod
    def of(cls, membership: Membership) -> MembershipOut:
        """Needs ``membership_type`` loaded (the queries and services load it)."""
        return cls(
            id=membership.id,
            member_id=membership.member_id,
            membership_type_id=membership.membership_type_id,
            membership_type=membership.membership_type.name,
            billing_period=membership.membership_type.billing_period,
            start_date=membership.start_date,
            renewal_date=membership.renewal_date,
            status=membership.status,
            cancellation_date=membership.cancellation_date,
            cancellation_type=membership.cancellation_type,
        )
