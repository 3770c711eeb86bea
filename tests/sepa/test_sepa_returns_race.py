"""The same status report imported twice at once on a server database: the second waits on the
entries the first locked, then finds the file imported; the rejects are recorded once."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sepa_factories import Collectables, make_creditor
from sepa_reports import pain_002
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from contexts import context_on
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.errors import DomainError
from verenigingen.sepa.batches import batch_entries, create_batch, process_batch, submit_batch
from verenigingen.sepa.models import SepaReturn
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.returns import ImportOutcome, import_status_report

TODAY = dt.date(2026, 11, 16)
pytestmark = [pytest.mark.usefixtures("frozen_today"), pytest.mark.today(TODAY)]


def test_a_concurrent_import_of_the_same_report_waits_and_finds_it_imported(
    committed_server_engine: Engine,
) -> None:
    with Session(committed_server_engine) as session, session.begin():
        context_on(committed_server_engine).attach(session)
        user = create_user(session, "race@example.org", Role.TREASURER)
        make_creditor(session, user)
        collectables = Collectables(session, user)
        for _ in range(2):
            collectables.invoice(collectables.member())
        batch = create_batch(
            session, user, dt.date(2026, 11, 18), moment=dt.datetime(2026, 11, 16, 8)
        )
        export_batch(session, user, batch.id)
        submit_batch(session, user, batch.id)
        process_batch(session, user, batch.id)
        block = f"{batch.message_id}-RCUR"
        report = pain_002(
            batch.message_id,
            [(block, entry.end_to_end_id, "AM04") for entry in batch_entries(session, batch.id)],
        )
        user_id = user.id
    outcomes: list[ImportOutcome | DomainError] = []
    first = Session(committed_server_engine)
    context_on(committed_server_engine).attach(first)
    first.begin()
    import_status_report(first, first.get_one(User, user_id), report)  # holds the entries

    def second_import() -> None:
        with Session(committed_server_engine) as session, session.begin():
            context_on(committed_server_engine).attach(session)
            try:
                outcomes.append(
                    import_status_report(session, session.get_one(User, user_id), report)
                )
            except DomainError as error:
                outcomes.append(error)

    thread = threading.Thread(target=lambda: _quietly(second_import))
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the second import should wait for the entries the first locked"
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    (outcome,) = outcomes
    assert isinstance(outcome, ImportOutcome)
    assert outcome.already_imported
    with Session(committed_server_engine) as session:
        assert session.scalar(select(func.count()).select_from(SepaReturn)) == 2


def _quietly(work: Callable[[], None]) -> None:
    with contextlib.suppress(DomainError):
        work()
