"""The desk's invoices and payments: lists with filters and keyset pages, and registering a
payment (oldest first or by hand) as a treasurer, with every bad input refused and nothing
written."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, member_with_ledger, staff
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from list_factories import add_invoices
from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice, Payment
from verenigingen.members.models import Member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

INVOICE_ROW = re.compile(r'<tr data-invoice="([^"]+)"')
PAYMENT_ROW = re.compile(r'<tr data-payment="([^"]+)"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def anna(session: Session, admin: User) -> Member:
    """Four invoices of 25.00: the first and third paid, the second and fourth open."""
    return member_with_ledger(session, admin, "Anna", "Jansen", 4)


def open_invoices(session: Session, member: Member) -> list[Invoice]:
    """The member's open invoices, oldest first."""
    session.expire_all()
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.member_id == member.id, Invoice.outstanding_amount > 0)
            .order_by(Invoice.posting_date, Invoice.id)
        )
    )


def payment_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Payment)) or 0)


def register(web: TestClient, member: Member, **fields: object) -> object:
    token = form_token(web, f"/desk/payments/new?member_id={member.id}")
    data: dict[str, object] = {
        "csrf_token": token,
        "member_id": member.id,
        "amount": "",
        "posting_date": "2026-03-02",
        "mode_of_payment": "Bank Transfer",
        "reference_no": "",
        "allocation": "oldest",
    }
    data.update(fields)
    return web.post("/desk/payments/new", data=data)


# The lists


def test_the_invoices_list_with_filters(web, logins, anna, session) -> None:
    signed_in(web, SECRETARY)
    with capture() as queries:
        page = web.get("/desk/invoices")
    assert page.status_code == 200
    assert len(INVOICE_ROW.findall(page.text)) == 4
    assert queries.count == 4  # the sign-in, the page, its lines, its customers' names
    overdue = web.get("/desk/invoices", params={"status": "Overdue", "member_id": anna.id})
    numbers = INVOICE_ROW.findall(overdue.text)
    assert numbers == [invoice.number for invoice in reversed(open_invoices(session, anna))]
    assert (
        web.get("/desk/invoices", params={"member_id": anna.id + 1000}).text.count(
            "<tr data-invoice"
        )
        == 0
    )


def test_the_invoices_list_is_paged_by_keyset_at_the_same_cost(web, logins, session) -> None:
    add_invoices(session, 30)
    signed_in(web, TREASURER)
    with capture() as first_queries:
        first = web.get("/desk/invoices")
    link = re.search(r'href="(/desk/invoices\?after=[^"]+)" rel="next"', first.text)
    assert link is not None
    with capture() as second_queries:
        second = web.get(link.group(1))
    first_rows, second_rows = INVOICE_ROW.findall(first.text), INVOICE_ROW.findall(second.text)
    assert (len(first_rows), len(second_rows)) == (25, 5)
    assert set(first_rows).isdisjoint(second_rows)
    assert first_queries.count == second_queries.count == 4


def test_the_payments_list_with_filters(web, logins, anna, session) -> None:
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get("/desk/payments", params={"member_id": anna.id})
    assert page.status_code == 200
    assert len(PAYMENT_ROW.findall(page.text)) == 3  # two that paid invoices, one unallocated
    assert queries.count == 5  # the sign-in, the member, the page, allocations, names
    assert PAYMENT_ROW.findall(web.get("/desk/payments?status=Cancelled").text) == []


@pytest.mark.parametrize(
    "path",
    ["/desk/invoices?status=Settled", "/desk/payments?status=Paid", "/desk/invoices?member_id=x",
     "/desk/payments?after=bm90LWEtY3Vyc29y", "/desk/invoices?after=" + "y" * 401],
)  # fmt: skip
def test_bad_list_input_is_the_422_page(web, logins, path) -> None:
    signed_in(web, TREASURER)
    assert web.get(path).status_code == 422


def test_the_payments_of_an_unknown_member_is_the_404_page(web, logins) -> None:
    signed_in(web, TREASURER)
    assert web.get("/desk/payments?member_id=987654").status_code == 404


# Registering a payment


def test_the_form_lists_the_open_invoices_oldest_first(web, logins, anna, session) -> None:
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get(f"/desk/payments/new?member_id={anna.id}")
    assert page.status_code == 200
    wanted = [invoice.number for invoice in open_invoices(session, anna)]
    assert INVOICE_ROW.findall(page.text) == wanted
    assert queries.count == 3  # the sign-in, the member, its open invoices
    for label in ("Amount received (€)", "Date received", "Paid by", "Reference (optional)"):
        assert f">{label}</label>" in page.text


def test_a_payment_oldest_first_settles_the_oldest_invoice(web, logins, anna, session) -> None:
    oldest, newest = open_invoices(session, anna)
    signed_in(web, TREASURER)
    response = register(web, anna, amount="30,00", reference_no="bank 123")
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/desk/members/{anna.id}"
    settled = {invoice.id: invoice.outstanding_amount for invoice in open_invoices(session, anna)}
    assert oldest.id not in settled
    assert settled == {newest.id: Decimal("20.00")}
    payment = session.scalars(select(Payment).where(Payment.reference_no == "bank 123")).one()
    assert (payment.paid_amount, payment.unallocated_amount) == (Decimal("30.00"), Decimal("0"))
    assert payment.docstatus == DocStatus.SUBMITTED
    member_page = web.get(f"/desk/members/{anna.id}")
    assert "The payment is registered and allocated." in member_page.text
    assert f'data-payment="{payment.number}"' in member_page.text  # the history shows it
    assert 'data-outstanding="20.00"' in member_page.text


def test_a_payment_by_hand_goes_where_the_treasurer_says(web, logins, anna, session) -> None:
    oldest, newest = open_invoices(session, anna)
    signed_in(web, ADMINISTRATOR)
    response = register(
        web, anna, amount="25.00", allocation="manual",
        invoice_id=[str(oldest.id), str(newest.id)], allocated=["", "25"],
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert [invoice.id for invoice in open_invoices(session, anna)] == [oldest.id]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": ""}, "amount", "Enter an amount greater than zero"),
        ({"amount": "-5"}, "amount", "Enter an amount greater than zero"),
        ({"amount": "12.345"}, "amount", "Enter an amount greater than zero"),
        ({"amount": "1e3"}, "amount", "Enter an amount greater than zero"),
        ({"amount": "10", "posting_date": "2026-02-30"}, "posting_date", "Enter a date"),
        ({"amount": "10", "posting_date": "1800-01-01"}, "posting_date", "Enter a date"),
        ({"amount": "10", "mode_of_payment": "SEPA Direct Debit"}, "mode_of_payment", "Choose"),
        ({"amount": "10", "allocation": "random"}, "allocation", "Choose one of the options."),
        ({"amount": "10", "reference_no": "r" * 141}, "reference_no", "At most 140 characters."),
        ({"amount": "10", "allocation": "manual"}, "allocation", "Enter the amount for at least"),
    ],
)
def test_a_bad_field_re_renders_the_form_keeping_the_input(
    web, logins, anna, session, fields, field, message
) -> None:
    before = payment_count(session)
    signed_in(web, TREASURER)
    response = register(web, anna, **{"reference_no": "kept", **fields})
    assert response.status_code == 422
    assert f'id="error-{field}"' in response.text
    assert message in text_of(response.text)
    if field != "reference_no":
        assert 'value="kept"' in response.text
    if fields.get("amount"):
        assert f'value="{fields["amount"]}"' in response.text
    assert payment_count(session) == before


def test_a_bad_amount_for_an_invoice_is_shown_under_it(web, logins, anna, session) -> None:
    oldest, newest = open_invoices(session, anna)
    before = payment_count(session)
    signed_in(web, TREASURER)
    response = register(
        web, anna, amount="25.00", allocation="manual",
        invoice_id=[str(oldest.id), str(newest.id)], allocated=["abc", "5"],
    )  # fmt: skip
    assert response.status_code == 422
    assert f'id="error-allocated-{oldest.id}"' in response.text
    assert 'value="abc"' in response.text
    assert 'value="5"' in response.text
    assert payment_count(session) == before


@pytest.mark.parametrize(
    ("amount", "allocated", "message"),
    [
        ("25.00", ["30.00", ""], "more than what that invoice still owes"),
        ("10.00", ["10.00", "10.00"], "add up to more than the amount received"),
    ],
)
def test_a_payment_the_ledger_refuses_writes_nothing(
    web, logins, anna, session, amount, allocated, message
) -> None:
    oldest, newest = open_invoices(session, anna)
    before = payment_count(session)
    signed_in(web, TREASURER)
    response = register(
        web, anna, amount=amount, allocation="manual",
        invoice_id=[str(oldest.id), str(newest.id)], allocated=allocated,
    )  # fmt: skip
    assert response.status_code == 422
    assert message in text_of(response.text)
    assert payment_count(session) == before
    assert [invoice.outstanding_amount for invoice in open_invoices(session, anna)] == [
        Decimal("25.00"), Decimal("25.00"),
    ]  # fmt: skip


def test_an_invoice_not_of_the_member_is_refused(web, logins, anna, session) -> None:
    other = add_invoices(session, 1)
    stranger = session.scalars(select(Invoice).where(Invoice.customer_id == other.id)).one()
    before = payment_count(session)
    signed_in(web, TREASURER)
    response = register(
        web, anna, amount="10", allocation="manual",
        invoice_id=[str(stranger.id)], allocated=["10"],
    )  # fmt: skip
    assert response.status_code == 422
    assert payment_count(session) == before


def test_a_secretary_gets_no_payment_form(web, logins, anna, session) -> None:
    before = payment_count(session)
    signed_in(web, SECRETARY)
    assert web.get(f"/desk/payments/new?member_id={anna.id}").status_code == 403
    token = form_token(web, "/desk/members")
    response = web.post(
        "/desk/payments/new",
        data={"csrf_token": token, "member_id": anna.id, "amount": "10",
              "mode_of_payment": "Bank Transfer", "allocation": "oldest"},
    )  # fmt: skip
    assert response.status_code == 403
    assert payment_count(session) == before


def test_a_member_cannot_post_a_payment(web, logins, anna, session) -> None:
    signed_in(web, MEMBER)
    token = form_token(web, "/portal")
    response = web.post(
        "/desk/payments/new",
        data={"csrf_token": token, "member_id": anna.id, "amount": "10"},
    )
    assert response.status_code == 403


def test_a_forged_form_is_the_403_page_and_writes_nothing(web, logins, anna, session) -> None:
    before = payment_count(session)
    signed_in(web, TREASURER)
    response = web.post(
        "/desk/payments/new",
        data={"csrf_token": "0" * 64, "member_id": anna.id, "amount": "10",
              "mode_of_payment": "Bank Transfer", "allocation": "oldest"},
    )  # fmt: skip
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert payment_count(session) == before


def test_without_a_member_the_form_says_where_to_find_one(web, logins) -> None:
    signed_in(web, TREASURER)
    page = web.get("/desk/payments/new")
    assert page.status_code == 200
    assert 'href="/desk/members"' in page.text
    assert web.get("/desk/payments/new?member_id=424242").status_code == 404
