"""Browser tests: Playwright for Python driving Debian's chromium against a live server.

The server is the real app under uvicorn, in a thread of the test process, on a free port of
127.0.0.1, over a SQLite database of its own (a copy of the migrated template) with a member who
has a login and a ledger. Without ``/usr/bin/chromium`` the tests are skipped with the reason
(``make test`` and ``.ci/run`` install it); in CI (``CI`` set) a missing browser fails instead.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from contexts import context_on
from member_factories import make_active_member, make_type
from verenigingen.auth.models import Role
from verenigingen.auth.service import create_user
from verenigingen.billing.service.invoices import refresh_overdue
from verenigingen.db.engine import make_engine
from verenigingen.db.session import unit_of_work
from verenigingen.jobs.worker import Runtime, run_job
from verenigingen.members.models import BillingPeriod, Customer
from verenigingen.sepa.creditor import set_creditor
from verenigingen.sepa.schemas import CreditorIn, MandateCreate
from verenigingen.sepa.service import create_mandate
from verenigingen.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "history"))
from history_factories import bulk_ledger

AXE = Path(__file__).parent / "assets" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
PASSWORD = "lang-genoeg-wachtwoord"
MEMBER_EMAIL = "wouter@example.org"
OTHER_EMAIL = "anna@example.org"
SIGNING_EMAIL = "sanne@example.org"
"""A member without a mandate, who signs one."""
REVOKING_EMAIL = "bram@example.org"
"""A member with a mandate, who revokes it."""
PROFILE_EMAIL = "eva@example.org"
"""A member with a mandate, who changes its details and its account."""
PAYING_EMAIL = "daan@example.org"
"""A member with two invoices of 25.00 (one paid), whose payment a treasurer records."""
MANDATE_IBAN = "NL91ABNA0417164300"


@dataclass(frozen=True)
class LiveServer:
    url: str
    engine: Engine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(engine: Engine) -> None:
    """Wouter, a member since January on 12.50 a month, with four invoices of 25.00 since
    October (two paid, two overdue); Anna, another member with a login; Daan with two invoices
    (one open); Sanne without a mandate, Bram and Eva with one; the association's creditor
    settings; staff logins."""
    context = context_on(engine)
    with unit_of_work(context.sessions) as session:
        admin = create_user(session, "admin@example.org", Role.ADMINISTRATOR, password=PASSWORD)
        create_user(session, "penningmeester@example.org", Role.TREASURER, password=PASSWORD)
        monthly = make_type(session, period=BillingPeriod.MONTHLY, amount="12.50", name="Maand")
        ledgers = {MEMBER_EMAIL: 4, PAYING_EMAIL: 2}
        for email, first_name in (
            (MEMBER_EMAIL, "Wouter"),
            (OTHER_EMAIL, "Anna"),
            (PAYING_EMAIL, "Daan"),
        ):
            member, _membership, _schedule = make_active_member(
                session, admin, monthly, start=dt.date(2026, 1, 1), first_name=first_name
            )
            member.user_id = create_user(session, email, Role.MEMBER, password=PASSWORD).id
            if email in ledgers:
                customer = session.get(Customer, member.customer_id)
                assert customer is not None
                bulk_ledger(session, customer, member.id, ledgers[email], dt.date(2025, 10, 1))
        set_creditor(
            session,
            admin,
            CreditorIn(
                name="Vereniging De Eendracht",
                iban="NL44RABO0123456789",
                creditor_identifier="NL51ZZZ405365330000",
            ),
        )
        for email, first_name in (
            (SIGNING_EMAIL, "Sanne"),
            (REVOKING_EMAIL, "Bram"),
            (PROFILE_EMAIL, "Eva"),
        ):
            member, _membership, _schedule = make_active_member(
                session, admin, monthly, start=dt.date(2026, 1, 1), first_name=first_name
            )
            member.user_id = create_user(session, email, Role.MEMBER, password=PASSWORD).id
            if email != SIGNING_EMAIL:
                signed = MandateCreate(iban=MANDATE_IBAN, sign_date=dt.date(2026, 1, 15))
                create_mandate(session, admin, member.id, signed)
        for email in ("locked@example.org", "typo@example.org"):
            create_user(session, email, Role.MEMBER, password=PASSWORD)
        refresh_overdue(session, dt.date(2026, 3, 2))
    context.close()


@pytest.fixture(scope="session")
def live_server(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("live-server") / "verenigingen.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    _seed(engine)
    context = context_on(engine)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", engine)
    server.should_exit = True
    thread.join(timeout=10)
    context.close()


@pytest.fixture
def worker(live_server: LiveServer):  # type: ignore[no-untyped-def]
    """Runs a queued job as a worker process would, on the live server's database."""
    context = context_on(live_server.engine)
    runtime = Runtime(context.sessions, context.settings, worker_id="browser:1")

    def run(job_id: int) -> str:
        return run_job(runtime, job_id)

    yield run
    context.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install chromium (make test does, as root)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live_server: LiveServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) in English, on the live server."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    rules = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
    results = page.evaluate("rules => axe.run(document, {runOnly: rules})", rules)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(node["target"][0] for node in violation["nodes"])
        for violation in results["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def page_without_csp(chromium, live_server) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """A page whose Content-Security-Policy lets the test inject axe-core (ours would not)."""
    context = chromium.new_context(base_url=live_server.url, locale="en-GB", bypass_csp=True)
    yield context.new_page()
    context.close()
