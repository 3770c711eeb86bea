"""A payment's desk page and its cancellation: confirmed first, then the invoices it settled owe
that again (amounts and statuses as the ledger has them) and the member's page shows the
history as it is now; cancelled twice, roles and the form token refused with nothing written."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, member_with_ledger, staff
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice, Payment
from verenigingen.members.models import Member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def anna(session: Session, admin: User) -> Member:
    """Four invoices of 25.00: the first and third paid, the second and fourth open (50.00)."""
    return member_with_ledger(session, admin, "Anna", "Jansen", 4)


def ledger(session: Session, member: Member) -> tuple[list[Invoice], list[Payment]]:
    """The member's invoices and its customer's payments that settle them (the unallocated
    one left out), oldest first, as stored."""
    session.expire_all()
    invoices = session.scalars(
        select(Invoice).where(Invoice.member_id == member.id).order_by(Invoice.posting_date)
    ).all()
    payments = session.scalars(
        select(Payment)
        .where(Payment.customer_id == member.customer_id, Payment.unallocated_amount == 0)
        .order_by(Payment.posting_date, Payment.id)
    ).all()
    return list(invoices), list(payments)


def cancel(web: TestClient, payment: Payment, **fields: object) -> Response:
    token = form_token(web, "/desk/payments")
    return web.post(f"/desk/payments/{payment.id}/cancel", data={"csrf_token": token, **fields})


def outstanding_on_member_page(web: TestClient, member: Member) -> str:
    match = re.search(r'data-outstanding="([^"]+)"', web.get(f"/desk/members/{member.id}").text)
    assert match is not None
    return match.group(1)


def test_the_payment_page_shows_what_it_settles(web, logins, anna, session) -> None:
    invoices, payments = ledger(session, anna)
    first = payments[0]
    signed_in(web, SECRETARY)
    with capture() as queries:
        page = web.get(f"/desk/payments/{first.id}")
    assert page.status_code == 200
    assert queries.count == 4  # the sign-in, the payment with its name, its invoices, members
    assert re.findall(r'<tr data-invoice="([^"]+)"', page.text) == [invoices[0].number]
    assert 'data-paid="25.00"' in page.text
    assert f'href="/desk/members/{anna.id}"' in page.text
    assert "/cancel" not in page.text  # a secretary gets no button
    listing = web.get("/desk/payments")
    assert f'href="/desk/payments/{first.id}"' in listing.text


def test_cancelling_a_payment_reopens_its_invoice_and_the_history(
    web, logins, anna, session
) -> None:
    invoices, payments = ledger(session, anna)
    first = payments[0]
    signed_in(web, TREASURER)
    assert outstanding_on_member_page(web, anna) == "50.00"
    asked = cancel(web, first)
    assert asked.status_code == 200
    assert f"Cancel payment {first.number} of €25.00?" in text_of(asked.text)
    assert ledger(session, anna)[1][0].docstatus == DocStatus.SUBMITTED  # not yet

    done = cancel(web, first, confirmed="yes")
    assert done.status_code == 303
    assert done.headers["location"] == f"/desk/payments/{first.id}"
    invoices, payments = ledger(session, anna)
    assert payments[0].docstatus == DocStatus.CANCELLED
    assert (invoices[0].outstanding_amount, invoices[0].status) == (Decimal("25.00"), "Overdue")
    assert [invoice.outstanding_amount for invoice in invoices] == [
        Decimal("25.00"), Decimal("25.00"), Decimal("0.00"), Decimal("25.00"),
    ]  # fmt: skip
    page = web.get(done.headers["location"])
    assert "The payment is cancelled" in text_of(page.text)
    assert 'data-status="Cancelled"' in page.text
    assert 'data-outstanding="25.00"' in page.text
    assert outstanding_on_member_page(web, anna) == "75.00"  # the cached history follows

    twice = cancel(web, first, confirmed="yes")
    assert twice.status_code == 409
    assert "The payment is cancelled already." in text_of(twice.text)
    assert ledger(session, anna)[0][0].outstanding_amount == Decimal("25.00")


def test_cancelling_an_unallocated_payment_touches_no_invoice(web, logins, anna, session):
    invoices_before, _payments = ledger(session, anna)
    unallocated = session.scalars(
        select(Payment).where(
            Payment.customer_id == anna.customer_id, Payment.unallocated_amount > 0
        )
    ).one()
    signed_in(web, ADMINISTRATOR)
    assert cancel(web, unallocated, confirmed="yes").status_code == 303
    invoices, _payments = ledger(session, anna)
    assert [invoice.outstanding_amount for invoice in invoices] == [
        invoice.outstanding_amount for invoice in invoices_before
    ]
    session.refresh(unallocated)
    assert unallocated.docstatus == DocStatus.CANCELLED


def test_unknown_or_malformed_payments(web, logins) -> None:
    signed_in(web, TREASURER)
    assert web.get("/desk/payments/987654").status_code == 404
    assert web.get("/desk/payments/x").status_code == 422
    token = form_token(web, "/desk/payments")
    missing = web.post(
        "/desk/payments/987654/cancel", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert missing.status_code == 404


@pytest.mark.parametrize("email", [SECRETARY, MEMBER])
def test_only_treasurers_and_administrators_cancel(web, logins, anna, session, email) -> None:
    first = ledger(session, anna)[1][0]
    signed_in(web, email)
    token = form_token(web, "/portal" if email == MEMBER else "/desk")
    response = web.post(
        f"/desk/payments/{first.id}/cancel", data={"csrf_token": token, "confirmed": "yes"}
    )
    assert response.status_code == 403
    if email == MEMBER:
        assert web.get(f"/desk/payments/{first.id}").status_code == 403
    assert ledger(session, anna)[1][0].docstatus == DocStatus.SUBMITTED


def test_a_forged_form_token_cancels_nothing(web, logins, anna, session) -> None:
    first = ledger(session, anna)[1][0]
    signed_in(web, TREASURER)
    response = web.post(
        f"/desk/payments/{first.id}/cancel", data={"csrf_token": "0" * 64, "confirmed": "yes"}
    )
    assert response.status_code == 403
    assert ledger(session, anna)[1][0].docstatus == DocStatus.SUBMITTED


def test_the_payments_list_asks_to_cancel_from_each_row(web, browser, logins, anna, session):
    first = ledger(session, anna)[1][0]
    signed_in(web, TREASURER)
    with capture() as queries:
        listing = web.get("/desk/payments", params={"member_id": anna.id})
    assert queries.count == 5  # as before the buttons: they cost no statement
    assert listing.text.count('action="/desk/payments/') == 3  # every payment, none cancelled
    asked = cancel(web, first)
    assert asked.status_code == 200
    assert 'name="confirmed" value="yes"' in asked.text
    cancel(web, first, confirmed="yes")
    listing = web.get("/desk/payments", params={"member_id": anna.id})
    assert listing.text.count('action="/desk/payments/') == 2  # not the cancelled one
    secretary = signed_in(browser(), SECRETARY)
    assert 'action="/desk/payments/' not in secretary.get("/desk/payments").text
