"""Two installations on one Redis never serve each other's cached data (a regression test: the
keys used to be ``verenigingen:cache:...`` whatever the installation)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from verenigingen.app_context import AppContext
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.billing.schemas import InvoiceCreate, InvoiceLineIn
from verenigingen.billing.service.invoices import create_invoice, submit_invoice
from verenigingen.cache import bump_tags
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.installation import installation_id
from verenigingen.db.migrate import upgrade
from verenigingen.db.session import unit_of_work
from verenigingen.history.service import payment_history_text
from verenigingen.jobs.engine import JobEngine
from verenigingen.members.models import Customer, Member


def migrated(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


@pytest.fixture
def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def two_installations(
    tmp_path: Path, redis_url: str, namespace: str
) -> Iterator[tuple[AppContext, AppContext]]:
    """Two databases, each with its own installation id, the same namespace and the same Redis:
    the configuration of two associations an operator runs off one Redis by mistake."""
    settings = Settings(redis_url=redis_url, cache_backend="redis", jobs_namespace=namespace)
    contexts = tuple(
        AppContext.build(
            settings, database=migrated(tmp_path / f"{name}.db"), jobs=JobEngine.memory(name)
        )
        for name in ("a", "b")
    )
    yield contexts[0], contexts[1]
    for context in contexts:
        context.cache.clear()
        context.database.dispose()


def member_with_invoice(context: AppContext, amount: str | None) -> tuple[User, int]:
    """An administrator and member 1 of customer 1, billed ``amount`` (or bumped alike)."""
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, "admin@example.org", Role.ADMINISTRATOR)
        customer = Customer(debtor_number="DEB-00001", name="Familie Jansen")
        session.add(customer)
        session.flush()
        member = Member(
            member_id="Assoc-Member-2026-12-0001",
            first_name="Els",
            last_name="Jansen",
            email="els@example.org",
            customer_id=customer.id,
        )
        session.add(member)
        session.flush()
        if amount is None:
            # The same tag versions as the other database's invoice leaves behind.
            bump_tags(session, [f"customer:{customer.id}", f"member:{member.id}"])
        else:
            lines = [InvoiceLineIn(description="Contributie", rate=Decimal(amount))]
            invoice = create_invoice(
                session, admin, InvoiceCreate(customer_id=customer.id, lines=lines)
            )
            submit_invoice(session, admin, invoice.id)
        session.expunge(admin)
        return admin, member.id


def history(context: AppContext, user: User, member_id: int) -> dict[str, object]:
    with unit_of_work(context.read_sessions) as session:
        session.add(user)
        return json.loads(payment_history_text(session, user, member_id).text)  # type: ignore[no-any-return]


def test_each_installation_reads_its_own_history(
    two_installations: tuple[AppContext, AppContext], namespace: str
) -> None:
    a, b = two_installations
    a_id, b_id = installation_id(a.database), installation_id(b.database)
    assert a_id != b_id
    a_admin, a_member = member_with_invoice(a, "45.00")
    b_admin, b_member = member_with_invoice(b, None)
    assert a_member == b_member == 1  # the same ids and the same tag versions in both databases

    in_a = history(a, a_admin, a_member)  # cached in Redis for installation A
    in_b = history(b, b_admin, b_member)

    assert [invoice["grand_total"] for invoice in in_a["invoices"]] == ["45.00"]  # type: ignore[attr-defined]
    assert in_b["invoices"] == []  # not A's invoice, though A's entry has the same key and versions
    assert history(a, a_admin, a_member) == in_a  # A's own entry is still served to A
    assert a.cache.stats()["history"].hits == 1
    assert b.cache.stats()["history"].hits == 0
    # The keys: the installation's namespace, then its database's id.
    assert a.cache.backend.prefix == f"{namespace}:cache:{a_id}"  # type: ignore[attr-defined]
