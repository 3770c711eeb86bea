"""The portal dashboard's server time and statements on the demo association, beside the same
data read through the JSON API; then every portal page's.

    .venv/bin/python bench/pages.py [--members 2000] [--months 24] [--runs 200]

A demo association (``verenigingen demo``'s generator, seed 7) is loaded into a throw-away SQLite
database; the demo member ``lid@example.org`` signs in through the sign-in form, as a browser
does. Then, interleaved, each run:

- ``GET /portal``: the dashboard page (the sign-in's statement, the overview's two or three,
  the template rendered in the member's language);
- the JSON API for the same figures: ``GET /api/v1/members/{id}``, ``/api/v1/memberships?
  member_id={id}`` and ``/api/v1/members/{id}/financial-summary`` with a bearer token (three
  requests; the API has no single request for them). The next invoice date is not in the API.

Then each portal page in turn, interleaved the same way: the dashboard, the payment history, the
invoices, one invoice (the newest), the direct debit mandates, the IBAN check the mandate form
asks while an IBAN is typed, the background jobs, the notifications and the profile (the
association's creditor settings are set first, so that the mandate form shows).

Times are the server's: the ASGI app called in process through Starlette's test client (routing,
dependencies, the database, rendering, the response), no network and no browser. Medians and
the 90th percentiles over the runs; statement counts from ``perf.capture`` (exact, the same every
run). The issue's goal for a portal page: at most 15 ms median and 8 statements.

Last, each desk page, interleaved the same way (``--desk-only`` skips the portal's parts): the
treasurer's landing page, the members list (first page, a search by name, one by the end of an
IBAN, the list's last page by its keyset cursor), the demo member's page, the invoices (all, the
Overdue ones), the payments, the payment form for the demo member, an administrator's jobs
list (everyone's jobs), the dues run's page and an administrator's performance page (without a
validation report: the bench's data directory has none), the SEPA and bank pages, the demo
member's newest settled invoice and the payment that settles it, and the treasurer's
notifications (the bench gives it 100, half of them read) with the menu's unread count, and,
as the administrator, the applications waiting (the demo keeps three), the menu's count of
them, the oldest one's page with its forms, the terminated members (the demo's leavers) and the
demo member's termination form. The
issue's goal for a desk page: at most 50 ms median on a 10,000-member association
(``--members 10000``), no page's cost growing with the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.app_context import AppContext
from verenigingen.auth.models import User
from verenigingen.auth.service import issue_token
from verenigingen.billing.models import Invoice, PaymentAllocation
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.migrate import upgrade
from verenigingen.db.paging import count_rows
from verenigingen.db.session import unit_of_work
from verenigingen.demo.generator import DEMO_USERS, DemoOptions, load_demo
from verenigingen.demo.sign_in import (
    DEMO_ADMINISTRATOR,
    DEMO_MEMBER,
    DEMO_PASSWORD,
    give_demo_passwords,
)
from verenigingen.jobs.models import Notification
from verenigingen.members.models import Member, MemberStatus
from verenigingen.members.search import SEARCH_ORDER
from verenigingen.perf.capture import capture
from verenigingen.sepa.batches import create_batch
from verenigingen.sepa.checks import check_batch
from verenigingen.sepa.creditor import required_creditor, set_creditor
from verenigingen.sepa.schemas import CreditorIn
from verenigingen.sepa.target2 import earliest_collection_date
from verenigingen.startup import load_all
from verenigingen.web.app import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

DEMO_TREASURER = next(email for email, role, _name in DEMO_USERS if role == "Treasurer")
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def timed(call: Callable[[], int]) -> tuple[float, int]:
    """Milliseconds and statements of one call (which returns its HTTP status)."""
    with capture(detail=False) as log:
        started = time.perf_counter()
        status = call()
        elapsed = (time.perf_counter() - started) * 1000
    assert status == 200, status
    return elapsed, log.count


def describe(name: str, times: list[float], statements: set[int]) -> str:
    ordered = sorted(times)
    p90 = ordered[int(len(ordered) * 0.9) - 1]
    counts = ", ".join(str(count) for count in sorted(statements))
    return f"{name:<58} {statistics.median(times):8.2f} {p90:8.2f} {counts:>11}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--desk-only", action="store_true", help="measure the desk's pages only")
    args = parser.parse_args()
    # Starlette's test client still runs on httpx and says so on import.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as data_dir:
        settings = Settings(data_dir=Path(data_dir), redis_url=None, database_url=None)
        load_all(settings)
        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)
        context = AppContext.build(settings, database=engine)
        started = time.perf_counter()
        load_demo(context.sessions, DemoOptions(members=args.members, months=args.months, seed=7))
        print(
            f"demo association: {args.members} members, {args.months} months "
            f"(loaded in {time.perf_counter() - started:.1f} s), SQLite"
        )
        with unit_of_work(context.sessions) as session:
            give_demo_passwords(session)
            login = session.scalars(select(User).where(User.email == DEMO_MEMBER)).one()
            member_id = session.scalars(select(Member.id).where(Member.user_id == login.id)).one()
            token = issue_token(session, login, label="bench")
            newest_invoice = session.scalars(
                select(Invoice.id)
                .join(Member, Member.customer_id == Invoice.customer_id)
                .where(Member.id == member_id)
                .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
                .limit(1)
            ).one()
            administrator = session.scalars(
                select(User).where(User.email == DEMO_ADMINISTRATOR)
            ).one()
            creditor = CreditorIn(
                name="Vereniging De Eendracht",
                iban="NL44RABO0123456789",
                creditor_identifier="NL51ZZZ405365330000",
            )
            set_creditor(session, administrator, creditor)
        app = create_app(context)
        desk = desk_setup(context, app)

        browser = TestClient(app, headers={"accept": "text/html", "accept-language": "nl"})
        form = TOKEN.search(browser.get("/sign-in").text)
        assert form is not None
        signed_in = browser.post(
            "/sign-in",
            data={"email": DEMO_MEMBER, "password": DEMO_PASSWORD, "csrf_token": form.group(1)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        api = TestClient(app, headers={"authorization": f"Bearer {token}"})
        api_templates = [
            "/api/v1/members/{id}",
            "/api/v1/memberships?member_id={id}",
            "/api/v1/members/{id}/financial-summary",
        ]
        shown = {template.format(id=member_id): template for template in api_templates}
        api_paths = list(shown)

        def dashboard() -> int:
            return browser.get("/portal").status_code

        def api_call(path: str) -> Callable[[], int]:
            return lambda: api.get(path).status_code

        if args.desk_only:
            desk_pages(desk, args.runs)
            context.close()
            return
        for _warm_up in range(20):
            dashboard()
            for path in api_paths:
                api_call(path)()

        page_times: list[float] = []
        page_statements: set[int] = set()
        api_times: dict[str, list[float]] = {path: [] for path in api_paths}
        api_statements: dict[str, set[int]] = {path: set() for path in api_paths}
        api_totals: list[float] = []
        for _run in range(args.runs):
            elapsed, count = timed(dashboard)
            page_times.append(elapsed)
            page_statements.add(count)
            total = 0.0
            for path in api_paths:
                elapsed, count = timed(api_call(path))
                api_times[path].append(elapsed)
                api_statements[path].add(count)
                total += elapsed
            api_totals.append(total)

        print(f"\n{args.runs} runs, interleaved; milliseconds of server time")
        print(f"{'':<58} {'median':>8} {'p90':>8} {'statements':>11}")
        print(describe("GET /portal (page, Dutch)", page_times, page_statements))
        for path in api_paths:
            print(describe(f"API {shown[path]}", api_times[path], api_statements[path]))
        total_statements = {sum(min(counts) for counts in api_statements.values())}
        print(describe("API, the three requests together", api_totals, total_statements))
        ratio = statistics.median(page_times) / statistics.median(api_totals)
        print(f"\npage / the API's three requests (medians): {ratio:.2f}")
        print("goal: a portal page at most 15 ms median and 8 statements")
        portal_pages(browser, newest_invoice, args.runs)
        desk_pages(desk, args.runs)
        context.close()


PORTAL_PAGES = (
    "/portal",
    "/portal/history",
    "/portal/invoices",
    "/portal/invoices/{invoice}",
    "/portal/mandates",
    "/portal/mandates/iban-check?iban=NL91ABNA0417164300",
    "/portal/jobs",
    "/portal/notifications",
    "/portal/profile",
)


def signed_in_browser(app: FastAPI, email: str) -> TestClient:
    """A browser (Dutch) signed in as ``email`` through the sign-in form."""
    from fastapi.testclient import TestClient

    browser = TestClient(app, headers={"accept": "text/html", "accept-language": "nl"})
    form = TOKEN.search(browser.get("/sign-in").text)
    assert form is not None
    signed_in = browser.post(
        "/sign-in",
        data={"email": email, "password": DEMO_PASSWORD, "csrf_token": form.group(1)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    return browser


@dataclass(frozen=True)
class Desk:
    treasurer: TestClient
    administrator: TestClient
    paths: list[tuple[str, str]]
    """(path, what it shows) of each desk page measured."""


def desk_setup(context: AppContext, app: FastAPI) -> Desk:
    """The desk's pages to measure, on the demo member and the list's last page."""
    with unit_of_work(context.sessions) as session:
        member = session.scalars(
            select(Member).join(User, User.id == Member.user_id).where(User.email == DEMO_MEMBER)
        ).one()
        with_iban = session.scalars(
            select(Member).where(Member.iban.is_not(None)).order_by(Member.id).limit(1)
        ).one()
        near_the_end = (
            select(Member)
            .order_by(Member.last_name.desc(), Member.first_name.desc(), Member.id.desc())
            .offset(10)
            .limit(1)
        )
        last = session.scalars(near_the_end).one()
        last_cursor = SEARCH_ORDER.encode([last.last_name, last.first_name, last.id])
        name = member.last_name
        iban_tail = (with_iban.iban or "")[-4:]
        member_id = member.id
        batch_id, entries = sepa_batch(session)
        application_id, waiting, terminated = membership_work(session)
        invoice_id, payment_id = settled_invoice(session, member)
        notifications = treasurer_notifications(session, DESK_NOTIFICATIONS)
    paths = [
        ("/desk", "/desk"),
        ("/desk/members", "/desk/members (first page)"),
        (f"/desk/members?q={name}", "/desk/members?q={a last name}"),
        (f"/desk/members?q={iban_tail}", "/desk/members?q={an IBAN's last four}"),
        (f"/desk/members?after={last_cursor}", "/desk/members?after={the last page}"),
        (f"/desk/members/{member_id}", "/desk/members/{id}"),
        ("/desk/invoices", "/desk/invoices"),
        ("/desk/invoices?status=Overdue", "/desk/invoices?status=Overdue"),
        ("/desk/payments", "/desk/payments"),
        (f"/desk/payments/new?member_id={member_id}", "/desk/payments/new?member_id={id}"),
        ("/desk/jobs", "/desk/jobs (an administrator: everyone's)"),
        ("/desk/dues", "/desk/dues (the form and the latest runs)"),
        ("/desk/performance", "/desk/performance (an administrator; no report)"),
        (
            "/desk/performance/indexes/ixm_invoice_customer_status_posting/add",
            "/desk/performance/indexes/{name}/add (the confirmation)",
        ),
        ("/desk/sepa/batches", "/desk/sepa/batches (the form and every batch)"),
        ("/desk/sepa/retries", "/desk/sepa/retries"),
        ("/desk/bank", "/desk/bank (the import form and the statements)"),
        ("/desk/bank/review", "/desk/bank/review (lines with their candidates)"),
        ("/desk/sepa/creditor", "/desk/sepa/creditor"),
        (f"/desk/sepa/batches/{batch_id}", f"/desk/sepa/batches/{{id}} ({entries} entries)"),
        (f"/desk/sepa/batches/{batch_id}/checks", "/desk/sepa/batches/{id}/checks (stored)"),
        (f"/desk/invoices/{invoice_id}", "/desk/invoices/{id} (settled by a payment)"),
        (f"/desk/payments/{payment_id}", "/desk/payments/{id} (the payment settling it)"),
        ("/desk/notifications", f"/desk/notifications (first page of {notifications})"),
        ("/desk/notifications/unread", "/desk/notifications/unread (the menu's count)"),
        ("/desk/applications", f"/desk/applications ({waiting} waiting)"),
        ("/desk/applications/waiting", "/desk/applications/waiting (the menu's count)"),
        (f"/desk/applications/{application_id}", "/desk/applications/{id} (the forms)"),
        ("/desk/terminations", f"/desk/terminations (first page of {terminated})"),
        (f"/desk/members/{member_id}/terminate", "/desk/members/{id}/terminate (the form)"),
    ]
    return Desk(
        signed_in_browser(app, DEMO_TREASURER),
        signed_in_browser(app, DEMO_ADMINISTRATOR),
        paths,
    )


def sepa_batch(session: Session) -> tuple[int, int]:
    """A Draft batch of every collectable invoice of the demo's mandates, for the first date the
    creditor allows: (its id, its entries)."""
    treasurer = session.scalars(select(User).where(User.email == DEMO_TREASURER)).one()
    creditor = required_creditor(session)
    day = earliest_collection_date(clock.now(), creditor.cutoff_time, creditor.lead_days)
    batch = create_batch(session, treasurer, day)
    # The file's checks, as the job the desk queues with a batch runs them (stored on the batch
    # for its checks page to read): three times, the median printed.
    times = []
    for _run in range(3):
        started = time.perf_counter()
        stored = check_batch(session, treasurer, batch.id)
        times.append((time.perf_counter() - started) * 1000)
    print(
        f"the batch's checks (the sepa.check_batch job, once per batch): {batch.entry_count} "
        f"entries, {stored.error_count} errors, {statistics.median(times):.2f} ms median of 3"
    )
    return batch.id, batch.entry_count


DESK_NOTIFICATIONS = 100
"""Notifications the bench gives the treasurer (half read), as long work would leave them."""


def settled_invoice(session: Session, member: Member) -> tuple[int, int]:
    """The demo member's newest invoice that a payment settles, and that payment: (ids)."""
    newest = session.execute(
        select(Invoice.id, PaymentAllocation.payment_id)
        .join(PaymentAllocation, PaymentAllocation.invoice_id == Invoice.id)
        .where(Invoice.customer_id == member.customer_id)
        .order_by(Invoice.posting_date.desc(), Invoice.id.desc())
        .limit(1)
    ).one()
    return newest.id, newest.payment_id


def treasurer_notifications(session: Session, count: int) -> int:
    """``count`` notifications for the demo treasurer, a minute apart, every other one read."""
    treasurer = session.scalars(select(User).where(User.email == DEMO_TREASURER)).one()
    start = clock.now() - dt.timedelta(days=7)
    session.execute(
        insert(Notification),
        [
            {
                "user_id": treasurer.id,
                "subject": f"Job completed: dues.generate #{number}",
                "message": "Job 'dues.generate' completed successfully",
                "indicator": "green",
                "created_at": start + dt.timedelta(minutes=number),
                "read_at": start if number % 2 else None,
            }
            for number in range(count)
        ],
    )
    return count


ADMINISTRATOR_PAGES = (
    "/desk/jobs",
    "/desk/performance",
    "/desk/applications",
    "/desk/terminations",
)
"""Pages measured as the administrator: everyone's jobs, and the membership pages with their
forms (a treasurer reads the applications without them and may not terminate)."""


def membership_work(session: Session) -> tuple[int, int, int]:
    """The oldest open application, how many wait (the demo keeps its last month's newest
    three) and how many members were terminated (the demo's leavers)."""
    pending = select(Member.id).where(Member.status == MemberStatus.PENDING)
    oldest = session.scalars(pending.order_by(Member.id).limit(1)).one()
    waiting = count_rows(session, pending)
    terminated = count_rows(
        session, select(Member.id).where(Member.status == MemberStatus.TERMINATED)
    )
    return oldest, waiting, terminated


def desk_pages(desk: Desk, runs: int) -> None:
    """Every desk page's server time and statements, the pages interleaved run by run."""

    def page(path: str) -> Callable[[], int]:
        as_administrator = path.startswith(ADMINISTRATOR_PAGES) or path.endswith("/terminate")
        browser = desk.administrator if as_administrator else desk.treasurer
        return lambda: browser.get(path).status_code

    paths = [path for path, _shown in desk.paths]
    for _warm_up in range(20):
        for path in paths:
            page(path)()
    times: dict[str, list[float]] = {path: [] for path in paths}
    statements: dict[str, set[int]] = {path: set() for path in paths}
    for _run in range(runs):
        for path in paths:
            elapsed, count = timed(page(path))
            times[path].append(elapsed)
            statements[path].add(count)
    print(f"\nevery desk page, {runs} runs interleaved (Dutch); milliseconds of server time")
    print(f"{'':<58} {'median':>8} {'p90':>8} {'statements':>11}  goal")
    for path, shown in desk.paths:
        met = statistics.median(times[path]) <= 50
        line = describe(f"GET {shown}", times[path], statements[path])
        print(f"{line}  {'met' if met else 'NOT MET'}")


def portal_pages(browser: TestClient, invoice_id: int, runs: int) -> None:
    """Every portal page's server time and statements, the pages interleaved run by run."""
    paths = [path.format(invoice=invoice_id) for path in PORTAL_PAGES]
    shown = dict(zip(paths, PORTAL_PAGES, strict=True))

    def page(path: str) -> Callable[[], int]:
        return lambda: browser.get(path).status_code

    for _warm_up in range(20):
        for path in paths:
            page(path)()
    times: dict[str, list[float]] = {path: [] for path in paths}
    statements: dict[str, set[int]] = {path: set() for path in paths}
    for _run in range(runs):
        for path in paths:
            elapsed, count = timed(page(path))
            times[path].append(elapsed)
            statements[path].add(count)
    print(f"\nevery portal page, {runs} runs interleaved (Dutch); milliseconds of server time")
    print(f"{'':<58} {'median':>8} {'p90':>8} {'statements':>11}  goal")
    for path in paths:
        met = statistics.median(times[path]) <= 15 and max(statements[path]) <= 8
        line = describe(f"GET {shown[path]}", times[path], statements[path])
        print(f"{line}  {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
