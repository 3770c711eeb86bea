"""A committed installation for the safety monitor: an administrator, a member whose customer
owes 30.00, and the application context the checks run in."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.db.session import unit_of_work
from verenigingen.history.service import read_payment_history
from verenigingen.members.models import Customer, Member
from verenigingen.sepa.models import MandateStatus, SepaMandate


@dataclass
class Installation:
    context: AppContext
    admin_id: int
    customer_id: int
    member_id: int
    invoice_id: int

    def admin(self) -> User:
        """The administrator, loaded and detached (the checks take it across sessions)."""
        with self.context.read_sessions() as session:
            user = session.get_one(User, self.admin_id)
            session.expunge(user)
        return user

    def read_history(self) -> None:
        """The member's payment history read through the context's cache (filling it)."""
        with unit_of_work(self.context.sessions) as session:
            read_payment_history(session, session.get_one(User, self.admin_id), self.member_id)


def install(context: AppContext) -> Installation:
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, f"beheer-{tag}@example.org", Role.ADMINISTRATOR)
        customer = Customer(debtor_number=f"DEB-{tag}", name="Familie Visser")
        session.add(customer)
        session.flush()
        member = Member(
            member_id=f"Assoc-Member-2026-03-{tag}",
            first_name="Anna",
            last_name="Visser",
            email=f"{tag}@example.org",
            customer_id=customer.id,
        )
        session.add(member)
        session.flush()
        invoice = _invoice(session, admin, customer.id)
        return Installation(context, admin.id, customer.id, member.id, invoice)


def _invoice(session: Session, admin: User, customer_id: int) -> int:
    draft = create_invoice(
        session,
        admin,
        InvoiceCreate(
            customer_id=customer_id,
            posting_date=dt.date(2026, 2, 25),
            lines=[InvoiceLineIn(description="Contributie", rate=Decimal("30.00"))],
        ),
    )
    return submit_invoice(session, admin, draft.id).id


def forget_a_tag_bump(installation: Installation) -> None:
    """A mandate written straight to its table: no event, no tag bump."""
    with unit_of_work(installation.context.sessions) as session:
        session.add(
            SepaMandate(
                mandate_reference=f"MANDATE-{uuid.uuid4().hex[:8]}",
                member_id=installation.member_id,
                account_holder="A. Visser",
                iban="NL91ABNA0417164300",
                sign_date=dt.date(2026, 1, 5),
                status=MandateStatus.ACTIVE,
            )
        )
