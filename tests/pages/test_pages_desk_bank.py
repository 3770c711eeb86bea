"""The desk's bank pages: import a statement (a malformed file refused, nothing imported), the
statements by cursor, match the open lines, and the review: accept a candidate, allocate by hand
(a split), mark unrelated, each refusal shown with nothing written; and the roles."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import httpx
import pytest
from conftest_pages import form_token, signed_in, text_of
from desk_factories import MEMBER, SECRETARY, TREASURER, staff
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.bank.models import BankStatement, BankStatementLine, ReconciliationStatus
from verenigingen.bank.service import add_account
from verenigingen.billing.models import Invoice, Payment
from verenigingen.perf.capture import capture

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bank"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "billing"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sepa"))
from bank_samples import ING
from billing_factories import LedgerFactory
from sepa_factories import Collectables, make_creditor
from test_bank_reconcile import camt
from test_bank_return_order import returned as return_details
from test_bank_return_order import statement

from verenigingen.sepa.batches import batch_entries, create_batch, submit_batch
from verenigingen.sepa.pain008 import export_batch

pytestmark = pytest.mark.usefixtures("frozen_today")


class Books:
    """The ING account and a member with two open invoices (30.00 and 20.00)."""

    def __init__(self, session: Session, treasurer: User) -> None:
        add_account(session, treasurer, ING)
        ledger = LedgerFactory(session, treasurer)
        family = ledger.customer()
        member = ledger.member(family)
        member.first_name, member.last_name = "Piet", "Klaassen"
        self.spring = ledger.invoice(family, "30.00", member=member)
        self.autumn = ledger.invoice(family, "20.00", member=member)
        session.flush()

    def statement(self) -> bytes:
        return camt(
            [
                {"amount": "30.00", "name": "Piet Klaassen", "remittance": "contributie"},
                {"amount": "50.00", "remittance": "voor het hele jaar"},
                {"amount": "250.00", "remittance": "subsidie gemeente"},
            ]
        )


@pytest.fixture
def books(session: Session) -> Books:
    logins = staff(session)
    return Books(session, logins[TREASURER])


def upload(web: TestClient, content: bytes) -> httpx.Response:
    token = form_token(web, "/desk/bank")
    files = {"file": ("statement.xml", content, "application/xml")}
    return web.post("/desk/bank", data={"csrf_token": token, "account": ""}, files=files)


def post(web: TestClient, path: str, **data: object) -> httpx.Response:
    token = form_token(web, "/desk/bank/review")
    return web.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def count(session: Session, model: type) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def line_id(session: Session, remittance: str) -> int:
    return int(
        session.scalar(
            select(BankStatementLine.id).where(BankStatementLine.remittance == remittance)
        )
        or 0
    )


def in_review(session: Session, books: Books, web: TestClient) -> None:
    assert upload(web, books.statement()).status_code == 200
    matched = post(web, "/desk/bank/reconcile")
    assert (matched.status_code, matched.headers["location"]) == (303, "/desk/bank/review")


def test_a_statement_is_imported_and_listed(web, books, session) -> None:
    signed_in(web, TREASURER)
    imported = upload(web, books.statement())
    assert imported.status_code == 200
    assert "3 line(s) added" in text_of(imported.text)
    assert count(session, BankStatementLine) == 3
    again = upload(web, books.statement())
    assert "0 line(s) added, 3 already there" in text_of(again.text)
    with capture() as queries:
        listing = web.get("/desk/bank")
    assert listing.text.count("<tr data-statement=") == 1
    assert queries.count == 2  # the sign-in, the page with its line counts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<Document>no statement", "Refused"),
        (b"", "Choose a camt.053 or MT940 file."),
        (camt([{"amount": "1.00"}]).replace(ING.encode(), b"NL91ABNA0417164300"), "Refused"),
    ],
)
def test_a_refused_file_imports_nothing(web, books, session, content: bytes, message: str) -> None:
    signed_in(web, TREASURER)
    refused = upload(web, content)
    assert refused.status_code == 422
    assert message in text_of(refused.text)
    assert count(session, BankStatement) == 0


def test_the_review_lists_candidates_and_a_treasurer_accepts_one(web, books, session) -> None:
    signed_in(web, TREASURER)
    in_review(session, books, web)
    with capture() as queries:
        review = web.get("/desk/bank/review")
    assert review.text.count('<article class="review-line"') == 3
    assert f'<tr data-candidate="{books.spring.id}">' in review.text
    assert queries.count == 4  # the sign-in, the page, the invoices named, the members' by name
    line = line_id(session, "contributie")
    accepted = post(web, f"/desk/bank/lines/{line}/accept", invoice_id=books.spring.id)
    assert (accepted.status_code, accepted.headers["location"]) == (303, "/desk/bank/review")
    session.expire_all()
    assert session.get(Invoice, books.spring.id).outstanding_amount == 0  # type: ignore[union-attr]
    decided = session.get(BankStatementLine, line)
    assert decided is not None
    assert decided.reconciliation_status != ReconciliationStatus.REVIEW
    payments = count(session, Payment)
    twice = post(web, f"/desk/bank/lines/{line}/accept")
    assert twice.status_code == 409
    assert "Refused" in text_of(twice.text)
    assert count(session, Payment) == payments


def test_a_split_by_hand_and_a_line_marked_unrelated(web, books, session) -> None:
    signed_in(web, TREASURER)
    in_review(session, books, web)
    line = line_id(session, "voor het hele jaar")
    numbers = [books.spring.number, books.autumn.number, ""]
    payments = count(session, Payment)
    short = post(
        web, f"/desk/bank/lines/{line}/allocate", invoice_number=numbers, amount=["30", "10", ""]
    )
    assert short.status_code == 422
    assert count(session, Payment) == payments
    for bad in (["30", "x", ""], ["", "", ""]):
        refused = post(web, f"/desk/bank/lines/{line}/allocate", invoice_number=numbers, amount=bad)
        assert refused.status_code == 422
        assert "Enter an existing invoice number" in text_of(refused.text)
    unknown = post(
        web, f"/desk/bank/lines/{line}/allocate", invoice_number=["NOPE"], amount=["50.00"]
    )
    assert unknown.status_code == 422
    split = post(
        web, f"/desk/bank/lines/{line}/allocate", invoice_number=numbers, amount=["30", "20", ""]
    )
    assert split.status_code == 303
    session.expire_all()
    assert [
        session.get(Invoice, invoice.id).outstanding_amount  # type: ignore[union-attr]
        for invoice in (books.spring, books.autumn)
    ] == [0, 0]
    grant = line_id(session, "subsidie gemeente")
    assert post(web, f"/desk/bank/lines/{grant}/unrelated", note="gemeente").status_code == 303
    assert web.get("/desk/bank/review").text.count('<article class="review-line"') == 1


@pytest.mark.parametrize("email", [SECRETARY, MEMBER])
def test_only_treasurers_and_administrators(web, books, email: str) -> None:
    signed_in(web, email)
    for path in ("/desk/bank", "/desk/bank/review"):
        assert web.get(path).status_code == 403
    assert 'href="/desk/bank"' not in web.get("/desk/jobs").text


def test_without_the_form_token_nothing_is_imported(web, books, session) -> None:
    signed_in(web, TREASURER)
    files = {"file": ("statement.xml", books.statement(), "application/xml")}
    assert web.post("/desk/bank", files=files).status_code == 403
    assert count(session, BankStatement) == 0


@pytest.mark.today(dt.date(2026, 11, 16))
def test_a_return_before_its_collection_says_why_it_waits(web, session) -> None:
    """The return's statement imported before the collection's: the review says, in the
    reader's language, that the collection is not booked yet."""
    treasurer = staff(session)[TREASURER]
    add_account(session, treasurer, ING)
    make_creditor(session, treasurer)
    members = Collectables(session, treasurer)
    members.invoice(members.member(), "25.00")
    batch = create_batch(
        session, treasurer, dt.date(2026, 11, 18), moment=dt.datetime(2026, 11, 16, 8, 0)
    )
    export_batch(session, treasurer, batch.id)
    submit_batch(session, treasurer, batch.id)
    (entry,) = batch_entries(session, batch.id)
    signed_in(web, TREASURER)
    returned = statement(
        [(dt.date(2026, 11, 23), "-25.00", return_details(entry.end_to_end_id, "AC04"))], "R-1"
    )
    assert upload(web, returned).status_code == 200
    assert post(web, "/desk/bank/reconcile").status_code == 303

    english = web.get("/desk/bank/review", headers={"Accept-Language": "en"})
    dutch = web.get("/desk/bank/review", headers={"Accept-Language": "nl"})

    assert '<p class="hint return-note" data-why="collection_not_booked">' in english.text
    assert (
        f"A returned direct debit (AC04) of {entry.end_to_end_id} whose collection is not "
        "booked yet"
    ) in text_of(english.text)
    assert (
        f"Een teruggeboekte incasso (AC04) van {entry.end_to_end_id} waarvan de incasso nog "
        "niet is geboekt"
    ) in text_of(dutch.text)
    assert "No candidate" not in text_of(english.text)
    # Money out pays no invoice: no allocation form, only marking it unrelated.
    assert 'class="allocate-form"' not in english.text
    assert 'class="unrelated-form"' in english.text
