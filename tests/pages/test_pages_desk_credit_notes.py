"""An invoice's desk page: its lines, payments, outstanding amount and credit notes; a credit
note (all it owes, one line, an amount) and cancelling, each confirmed first, with every amount
as the ledger has it after the action; bad input and the ledger's refusals re-render the page
with the message and write nothing; roles and the form token."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import ADMINISTRATOR, MEMBER, SECRETARY, TREASURER, member_with_ledger, staff
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.billing.models import DocStatus, Invoice, InvoiceStatus
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.members.models import Member
from verenigingen.perf.capture import capture

pytestmark = pytest.mark.usefixtures("frozen_today")

CREDIT_NOTE_ROW = re.compile(r'<tr data-credit-note="([^"]+)"')


@pytest.fixture
def logins(session: Session) -> dict[str, User]:
    return staff(session)


@pytest.fixture
def anna(session: Session, admin: User) -> Member:
    """Four invoices of 25.00: the first and third paid, the second and fourth open."""
    return member_with_ledger(session, admin, "Anna", "Jansen", 4)


def invoices_of(session: Session, member: Member) -> list[Invoice]:
    """The member's invoices (not credit notes), oldest first, as the database has them."""
    session.expire_all()
    return list(
        session.scalars(
            select(Invoice)
            .where(Invoice.member_id == member.id, Invoice.is_return.is_(False))
            .order_by(Invoice.posting_date, Invoice.id)
        )
    )


@pytest.fixture
def lined(session: Session, admin: User, anna: Member) -> Invoice:
    """A submitted invoice of two lines: 20.00 dues and 7.50 for the federation."""
    assert anna.customer_id is not None
    lines = [
        InvoiceLineIn(description="Contributie", rate=Decimal("20.00")),
        InvoiceLineIn(description="Bondsbijdrage", rate=Decimal("7.50")),
    ]
    data = InvoiceCreate(customer_id=anna.customer_id, member_id=anna.id, lines=lines)
    invoice = create_invoice(session, admin, data)
    return submit_invoice(session, admin, invoice.id)


def credit_notes(session: Session) -> list[Invoice]:
    session.expire_all()
    return list(session.scalars(select(Invoice).where(Invoice.is_return.is_(True))))


def invoice_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Invoice)) or 0)


def post(web: TestClient, path: str, **fields: object) -> Response:
    token = form_token(web, "/desk/invoices")
    return web.post(path, data={"csrf_token": token, **fields})


def credit(web: TestClient, invoice: Invoice, **fields: object) -> Response:
    data: dict[str, object] = {"credit": "outstanding", "amount": "", "reason": "Lid overleden"}
    data.update(fields)
    return post(web, f"/desk/invoices/{invoice.id}/credit-note", **data)


# The page


def test_the_page_shows_lines_payments_and_what_is_owed(web, logins, anna, lined, session):
    paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, TREASURER)
    with capture() as queries:
        page = web.get(f"/desk/invoices/{paid.id}")
    assert page.status_code == 200
    # the sign-in, the invoice with its customer's name, its lines, its payments, its credit notes
    assert queries.count == 5
    assert 'data-outstanding="0.00"' in page.text
    assert re.search(r'<tr data-payment="PAY-[^"]+">', page.text)
    assert "No credit note stands against it." in text_of(page.text)
    assert 'action="/desk/invoices/' not in page.text  # paid: nothing to credit or cancel

    page = web.get(f"/desk/invoices/{open_one.id}")
    assert 'data-outstanding="25.00"' in page.text
    assert f'action="/desk/invoices/{open_one.id}/credit-note"' in page.text
    assert f'action="/desk/invoices/{open_one.id}/cancel"' in page.text

    page = web.get(f"/desk/invoices/{lined.id}")
    assert page.text.count("<tr data-line=") == 2
    assert 'data-total="27.50"' in page.text
    for line in ("Contributie", "Bondsbijdrage"):
        assert line in text_of(page.text)


def test_the_lists_link_to_the_invoice(web, logins, anna, session) -> None:
    signed_in(web, SECRETARY)
    page = web.get("/desk/invoices")
    for invoice in invoices_of(session, anna):
        assert f'href="/desk/invoices/{invoice.id}"' in page.text


def test_unknown_or_malformed_invoices(web, logins) -> None:
    signed_in(web, TREASURER)
    assert web.get("/desk/invoices/987654").status_code == 404
    assert web.get("/desk/invoices/x").status_code == 422


# Credit notes


def test_crediting_all_it_owes_asks_first_then_writes(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, TREASURER)
    asked = credit(web, open_one, reason="Lid overleden")
    assert asked.status_code == 200
    assert "Credit €25.00 of invoice" in text_of(asked.text)
    assert 'name="confirmed" value="yes"' in asked.text
    assert 'name="reason" value="Lid overleden"' in asked.text
    assert credit_notes(session) == []  # nothing before the confirmation

    done = credit(web, open_one, reason="Lid overleden", confirmed="yes")
    assert done.status_code == 303
    assert done.headers["location"] == f"/desk/invoices/{open_one.id}"
    [note] = credit_notes(session)
    assert (note.grand_total, note.outstanding_amount) == (Decimal("-25.00"), Decimal("0.00"))
    assert (note.status, note.docstatus, note.remarks) == ("Return", 1, "Lid overleden")
    assert note.return_against_id == open_one.id
    credited = session.get(Invoice, open_one.id)
    assert credited is not None
    assert credited.outstanding_amount == Decimal("0.00")
    assert credited.status == InvoiceStatus.CREDIT_NOTE_ISSUED
    page = web.get(done.headers["location"])
    assert "The credit note is made" in text_of(page.text)
    assert CREDIT_NOTE_ROW.findall(page.text) == [note.number]
    assert 'data-outstanding="0.00"' in page.text


def test_crediting_one_line(web, logins, lined, session) -> None:
    second = lined.lines[1]
    signed_in(web, ADMINISTRATOR)
    asked = credit(web, lined, credit=f"line-{second.id}", reason="Geen bondslid")
    assert "Credit €7.50 of invoice" in text_of(asked.text)
    done = credit(web, lined, credit=f"line-{second.id}", reason="Geen bondslid", confirmed="yes")
    assert done.status_code == 303
    [note] = credit_notes(session)
    assert note.grand_total == Decimal("-7.50")
    session.refresh(lined)
    assert (lined.grand_total, lined.outstanding_amount) == (Decimal("27.50"), Decimal("20.00"))


def test_crediting_an_amount_typed(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, TREASURER)
    done = credit(web, open_one, credit="amount", amount="10,00", confirmed="yes")
    assert done.status_code == 303
    [note] = credit_notes(session)
    assert note.grand_total == Decimal("-10.00")
    assert invoices_of(session, anna)[1].outstanding_amount == Decimal("15.00")
    page = web.get(f"/desk/invoices/{open_one.id}")
    assert 'data-outstanding="15.00"' in page.text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"credit": "amount", "amount": ""}, "amount", "Enter an amount greater than zero"),
        ({"credit": "amount", "amount": "abc"}, "amount", "Enter an amount greater than zero"),
        ({"credit": "amount", "amount": "-5"}, "amount", "Enter an amount greater than zero"),
        ({"credit": "amount", "amount": "1.005"}, "amount", "Enter an amount greater than zero"),
        ({"credit": "line-987654"}, "credit", "Choose one of the options."),
        ({"credit": "everything"}, "credit", "Choose one of the options."),
        ({"reason": "  "}, "reason", "Say why the invoice is credited."),
        ({"reason": "r" * 401}, "reason", "At most 400 characters, on one line."),
        ({"reason": "two\nlines"}, "reason", "At most 400 characters, on one line."),
    ],
)
def test_bad_credit_input_keeps_the_form_and_writes_nothing(
    web, logins, anna, session, fields, field, message
) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    before = invoice_count(session)
    signed_in(web, TREASURER)
    for confirmed in ("", "yes"):
        response = credit(web, open_one, confirmed=confirmed, **fields)
        assert response.status_code == 422
        assert f'id="error-{field}"' in response.text
        assert message in text_of(response.text)
    assert invoice_count(session) == before
    assert invoices_of(session, anna)[1].outstanding_amount == Decimal("25.00")


@pytest.mark.parametrize(
    ("which", "fields", "status", "message"),
    [
        (1, {"credit": "amount", "amount": "25.01"}, 422, "more than what the invoice still owes"),
        (0, {}, 409, "The invoice owes nothing any more"),
    ],
)
def test_a_credit_the_ledger_refuses_writes_nothing(
    web, logins, anna, session, which, fields, status, message
) -> None:
    invoice = invoices_of(session, anna)[which]
    owed = invoice.outstanding_amount
    before = invoice_count(session)
    signed_in(web, TREASURER)
    response = credit(web, invoice, confirmed="yes", **fields)
    assert response.status_code == status
    assert message in text_of(response.text)
    assert invoice_count(session) == before
    assert invoices_of(session, anna)[which].outstanding_amount == owed


def test_a_credit_note_cannot_be_credited(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, TREASURER)
    credit(web, open_one, credit="amount", amount="5", confirmed="yes")
    [note] = credit_notes(session)
    page = web.get(f"/desk/invoices/{note.id}")
    assert "/credit-note" not in page.text  # no form on a credit note
    refused = credit(web, note, confirmed="yes")
    assert refused.status_code == 409
    assert "This is a credit note itself" in text_of(refused.text)
    assert len(credit_notes(session)) == 1


# Cancelling


def test_cancelling_an_open_invoice_asks_first_then_cancels(web, logins, anna, session) -> None:
    _paid, _open, _paid_too, newest = invoices_of(session, anna)
    signed_in(web, TREASURER)
    asked = post(web, f"/desk/invoices/{newest.id}/cancel")
    assert asked.status_code == 200
    assert f"Cancel {newest.number}?" in text_of(asked.text)
    assert invoices_of(session, anna)[3].docstatus == DocStatus.SUBMITTED

    done = post(web, f"/desk/invoices/{newest.id}/cancel", confirmed="yes")
    assert done.status_code == 303
    cancelled = invoices_of(session, anna)[3]
    assert (cancelled.docstatus, cancelled.status) == (DocStatus.CANCELLED, "Cancelled")
    assert cancelled.outstanding_amount == Decimal("0.00")
    page = web.get(f"/desk/invoices/{newest.id}")
    assert "The invoice is cancelled; it owes nothing any more." in text_of(page.text)
    assert f'action="/desk/invoices/{newest.id}/cancel"' not in page.text

    twice = post(web, f"/desk/invoices/{newest.id}/cancel", confirmed="yes")
    assert twice.status_code == 409
    assert "The invoice is cancelled already." in text_of(twice.text)


def test_an_invoice_a_payment_settles_is_not_cancelled(web, logins, anna, session) -> None:
    paid = invoices_of(session, anna)[0]
    signed_in(web, TREASURER)
    refused = post(web, f"/desk/invoices/{paid.id}/cancel", confirmed="yes")
    assert refused.status_code == 409
    assert "Payments or credit notes still settle this invoice" in text_of(refused.text)
    again = invoices_of(session, anna)[0]
    assert (again.docstatus, again.status) == (DocStatus.SUBMITTED, "Paid")


def test_cancelling_a_credit_note_gives_its_amount_back(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, TREASURER)
    credit(web, open_one, credit="amount", amount="10", confirmed="yes")
    [note] = credit_notes(session)
    refused = post(web, f"/desk/invoices/{open_one.id}/cancel", confirmed="yes")
    assert refused.status_code == 409  # the credit note still settles part of it
    done = post(web, f"/desk/invoices/{note.id}/cancel", confirmed="yes")
    assert done.status_code == 303
    assert credit_notes(session)[0].docstatus == DocStatus.CANCELLED
    assert invoices_of(session, anna)[1].outstanding_amount == Decimal("25.00")


# Roles and the form token


def test_a_secretary_reads_the_page_without_forms(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    before = invoice_count(session)
    signed_in(web, SECRETARY)
    page = web.get(f"/desk/invoices/{open_one.id}")
    assert page.status_code == 200
    assert "/credit-note" not in page.text
    assert f"/desk/invoices/{open_one.id}/cancel" not in page.text
    assert credit(web, open_one, confirmed="yes").status_code == 403
    assert post(web, f"/desk/invoices/{open_one.id}/cancel", confirmed="yes").status_code == 403
    assert invoice_count(session) == before
    assert invoices_of(session, anna)[1].status == "Overdue"


def test_a_member_gets_the_403_page(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    signed_in(web, MEMBER)
    assert web.get(f"/desk/invoices/{open_one.id}").status_code == 403
    token = form_token(web, "/portal")
    for action in ("credit-note", "cancel"):
        response = web.post(
            f"/desk/invoices/{open_one.id}/{action}",
            data={"csrf_token": token, "reason": "x", "confirmed": "yes"},
        )
        assert response.status_code == 403
    assert invoices_of(session, anna)[1].outstanding_amount == Decimal("25.00")


def test_a_forged_form_token_writes_nothing(web, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    before = invoice_count(session)
    signed_in(web, TREASURER)
    for action in ("credit-note", "cancel"):
        response = web.post(
            f"/desk/invoices/{open_one.id}/{action}",
            data={"csrf_token": "0" * 64, "reason": "x", "confirmed": "yes"},
        )
        assert response.status_code == 403
        assert "This form has expired" in response.text
    assert invoice_count(session) == before
    assert invoices_of(session, anna)[1].docstatus == DocStatus.SUBMITTED


def test_the_invoice_page_and_its_confirmation_are_dutch(browser, logins, anna, session) -> None:
    _paid, open_one, *_ = invoices_of(session, anna)
    web = signed_in(browser(language="nl"), TREASURER)
    page = text_of(web.get(f"/desk/invoices/{open_one.id}").text)
    assert "Een creditnota maken" in page
    assert "Alles wat nog openstaat (€ 25,00)" in page
    asked = text_of(credit(web, open_one, reason="Lid overleden").text)
    assert "€ 25,00 van factuur" in asked
    assert "Ja, maak de creditnota" in asked
