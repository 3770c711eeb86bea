"""SEPA test factories: the creditor, members with a mandate and open invoices."""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))

from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import Invoice
from verenigingen.members.models import Customer, Member
from verenigingen.sepa.creditor import set_creditor
from verenigingen.sepa.models import SepaCreditor, SepaMandate
from verenigingen.sepa.schemas import CreditorIn, MandateCreate
from verenigingen.sepa.service import create_mandate

VALID_CREDITOR_ID = "NL51ZZZ405365330000"
CREDITOR_IBAN = "NL44RABO0123456789"
DEBTOR_IBAN = "NL91ABNA0417164300"
_references = itertools.count(1)


def creditor_in(**overrides: Any) -> CreditorIn:
    fields: dict[str, Any] = {
        "name": "Vereniging De Eendracht",
        "iban": CREDITOR_IBAN,
        "creditor_identifier": VALID_CREDITOR_ID,
    }
    fields.update(overrides)
    return CreditorIn(**fields)


def make_creditor(session: Session, user: User, **overrides: Any) -> SepaCreditor:
    return set_creditor(session, user, creditor_in(**overrides))


class Collectables:
    """Members with a mandate and submitted invoices, built as ``user`` in ``session``."""

    def __init__(self, session: Session, user: User) -> None:
        self.session = session
        self.user = user
        self.ledger = LedgerFactory(session, user)

    def member(
        self, *, mandate: bool = True, sign_date: dt.date | None = None, **fields: Any
    ) -> Member:
        member = self.ledger.member(self.ledger.customer())
        if mandate:
            self.mandate(member, sign_date=sign_date, **fields)
        return member

    def mandate(
        self, member: Member, *, sign_date: dt.date | None = None, **fields: Any
    ) -> SepaMandate:
        data: dict[str, Any] = {
            "mandate_reference": f"MNDT-{next(_references):05d}",
            "iban": DEBTOR_IBAN,
            "sign_date": sign_date or dt.date(2025, 1, 15),
        }
        data.update(fields)
        return create_mandate(self.session, self.user, member.id, MandateCreate(**data))

    def invoice(self, member: Member, amount: str = "25.00", **fields: Any) -> Invoice:
        assert member.customer_id is not None
        owner = self.session.get(Customer, member.customer_id)
        assert owner is not None
        return self.ledger.invoice(owner, Decimal(amount), member=member, **fields)
