"""Concurrent delta jobs on one member's summary never lose an update (real servers, threads)."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from verenigingen.history import summary
from verenigingen.history.models import MemberFinancialSummary
from verenigingen.members.models import Customer, Member

WRITERS = 8


def test_concurrent_deltas_are_all_applied(committed_server_engine: Engine) -> None:
    tag = uuid.uuid4().hex[:8]
    with Session(committed_server_engine) as session, session.begin():
        customer_id = session.execute(
            insert(Customer).values(debtor_number=f"D-{tag}", name="Familie").returning(Customer.id)
        ).scalar_one()
        member_id = session.execute(
            insert(Member)
            .values(
                member_id=f"M-{tag}",
                first_name="Jan",
                last_name="Race",
                email=f"{tag}@example.org",
                customer_id=customer_id,
            )
            .returning(Member.id)
        ).scalar_one()
        summary.recalculate(session, customer_id)
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with Session(committed_server_engine) as session, session.begin():
                # Everyone reads the same version first, then writes: all but one miss and retry.
                session.scalar(select(MemberFinancialSummary.version))
                barrier.wait(timeout=10)
                summary.apply_delta(session, customer_id, {"paid": "1.00", "outstanding": "-1.00"})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(committed_server_engine) as session:
        row = session.get(MemberFinancialSummary, member_id)
        assert row is not None
        assert (row.total_paid, row.outstanding, row.version) == (
            Decimal("8.00"),
            Decimal("-8.00"),
            1 + WRITERS,
        )
