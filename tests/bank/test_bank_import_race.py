"""Two imports of the same file at once on a server database: the second waits for the first
on the unique keys, then is refused with 409 and writes nothing; the lines are stored once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

from bank_samples import ING, sample
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.bank.errors import StatementImportConcurrent
from verenigingen.bank.models import BankStatementLine
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.errors import DomainError


def test_a_concurrent_import_of_the_same_file_is_refused(committed_server_engine: Engine) -> None:
    with Session(committed_server_engine) as session, session.begin():
        user = create_user(session, "race@example.org", Role.TREASURER)
        add_account(session, user, ING)
        user_id = user.id
    content = sample("ing_structured.mt940")
    outcome: list[DomainError | None] = []
    first = Session(committed_server_engine)
    first.begin()
    import_statement_file(first, first.get_one(type(user), user_id), content)  # holds the keys

    def second_import() -> None:
        with Session(committed_server_engine) as session, session.begin():
            try:
                import_statement_file(session, session.get_one(type(user), user_id), content)
                outcome.append(None)
            except DomainError as error:
                outcome.append(error)
                raise

    thread = threading.Thread(target=lambda: _swallow(second_import))
    thread.start()
    thread.join(timeout=1.0)
    assert thread.is_alive(), "the second import should wait for the first one's keys"
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], StatementImportConcurrent)
    with Session(committed_server_engine) as session:
        assert session.scalar(select(func.count()).select_from(BankStatementLine)) == 3


def _swallow(work: Callable[[], None]) -> None:
    """The thread's own refusal is in ``outcome``; the thread ends quietly."""
    with contextlib.suppress(DomainError):
        work()
