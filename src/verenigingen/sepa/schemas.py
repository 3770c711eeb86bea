"""Shapes in and out of the SEPA domain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from verenigingen.auth.models import User
from verenigingen.auth.permissions import sees_whole_ibans
from verenigingen.clock import BusinessDate
from verenigingen.iban import mask_iban
from verenigingen.sepa.models import (
    DEFAULT_REFERENCE_PATTERN,
    DirectDebitEntry,
    PainVersion,
    SepaMandate,
)


class MandateCreate(BaseModel):
    """A signed mandate form, as recorded by the treasurer or the membership secretary."""

    model_config = ConfigDict(extra="forbid")

    mandate_reference: str | None = Field(default=None, max_length=100)
    """Checked by the service (at most 35 characters of the SEPA set) for a clear message; when
    omitted, the next reference of the creditor's pattern."""
    iban: str = Field(max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    account_holder: str | None = Field(default=None, max_length=140)
    """The member's account holder (or name) when omitted."""
    sign_date: BusinessDate
    first_collection_date: BusinessDate | None = None
    expiry_date: BusinessDate | None = None
    draft: bool = False
    """Record it as Draft, to be activated later, instead of Active."""


class OwnMandateIn(BaseModel):
    """A mandate the member signs itself, today, in the portal or through the API."""

    model_config = ConfigDict(extra="forbid")

    iban: str = Field(max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    account_holder: str | None = Field(default=None, max_length=140)
    """The member's account holder (or name) when omitted."""


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)
    """Why; "Revoked by the member" when omitted (at most 140 characters)."""


class MandateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    mandate_reference: str
    member_id: int
    account_holder: str
    iban: str
    bic: str | None
    sign_date: dt.date
    first_collection_date: dt.date | None
    expiry_date: dt.date | None
    status: str
    status_reason: str | None
    amended_from_iban: str | None
    last_collection_date: dt.date | None

    @classmethod
    def of(cls, mandate: SepaMandate, viewer: User) -> MandateOut:
        """``mandate`` as ``viewer`` may see it: the IBAN masked unless its role collects."""
        shown = cls.model_validate(mandate)
        if not sees_whole_ibans(viewer):
            shown.iban = mask_iban(shown.iban)
            if shown.amended_from_iban is not None:
                shown.amended_from_iban = mask_iban(shown.amended_from_iban)
        return shown


class CreditorIn(BaseModel):
    """The association's creditor settings, all at once (PUT replaces them)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    """At most 70 characters of the SEPA set (checked by the service for a clear message)."""
    iban: str = Field(max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    creditor_identifier: str = Field(max_length=50)
    pain_version: PainVersion = PainVersion.V08
    lead_days: int = Field(default=1, ge=1, le=15)
    """TARGET2 business days between the upload and the collection date."""
    cutoff_time: dt.time | None = None
    """The bank's upload cut-off (local time, Europe/Amsterdam)."""
    first_collection_frst: bool = False
    reference_pattern: str = Field(default=DEFAULT_REFERENCE_PATTERN, max_length=100)


class CreditorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    iban: str
    bic: str | None
    creditor_identifier: str
    pain_version: str
    lead_days: int
    cutoff_time: dt.time | None
    first_collection_frst: bool
    reference_pattern: str


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=500)
    """At most 140 characters (checked by the service for a clear message)."""


class AccountIn(BaseModel):
    """The debtor's new account on the same mandate."""

    model_config = ConfigDict(extra="forbid")

    iban: str = Field(max_length=50)
    bic: str | None = Field(default=None, max_length=20)


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    collection_date: BusinessDate
    description: str | None = Field(default=None, max_length=140)


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str
    batch_date: dt.date
    collection_date: dt.date
    description: str
    status: str
    pain_version: str
    entry_count: int
    total_amount: Decimal


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    invoice_id: int
    member_id: int
    mandate_id: int
    amount: Decimal
    account_holder: str
    iban: str
    mandate_reference: str
    sequence_type: str
    end_to_end_id: str
    amended: bool
    status: str
    payment_id: int | None

    @classmethod
    def of(cls, entry: DirectDebitEntry) -> EntryOut:
        return cls(
            id=entry.id,
            invoice_id=entry.invoice_id,
            member_id=entry.member_id,
            mandate_id=entry.mandate_id,
            amount=entry.amount,
            account_holder=entry.account_holder,
            iban=entry.iban,
            mandate_reference=entry.mandate_reference,
            sequence_type=entry.sequence_type,
            end_to_end_id=entry.end_to_end_id,
            amended=entry.original_iban is not None,
            status=entry.status,
            payment_id=entry.payment_id,
        )


class BatchDetail(BatchOut):
    entries: list[EntryOut]


class ReturnTallyOut(BaseModel):
    rejected: int
    returned: int
    already_recorded: int
    """Named in the file but recorded before (another report, a statement line)."""
    invoices_reopened: int
    mandates_stopped: int
    mandates_invalidated: int
    retries_scheduled: int
    retries_exhausted: int
    reason_codes: dict[str, int]


class StatusReportImportOut(BaseModel):
    """What importing a pain.002 or camt.054 did (nothing when ``already_imported``)."""

    report_id: int
    file_format: str
    already_imported: bool
    tally: ReturnTallyOut


class RetryOut(BaseModel):
    """A returned collection and what follows it (the retry queue)."""

    model_config = ConfigDict(from_attributes=True)

    return_id: int
    invoice_id: int
    invoice_number: str
    member_id: int
    member_name: str
    mandate_id: int
    mandate_reference: str
    kind: str
    reason_code: str
    amount: Decimal
    booked_on: dt.date
    attempt: int
    retry_status: str
    retry_due_on: dt.date | None


class ProcessJobOut(BaseModel):
    """The tracked job processing a batch: follow it at ``GET /api/v1/jobs/{job_id}``."""

    job_id: int
    batch_id: int
    status: str
