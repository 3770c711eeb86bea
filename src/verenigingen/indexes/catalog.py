"""The strategic indexes, declared in code and checked against the SQLAlchemy metadata.

Nothing typed by a user reaches DDL unchecked: an index is either one of the declared specs below
or an ad-hoc spec whose table and columns exist in ``Base.metadata`` and whose name is generated
here. The dialect modules quote every identifier with the dialect's own preparer as well.

Each spec names its *probes*: the reads that the index is for, run through the real services
(or, where no service sends the read yet, the statement it will send) with representative
parameters chosen from the data. ``impact`` captures their SQL and replays it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Index, Table, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

import verenigingen.models  # noqa: F401  (registers every table on the metadata)
from verenigingen.auth.models import User
from verenigingen.billing.models import (
    DocStatus,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentAllocation,
)
from verenigingen.billing.queries import customer_ledger, list_invoices
from verenigingen.db.base import Base
from verenigingen.errors import DomainError
from verenigingen.indexes.errors import InvalidIndexSpec, UnknownIndex
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.sepa.service import list_mandates

MANAGED_PREFIX = "ixm_"
"""Indexes the manager adds (and the models do not declare) carry this prefix; the Alembic
environment leaves them out of ``alembic check`` so a migration never proposes to drop them."""
MAX_COLUMNS = 3
MAX_NAME_LENGTH = 60
"""Below PostgreSQL's 63 and MariaDB's 64, leaving room for PostgreSQL's ``_ccnew`` suffix."""
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Probe:
    """A read an index is for: ``choose`` picks a representative id from the data (not
    measured), ``read`` sends the read for it as the application does."""

    choose: Callable[[Session], int]
    read: Callable[[Session, User, int], object]


@dataclass(frozen=True)
class IndexSpec:
    name: str
    table: str
    columns: tuple[str, ...]
    purpose: str
    probes: tuple[Probe, ...] = field(default=(), compare=False)
    strategic: bool = False

    @property
    def declared_by_models(self) -> bool:
        """The models declare this index: the migrations own it, ``rollback`` may not drop it."""
        return any(index.name == self.name for index in _table(self.table).indexes)


def _table(name: str) -> Table:
    table = Base.metadata.tables.get(name)
    if table is None:
        known = ", ".join(sorted(Base.metadata.tables))
        raise InvalidIndexSpec(f"unknown table {name!r}; known tables: {known}")
    return table


def validate(spec: IndexSpec) -> IndexSpec:
    """Raise :class:`InvalidIndexSpec` unless the name, table and columns are safe and real."""
    table = _table(spec.table)
    if not 1 <= len(spec.columns) <= MAX_COLUMNS:
        raise InvalidIndexSpec(f"an index takes 1 to {MAX_COLUMNS} columns")
    if len(set(spec.columns)) != len(spec.columns):
        raise InvalidIndexSpec(f"index {spec.name} names a column twice")
    for column in spec.columns:
        if column not in table.c:
            known = ", ".join(table.c.keys())
            raise InvalidIndexSpec(
                f"table {spec.table} has no column {column!r}; its columns: {known}"
            )
    if not _IDENTIFIER.match(spec.name) or len(spec.name) > MAX_NAME_LENGTH:
        raise InvalidIndexSpec(
            f"index name {spec.name!r} must be lower-case letters, digits and underscores, "
            f"at most {MAX_NAME_LENGTH} characters"
        )
    declared = _declared_index(table, spec.name)
    if declared is not None:
        if tuple(c.name for c in declared.columns) != spec.columns:
            raise InvalidIndexSpec(f"{spec.name} is declared by the models with other columns")
    elif not spec.name.startswith(MANAGED_PREFIX):
        raise InvalidIndexSpec(
            f"index {spec.name} is not declared by the models, so its name must start with "
            f"{MANAGED_PREFIX!r}"
        )
    return spec


def _declared_index(table: Table, name: str) -> Index | None:
    return next((index for index in table.indexes if index.name == name), None)


def adhoc(table: str, columns: tuple[str, ...]) -> IndexSpec:
    """A spec for ``table(columns)`` (an advisor candidate), named by the manager."""
    name = f"{MANAGED_PREFIX}{table}_{'_'.join(columns)}"[:MAX_NAME_LENGTH].rstrip("_")
    return validate(IndexSpec(name, table, columns, "ad-hoc (advisor candidate)"))


# Representative parameters: the busiest customer, invoice and member, so the reads measured are
# the ones an index matters most for. An empty table gives 0, an id that matches nothing.


def _busiest(
    session: Session, column: InstrumentedAttribute[int] | InstrumentedAttribute[int | None]
) -> int:
    row = session.execute(
        select(column).group_by(column).order_by(func.count().desc(), column).limit(1)
    ).first()
    return int(row[0]) if row is not None and row[0] is not None else 0


def _busiest_customer(session: Session) -> int:
    return _busiest(session, Invoice.customer_id)


def _busiest_invoice(session: Session) -> int:
    return _busiest(session, PaymentAllocation.invoice_id)


def _busiest_member(session: Session) -> int:
    return _busiest(session, SepaMandate.member_id)


def _customer_invoices(session: Session, user: User, customer_id: int) -> object:
    for status in (InvoiceStatus.UNPAID, InvoiceStatus.OVERDUE):
        list_invoices(session, user, customer_id=customer_id, status=status)
    try:
        return customer_ledger(session, user, customer_id)
    except DomainError:
        return None  # an empty ledger; its statements were sent and captured all the same


def _invoice_settlements(session: Session, _user: User, invoice_id: int) -> object:
    # The shape of billing.service.invoices._ensure_nothing_settles: which submitted payments
    # still settle this invoice (asked before an invoice is cancelled).
    return session.scalars(
        select(Payment.number)
        .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(
            PaymentAllocation.invoice_id == invoice_id,
            Payment.docstatus == DocStatus.SUBMITTED,
        )
        .order_by(Payment.id)
    ).all()


def _member_mandates(session: Session, user: User, member_id: int) -> object:
    with contextlib.suppress(DomainError):  # no such member: the read was still sent
        list_mandates(session, user, member_id)
    # The read a direct-debit batch makes per member (the batch is not built yet): the
    # member's active mandate, newest first.
    return session.scalars(
        select(SepaMandate)
        .where(SepaMandate.member_id == member_id, SepaMandate.status == MandateStatus.ACTIVE)
        .order_by(SepaMandate.created_at.desc())
        .limit(1)
    ).first()


STRATEGIC: tuple[IndexSpec, ...] = (
    IndexSpec(
        "ixm_invoice_customer_status_posting",
        "invoice",
        ("customer_id", "status", "posting_date"),
        "a customer's invoices by status, in posting order (payment history, portal lists)",
        (Probe(_busiest_customer, _customer_invoices),),
        strategic=True,
    ),
    IndexSpec(
        "ix_payment_allocation_invoice_id",
        "payment_allocation",
        ("invoice_id",),
        "the allocations that settle an invoice (declared by the models: normally present)",
        (Probe(_busiest_invoice, _invoice_settlements),),
        strategic=True,
    ),
    IndexSpec(
        "ixm_sepa_mandate_member_status_created",
        "sepa_mandate",
        ("member_id", "status", "created_at"),
        "a member's mandates by status, newest first (direct-debit batches)",
        (Probe(_busiest_member, _member_mandates),),
        strategic=True,
    ),
)
for _spec in STRATEGIC:
    validate(_spec)  # a typo in this file fails at import, not at the first `add`


def strategic_names() -> list[str]:
    return [spec.name for spec in STRATEGIC]


def resolve(name: str) -> IndexSpec:
    """The declared spec called ``name``, or :class:`UnknownIndex` listing the valid names."""
    for spec in STRATEGIC:
        if spec.name == name:
            return spec
    raise UnknownIndex(
        f"unknown index {name!r}; declared indexes: {', '.join(strategic_names())} "
        "(or add an advisor candidate with --table and --column)"
    )
