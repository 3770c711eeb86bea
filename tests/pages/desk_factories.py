"""A member with a ledger and the staff logins, for the desk's page tests."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from conftest_pages import make_login
from sqlalchemy.orm import Session

from member_factories import VALID_IBAN, make_active_member, make_type
from verenigingen.auth.models import Role, User
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.members.models import BillingPeriod, Customer, Member

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_factories import bulk_ledger

TREASURER = "penningmeester@example.org"
SECRETARY = "secretaris@example.org"
ADMINISTRATOR = "beheerder@example.org"
MEMBER = "lid@example.org"


def staff(session: Session) -> dict[str, User]:
    """A login per role, each with the pages' password."""
    return {
        TREASURER: make_login(session, TREASURER, Role.TREASURER),
        SECRETARY: make_login(session, SECRETARY, Role.MEMBERSHIP_SECRETARY),
        ADMINISTRATOR: make_login(session, ADMINISTRATOR, Role.ADMINISTRATOR),
        MEMBER: make_login(session, MEMBER, Role.MEMBER),
    }


def member_with_ledger(
    session: Session,
    admin: User,
    first_name: str,
    last_name: str,
    invoices: int,
    *,
    iban: str = VALID_IBAN,
) -> Member:
    """An active member (IBAN ``iban``) with ``invoices`` invoices of 25.00 since
    October 2025, every other one paid; the unpaid ones past their due date are Overdue on
    2 March 2026."""
    monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50")
    member, _membership, _schedule = make_active_member(
        session,
        admin,
        monthly,
        start=dt.date(2026, 1, 1),
        first_name=first_name,
        last_name=last_name,
        email=f"{first_name.lower()}@example.org",
        iban=iban,
    )
    customer = session.get(Customer, member.customer_id)
    assert customer is not None
    bulk_ledger(session, customer, member.id, invoices, dt.date(2025, 10, 1))
    refresh_overdue(session, dt.date(2026, 3, 2))
    session.flush()
    return member
