"""Reading the ledger: filters, pages, and a Member who sees only its own customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import pytest
from billing_factories import LedgerFactory
from sqlalchemy.orm import Session

from verenigingen.auth.errors import LoginNotLinkedToMember, NotOwnRecord
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing import queries
from verenigingen.billing.models import Invoice, InvoiceStatus, Payment
from verenigingen.db.paging import KeysetPage, PageRequest
from verenigingen.errors import NotFound, ValidationFailed
from verenigingen.members.models import Customer, Member


@dataclass
class Scene:
    mine: Customer
    theirs: Customer
    member: Member
    paid: Invoice
    unpaid: Invoice
    draft: Invoice
    foreign: Invoice
    foreign_payment: Payment


@pytest.fixture
def scene(ledger: LedgerFactory) -> Scene:
    mine, theirs = ledger.customer("Familie de Vries"), ledger.customer("Familie Jansen")
    member = ledger.member(mine)
    paid = ledger.invoice(mine, "10.00", member=member, posting_date=dt.date(2026, 2, 1))
    ledger.payment(mine, "10.00", [(paid, "10.00")])
    return Scene(
        mine=mine,
        theirs=theirs,
        member=member,
        paid=paid,
        unpaid=ledger.invoice(mine, "20.00", posting_date=dt.date(2026, 3, 1)),
        draft=ledger.invoice(mine, "30.00", submit=False, posting_date=dt.date(2026, 3, 2)),
        foreign=ledger.invoice(theirs, "40.00"),
        foreign_payment=ledger.payment(theirs, "25.00"),
    )


def _ids(items: Sequence[Invoice | Payment]) -> list[int]:
    return [item.id for item in items]


T = TypeVar("T")
COUNTED = PageRequest(count=True)


def _counted(page: KeysetPage[T]) -> tuple[list[T], int | None]:
    return page.items, page.total


def test_list_invoices_filters_and_pages(session: Session, treasurer: User, scene: Scene) -> None:
    mine = scene.mine.id

    items, total = _counted(
        queries.list_invoices(session, treasurer, customer_id=mine, page=COUNTED)
    )
    assert total == 3
    assert _ids(items) == _ids([scene.draft, scene.unpaid, scene.paid])  # newest first
    assert [line.description for line in items[0].lines] == ["Contributie"]

    items, total = _counted(
        queries.list_invoices(
            session, treasurer, customer_id=mine, page=PageRequest(1, offset=1, count=True)
        )
    )
    assert (total, _ids(items)) == (3, _ids([scene.unpaid]))

    items, total = _counted(
        queries.list_invoices(session, treasurer, status=InvoiceStatus.PAID, page=COUNTED)
    )
    assert (total, _ids(items)) == (1, _ids([scene.paid]))

    items, total = _counted(
        queries.list_invoices(session, treasurer, member_id=scene.member.id, page=COUNTED)
    )
    assert (total, _ids(items)) == (1, _ids([scene.paid]))

    _, total = _counted(queries.list_invoices(session, treasurer, page=COUNTED))
    assert total == 4


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": "Paidd"}, "unknown invoice status"),
        ({"page": PageRequest(limit=0)}, "limit"),
        ({"page": PageRequest(limit=501)}, "limit"),
        ({"page": PageRequest(offset=-1)}, "offset"),
    ],
)
def test_list_invoices_refuses_bad_arguments(
    session: Session, treasurer: User, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        queries.list_invoices(session, treasurer, **arguments)  # type: ignore[arg-type]


def test_list_payments_filters(session: Session, treasurer: User, scene: Scene) -> None:
    items, total = _counted(
        queries.list_payments(session, treasurer, status="Submitted", page=COUNTED)
    )
    assert total == 2
    assert all(item.docstatus == 1 for item in items)
    items, total = _counted(
        queries.list_payments(session, treasurer, customer_id=scene.theirs.id, page=COUNTED)
    )
    assert (total, _ids(items)) == (1, _ids([scene.foreign_payment]))
    assert [a.allocated_amount for a in items[0].allocations] == [25]
    with pytest.raises(ValidationFailed, match="unknown payment status"):
        queries.list_payments(session, treasurer, status="Paid")


def test_get_unknown_ids_are_not_found(session: Session, treasurer: User) -> None:
    with pytest.raises(NotFound):
        queries.get_invoice(session, treasurer, 123_456)
    with pytest.raises(NotFound):
        queries.get_payment(session, treasurer, 123_456)


def test_member_reads_only_its_own_customer(
    session: Session, ledger: LedgerFactory, scene: Scene
) -> None:
    portal = create_user(session, "lid@example.org", Role.MEMBER)
    ledger.member(scene.mine, user=portal)

    items, total = _counted(queries.list_invoices(session, portal, page=COUNTED))
    assert (total, sorted(_ids(items))) == (
        3,
        sorted(_ids([scene.paid, scene.unpaid, scene.draft])),
    )
    assert queries.get_invoice(session, portal, scene.paid.id).id == scene.paid.id
    payments, total = _counted(queries.list_payments(session, portal, page=COUNTED))
    assert total == 1
    assert queries.get_payment(session, portal, payments[0].id).id == payments[0].id

    with pytest.raises(NotOwnRecord):
        queries.get_invoice(session, portal, scene.foreign.id)
    with pytest.raises(NotOwnRecord):
        queries.get_payment(session, portal, scene.foreign_payment.id)
    with pytest.raises(NotOwnRecord):
        queries.list_invoices(session, portal, customer_id=scene.theirs.id)
    with pytest.raises(NotOwnRecord):
        queries.list_payments(session, portal, customer_id=scene.theirs.id)


def test_member_without_a_customer_reads_nothing(
    session: Session, scene: Scene, member_user: User
) -> None:
    with pytest.raises(LoginNotLinkedToMember):
        queries.list_invoices(session, member_user)


def test_membership_secretary_reads_everything(
    session: Session, scene: Scene, membership_secretary: User
) -> None:
    _, total = _counted(queries.list_invoices(session, membership_secretary, page=COUNTED))
    assert total == 4
