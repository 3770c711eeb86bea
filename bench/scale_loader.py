"""A national association loaded into PostgreSQL in bulk: members, customers, memberships, dues
schedules, 12 months of submitted dues invoices with their lines, the payments with their
allocations, SEPA mandates, each member's financial summary and the months' analytics.

The rows are generated in Python, :data:`CHUNK` at a time, and sent with ``COPY ... FROM STDIN``
(psycopg's ``cursor.copy()``) into a database the project's migrations made: the schema is the
app's own. While the rows go in, the secondary indexes and unique constraints of the loaded
tables are dropped and the foreign keys are not checked (``session_replication_role =
replica``); afterwards the indexes and constraints are made again from their own definitions
(so a duplicate number or coverage period would still fail the load) and every foreign key is
validated with one join per key. The id sequences and the naming series continue after the
loaded rows, so the app numbers the next invoice, payment, member and debtor where the load
stopped. ``ANALYZE`` ends the load.

What the rows hold, for ``members`` members on 12 months from :data:`FIRST_MONTH` (all drawn
from one seeded ``random.Random``): the demo's membership types and shares; 60 % of the members
start in the first month, the rest spread over the next eleven; 70 % pay by SEPA direct debit
(an Active mandate each; 5 % of the collections fail and stay open), the rest by bank transfer
(most on time, now and then with 5.00 extra left unallocated; some half now and the rest one to
two months later; some never). An invoice is posted ``invoice_days_before`` (30) days before its
period starts and falls due on the first day of the period, as the daily run does; a payment
posted after :data:`AS_OF` has not arrived. The ledger invariants of DOMAIN.md hold:
outstanding = grand total - allocations, status from outstanding and due date as of
:data:`AS_OF`, a payment's allocations at most its paid amount.

Left out: families sharing a customer, credit notes, cancelled documents, members who left or
were rejected, mandate usage rows, SEPA batches, audit events, jobs and notifications.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from schwifty import IBAN

from scale_copy import NULL, CopyRows, copy_tables, drop_secondary, restore_secondary
from verenigingen.billing.models import DocStatus, InvoiceStatus, ModeOfPayment
from verenigingen.billing.status import invoice_status
from verenigingen.clock import add_months
from verenigingen.demo import names
from verenigingen.demo.generator import MEMBERSHIP_TYPES, SEPA_FAILURE_SHARE, SEPA_SHARE
from verenigingen.dues.invoicing import due_date, period_description
from verenigingen.history.summary import Figures
from verenigingen.members.models import PERIOD_MONTHS, BillingPeriod

FIRST_MONTH = dt.date(2025, 12, 1)
MONTHS = 12
AS_OF = dt.date(2026, 11, 1)
"""The load's today: the day the next month's dues run bills the periods from 1 December 2026."""
DAYS_BEFORE = 30
CHUNK = 20_000
"""Members per generated chunk (their invoices, payments and allocations go with them)."""
REPORT_EVERY = 100_000
FOUNDERS_SHARE = 0.6
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
GIFT = Decimal("5.00")
DAYS = [dt.timedelta(days=days) for days in range(100)]
SEPA = ModeOfPayment.SEPA_DIRECT_DEBIT.value
TRANSFER = ModeOfPayment.BANK_TRANSFER.value


@dataclass
class LoadCounts:
    members: int = 0
    invoices: int = 0
    lines: int = 0
    payments: int = 0
    allocations: int = 0
    mandates: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    """Seconds per stage: rows, indexes, constraints, analytics, analyze."""

    @property
    def rows(self) -> int:
        return (
            self.members * 4  # members, customers, memberships, summaries
            + self.invoices
            + self.lines
            + self.payments
            + self.allocations
            + self.mandates
        )


@dataclass
class _Member:
    """A member being generated: what its invoices need, and what they add up to."""

    id: int
    number: str
    full_name: str
    kind: _Type
    schedule_id: int | None
    iban: str | None
    """Set for a member who pays by SEPA direct debit (an Active mandate)."""
    applied: dt.date
    punctual: float
    """Probability that a bank transfer arrives on time."""
    months: list[int]
    """The loaded months (0 to 11) in which a period of this member starts."""
    invoice_count: int = 0
    invoiced: Decimal = ZERO
    paid: Decimal = ZERO
    outstanding: Decimal = ZERO
    overdue_count: int = 0
    last_payment: dt.date | None = None
    last_collection: dt.date | None = None

    def figures(self) -> Figures:
        return Figures(
            invoice_count=self.invoice_count,
            total_invoiced=self.invoiced,
            total_paid=self.paid,
            outstanding=self.outstanding,
            overdue_count=self.overdue_count,
            last_payment_date=self.last_payment,
        )


@dataclass(frozen=True)
class _Type:
    id: int
    name: str
    months: int | None
    """Months per period; None for a lifetime membership (billed once, no schedule)."""
    rate: Decimal


@dataclass(frozen=True)
class _Period:
    """A billing period that starts in one of the loaded months, and its invoice's dates."""

    start: dt.date
    end: dt.date | None
    """The last day covered; None for a lifetime membership."""
    posting: dt.date
    due: dt.date
    series: str
    """The invoice numbers' prefix (the posting year's)."""

    @functools.cache  # noqa: B019 (a handful of periods, kept for the whole load)
    def description(self, type_name: str) -> str:
        return period_description(type_name, self.start, self.end)


def _period(start: dt.date, months: int | None) -> _Period:
    end = None if months is None else add_months(start, months) - dt.timedelta(days=1)
    posting = start - dt.timedelta(days=DAYS_BEFORE)
    return _Period(start, end, posting, due_date(start, posting), f"ACC-SINV-{posting.year}-")


PERIODS = [
    {
        months: _period(add_months(FIRST_MONTH, index), months)
        for months in (*sorted(set(PERIOD_MONTHS.values())), None)
    }
    for index in range(MONTHS)
]
"""Per loaded month, the period starting in it for each length of period (None: lifetime)."""


STARTS = [
    (
        add_months(FIRST_MONTH, index),
        add_months(FIRST_MONTH, index - 1),
        add_months(FIRST_MONTH, index + 12),
        f"Assoc-Member-{add_months(FIRST_MONTH, index - 1):%Y-%m}-",
    )
    for index in range(MONTHS)
]
"""Per loaded month: a member's start, application (the month before), renewal and the prefix
of its member id (the application's year and month)."""


@dataclass
class _Ids:
    """The next id of each table and the numbers used of each naming series."""

    invoice: int = 0
    payment: int = 0
    allocation: int = 0
    mandate: int = 0
    schedule: int = 0
    series: dict[str, int] = field(default_factory=dict)

    def number(self, prefix: str, width: int = 5) -> str:
        self.series[prefix] = self.series.get(prefix, 0) + 1
        return f"{prefix}{self.series[prefix]:0{width}d}"


class ScaleLoader:
    """Generates and copies the rows of ``members`` members into the database at ``url``."""

    def __init__(self, url: str, members: int, seed: int = 19) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.members = members
        self.random = random.Random(seed)
        self.ids = _Ids()
        self.counts = LoadCounts()
        self.types: list[_Type] = []
        self.weights: list[int] = []
        self.joiners = self._joiners_per_month()

    def _joiners_per_month(self) -> list[int]:
        founders = int(self.members * FOUNDERS_SHARE)
        later = self.members - founders
        per_month = [later // (MONTHS - 1)] * (MONTHS - 1)
        for index in range(later - sum(per_month)):
            per_month[index] += 1
        return [founders, *per_month]

    def load(self, progress: Callable[[str], None] = print) -> LoadCounts:
        with psycopg.connect(self.url, autocommit=False) as connection:
            cursor = connection.cursor()
            cursor.execute("SET session_replication_role = replica")  # no FK triggers per row
            cursor.execute("SET maintenance_work_mem = '256MB'")
            self._membership_types(cursor)
            saved = drop_secondary(cursor)
            connection.commit()
            started = time.perf_counter()
            member = 0
            reported = 0
            # One chunk is copied by a thread while the next is generated: the server parses
            # and stores rows while Python makes more (psycopg waits on the socket without the
            # GIL).
            with ThreadPoolExecutor(max_workers=1) as sender:
                sending: Future[None] | None = None
                for start_month, joiners in enumerate(self.joiners):
                    for low in range(0, joiners, CHUNK):
                        tables = copy_tables()
                        count = min(CHUNK, joiners - low)
                        self._chunk(tables, member + 1, count, start_month)
                        member += count
                        if sending is not None:
                            sending.result()
                        sending = sender.submit(_send, connection, tables)
                        if member - reported >= REPORT_EVERY or member == self.members:
                            progress(f"  {member:,} of {self.members:,} members generated")
                            reported = member
                if sending is not None:
                    sending.result()
            self.counts.seconds["rows"] = time.perf_counter() - started
            started = time.perf_counter()
            cursor.execute("SET session_replication_role = origin")
            restore_secondary(cursor, saved, progress)
            connection.commit()
            self.counts.seconds["indexes and constraints"] = time.perf_counter() - started
            started = time.perf_counter()
            self._continue_numbering(cursor)
            connection.commit()
            self.counts.seconds["sequences"] = time.perf_counter() - started
        self.counts.members = member
        self.counts.invoices = self.counts.lines = self.ids.invoice
        self.counts.payments = self.ids.payment
        self.counts.allocations = self.ids.allocation
        self.counts.mandates = self.ids.mandate
        return self.counts

    # -- reference rows ------------------------------------------------------------------------

    def _membership_types(self, cursor: psycopg.Cursor[Any]) -> None:
        for name, period, amount, minimum, default, weight in MEMBERSHIP_TYPES:
            row = cursor.execute(
                "INSERT INTO membership_type (name, billing_period, amount, minimum_amount,"
                " enforce_minimum_period, is_default) VALUES (%s, %s, %s, %s, true, %s)"
                " RETURNING id",
                (name, period.value, Decimal(amount), Decimal(minimum), default),
            ).fetchone()
            assert row is not None
            months = None if period == BillingPeriod.LIFETIME else PERIOD_MONTHS[period]
            self.types.append(_Type(row[0], name, months, Decimal(amount)))
            self.weights.append(weight)

    # -- one member and its ledger -------------------------------------------------------------

    def _chunk(self, tables: dict[str, CopyRows], first_id: int, count: int, month: int) -> None:
        """``count`` members from ``first_id`` who start in ``month``, then their invoices
        month by month (a member's invoices lie apart, as a year of daily runs leaves them)."""
        members = [self._member(tables, first_id + offset, month) for offset in range(count)]
        billed: list[list[_Member]] = [[] for _ in range(MONTHS)]
        for member in members:
            for index in member.months:
                billed[index].append(member)
        for index, those in enumerate(billed):
            periods = PERIODS[index]
            for member in those:
                self._invoice(tables, member, periods[member.kind.months])
        for member in members:
            self._finish(tables, member)

    def _member(self, tables: dict[str, CopyRows], id_: int, start_month: int) -> _Member:
        rng = self.random
        start, applied, renewal, member_series = STARTS[start_month]
        kind = rng.choices(self.types, weights=self.weights)[0]
        sepa = rng.random() < SEPA_SHARE
        first = rng.choice(names.FIRST_NAMES)
        last = rng.choice(names.LAST_NAMES)
        full_name = f"{first} {last}"
        email = f"{first}.{last}.{id_}@example.org".lower().replace(" ", "")
        city = rng.choice(names.CITIES)
        number = self.ids.number(member_series, width=4)
        iban = None
        if sepa:
            account = f"{rng.randrange(10**9):010d}"
            iban = str(IBAN.generate("NL", bank_code=rng.choice(names.BANKS), account_code=account))
        # The demo's names, streets and cities hold nothing COPY would have to escape.
        tables["customer"].line(f"{id_}\t{self.ids.number('DEB-')}\t{full_name}\t{email}\t{city}")
        birth = dt.date(rng.randrange(1945, 2012), rng.randrange(1, 13), rng.randrange(1, 29))
        street = f"{rng.choice(names.STREETS)} {rng.randrange(1, 200)}"
        postal_code = f"{rng.randrange(1000, 9999)} AB"
        account = (
            f"SEPA Direct Debit\t{iban}\t{full_name}" if iban else f"Bank Transfer\t{NULL}\t{NULL}"
        )
        tables["member"].line(
            f"{id_}\t{number}\t{first}\t{last}\t{email}\t{birth}\t{street}\t{postal_code}\t"
            f"{city}\tActive\tApproved\t{start}\t{account}\t{kind.id}\t{id_}"
        )
        tables["membership"].line(f"{id_}\t{id_}\t{kind.id}\t{start}\t{renewal}\tActive")
        schedule_id = None
        if kind.months is not None:
            self.ids.schedule += 1
            schedule_id = self.ids.schedule
        months = self._months(kind, start_month)
        return _Member(
            id_,
            number,
            full_name,
            kind,
            schedule_id,
            iban,
            applied,
            rng.uniform(0.6, 1.0),
            months,
        )

    def _finish(self, tables: dict[str, CopyRows], member: _Member) -> None:
        """The member's schedule, mandate and summary, now that its invoices are known."""
        kind = member.kind
        if member.schedule_id is not None:
            assert kind.months is not None
            last = add_months(FIRST_MONTH, member.months[-1])
            tables["dues_schedule"].add(
                member.schedule_id,
                member.id,
                member.id,
                member.id,
                _frequency(kind.months),
                kind.months,
                kind.rate,
                add_months(last, kind.months),
                last - dt.timedelta(days=DAYS_BEFORE),
                DAYS_BEFORE,
                "Active",
                True,
            )
        if member.iban is not None:
            self.ids.mandate += 1
            tables["sepa_mandate"].add(
                self.ids.mandate,
                f"MNDT-{member.number}",
                member.id,
                member.full_name,
                member.iban,
                member.applied,
                "Active",
                member.last_collection,
            )
        values = member.figures().values()
        tables["member_financial_summary"].add(
            member.id,
            member.id,
            values["invoice_count"],
            values["total_invoiced"],
            values["total_credited"],
            values["total_paid"],
            values["outstanding"],
            values["overdue_count"],
            values["last_payment_date"],
            values["payment_status"],
            1,
        )

    def _months(self, kind: _Type, start_month: int) -> list[int]:
        """The loaded months in which the member's periods start (one for a lifetime)."""
        if kind.months is None:
            return [start_month]
        return list(range(start_month, MONTHS, kind.months))

    def _invoice(self, tables: dict[str, CopyRows], member: _Member, period: _Period) -> None:
        """One submitted dues invoice with its line, and the payments that arrived for it."""
        rng = self.random
        total = member.kind.rate
        due = period.due
        self.ids.invoice += 1
        invoice_id = self.ids.invoice
        # (posting date, paid, allocated, mode, reference) of each payment sent for it
        arrivals: list[tuple[dt.date, Decimal, Decimal, str, str]] = []
        if member.iban is not None:
            if rng.random() >= SEPA_FAILURE_SHARE:
                arrivals.append((due, total, total, SEPA, f"SEPA-{due:%Y%m%d}"))
        else:
            fate = rng.random()
            if fate < member.punctual:  # on time, now and then with a gift left unallocated
                gift = GIFT if rng.random() < 0.02 else ZERO
                day = due + DAYS[rng.randrange(0, 10)]
                arrivals.append((day, total + gift, total, TRANSFER, f"Contributie {invoice_id}"))
            elif fate < member.punctual + (1 - member.punctual) / 2:  # half now, the rest later
                part = (total / 2).quantize(CENT)
                late = due + DAYS[rng.randrange(30, 75)]
                arrivals.append((due + DAYS[5], part, part, TRANSFER, f"Deel {invoice_id}"))
                arrivals.append((late, total - part, total - part, TRANSFER, f"Rest {invoice_id}"))
        outstanding = total
        ids = self.ids
        for day, amount, allocated, mode, reference in arrivals:
            if day > AS_OF:
                continue  # not arrived yet
            ids.payment += 1
            ids.allocation += 1
            number = ids.number(f"ACC-PAY-{day.year}-")
            tables["payment"].line(
                f"{ids.payment}\t{number}\tReceive\t{member.id}\t{day}\t{amount}\t"
                f"{amount - allocated}\t{mode}\t{reference}\t{day}\t1"
            )
            tables["payment_allocation"].line(
                f"{ids.allocation}\t{ids.payment}\t{invoice_id}\t{allocated}"
            )
            outstanding -= allocated
            member.paid += amount
            if member.last_payment is None or day > member.last_payment:
                member.last_payment = day
            if mode == SEPA:
                member.last_collection = day
        status = invoice_status(
            docstatus=DocStatus.SUBMITTED,
            is_return=False,
            grand_total=total,
            outstanding=outstanding,
            due_date=due,
            today=AS_OF,
        )
        number = ids.number(period.series)
        schedule = NULL if member.schedule_id is None else member.schedule_id
        tables["invoice"].line(
            f"{invoice_id}\t{number}\t{member.id}\t{member.id}\t{schedule}\t{period.posting}\t"
            f"{due}\t{period.start}\t{period.end or NULL}\t{total}\t{outstanding}\t"
            f"{status.value}\t1\tf"
        )
        tables["invoice_line"].line(
            f"{invoice_id}\t{invoice_id}\t1\t{period.description(member.kind.name)}\t1\t"
            f"{total}\t{total}"
        )
        member.invoice_count += 1
        member.invoiced += total
        member.outstanding += outstanding
        member.overdue_count += status == InvoiceStatus.OVERDUE

    # -- after the rows ------------------------------------------------------------------------

    def _continue_numbering(self, cursor: psycopg.Cursor[Any]) -> None:
        """Id sequences past the loaded ids; each naming series at its last number."""
        last_ids = {
            "customer": self.members,
            "member": self.members,
            "membership": self.members,
            "dues_schedule": self.ids.schedule,
            "sepa_mandate": self.ids.mandate,
            "invoice": self.ids.invoice,
            "invoice_line": self.ids.invoice,
            "payment": self.ids.payment,
            "payment_allocation": self.ids.allocation,
        }
        for table, last in last_ids.items():
            if last:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", (last,)
                )
        with cursor.copy("COPY naming_series (prefix, current) FROM STDIN") as copy:
            for prefix, current in self.ids.series.items():
                copy.write_row((prefix, current))


def _send(connection: psycopg.Connection[Any], tables: dict[str, CopyRows]) -> None:
    cursor = connection.cursor()
    for table in tables.values():
        table.send(cursor)
    connection.commit()


def _frequency(months: int) -> str:
    return {months_: period for period, months_ in PERIOD_MONTHS.items()}[months]
