"""Shapes in and out of the SEPA domain."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from verenigingen.auth.models import User
from verenigingen.auth.permissions import sees_whole_ibans
from verenigingen.clock import BusinessDate
from verenigingen.iban import mask_iban
from verenigingen.sepa.models import SepaMandate


class MandateCreate(BaseModel):
    """A signed mandate form, as recorded by the treasurer or the membership secretary."""

    model_config = ConfigDict(extra="forbid")

    mandate_reference: str = Field(max_length=100)
    """Checked by the service (at most 35 characters of the SEPA set) for a clear message."""
    iban: str = Field(max_length=50)
    bic: str | None = Field(default=None, max_length=20)
    account_holder: str | None = Field(default=None, max_length=140)
    """The member's account holder (or name) when omitted."""
    sign_date: BusinessDate
    first_collection_date: BusinessDate | None = None
    expiry_date: BusinessDate | None = None


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

    @classmethod
    def of(cls, mandate: SepaMandate, viewer: User) -> MandateOut:
        """``mandate`` as ``viewer`` may see it: the IBAN masked unless its role collects."""
        shown = cls.model_validate(mandate)
        if not sees_whole_ibans(viewer):
            shown.iban = mask_iban(shown.iban)
        return shown
