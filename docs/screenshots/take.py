"""Take the README's screenshots of the pages: ``make screenshots``.

Starts ``verenigingen serve`` on a throw-away demo association (200 members, 12 months, seed 7)
on a free port of 127.0.0.1, signs in as the demo member in Debian's chromium (Playwright) and
saves PNGs next to this file: the sign-in page, the dashboard in English and in Dutch, the
dashboard on a phone's width, and the portal's other pages: the payment history, the invoices,
one invoice as it prints, the direct debit mandates (an IBAN mistyped, as the check shows it) and
the profile; then, signed in as the demo treasurer, the desk's members, a member's page, the
payment form, the jobs, the dues run, the SEPA pages (the batches, a batch with its entries and
its stored checks, the creditor settings) and the bank pages (the statements, the lines to review
with their candidates); last, as the demo administrator, the performance page with a real ``perf
validate`` report (``tests/pages/assets``, 300 members on the development machine) where the desk
looks for one.

Before the server starts, the association gets what the SEPA and bank pages show, through the
services the desk and the jobs use: a statement of credits paying part of a few open invoices
(imported and reconciled: they wait for review, each with its candidates), then a Draft batch
of the invoices left to collect by direct debit, and its checks as the job stores them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.bank.reconcile import reconcile_open_lines
from verenigingen.bank.service import add_account, import_statement_file
from verenigingen.billing.models import DocStatus, Invoice
from verenigingen.config import Settings
from verenigingen.db.engine import make_engine
from verenigingen.db.session import make_session_factory, unit_of_work
from verenigingen.members.models import Member, PaymentMethod
from verenigingen.sepa.batches import create_batch
from verenigingen.sepa.checks import check_batch
from verenigingen.sepa.creditor import required_creditor
from verenigingen.sepa.target2 import earliest_collection_date

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
MEMBER, PASSWORD = "lid@example.org", "demo-vereniging-2026"
TREASURER = "penningmeester@example.org"
ADMINISTRATOR = "admin@example.org"
REPORT = HERE.parents[1] / "tests" / "pages" / "assets" / "validation_report.json"
ACCOUNT = "NL20INGB0001234567"
"""The association's own account, that the statement is of."""
REVIEWED_CREDITS = 4
SERVER_WAIT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "VERENIGINGEN_DATA_DIR": data_dir}
        env.pop("VERENIGINGEN_DATABASE_URL", None)
        env.pop("VERENIGINGEN_REDIS_URL", None)
        run = [str(BIN / "verenigingen")]
        subprocess.run([*run, "init"], env=env, check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [*run, "demo", "--members", "200", "--months", "12", "--end", "2026-12-01"],
            env=env,
            check=True,
            capture_output=True,
        )
        (Path(data_dir) / "validation").mkdir()
        shutil.copy(REPORT, Path(data_dir) / "validation" / REPORT.name)
        creditor = ["--name", "Vereniging De Eendracht", "--iban", "NL44RABO0123456789"]
        subprocess.run(  # noqa: S603
            [*run, "sepa", "creditor", "set", *creditor, "--creditor-id", "NL51ZZZ405365330000"],
            env=env,
            check=True,
            capture_output=True,
        )
        money_in_and_out(Path(data_dir))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603
            [*run, "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(url, server)
            shoot(url)
        finally:
            server.terminate()
            server.wait(timeout=10)


def wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    """Until ``/health`` answers, at most :data:`SERVER_WAIT_SECONDS` (a busy machine starts
    the server slowly); a server that exits or never answers stops the script saying so."""
    deadline = time.monotonic() + SERVER_WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it answered")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit(f"the server did not answer {url}/health within {SERVER_WAIT_SECONDS} s")


def money_in_and_out(data_dir: Path) -> None:
    """A statement paying part of a few open invoices (in review with their candidates), then a
    Draft batch of what is left to collect, with its checks stored as the job stores them."""
    engine = make_engine(Settings(data_dir=data_dir).resolved_database_url())
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            treasurer = session.scalars(select(User).where(User.email == TREASURER)).one()
            add_account(session, treasurer, ACCOUNT, name="Betaalrekening")
            import_statement_file(session, treasurer, statement(session))
            reconcile_open_lines(session, treasurer)
            creditor = required_creditor(session)
            day = earliest_collection_date(clock.now(), creditor.cutoff_time, creditor.lead_days)
            batch = create_batch(session, treasurer, day)
            check_batch(session, treasurer, batch.id)
    finally:
        engine.dispose()


def statement(session: Session) -> bytes:
    """A camt.053 of credits that each pay half of an open invoice of a member who pays by
    transfer, the invoice's number in the remittance: too little to settle it alone."""
    rows = session.execute(
        select(Invoice.number, Invoice.outstanding_amount, Member.first_name, Member.last_name)
        .join(Member, Member.id == Invoice.member_id)
        .where(
            Invoice.docstatus == DocStatus.SUBMITTED,
            Invoice.is_return.is_(False),
            Invoice.outstanding_amount > 0,
            Member.payment_method != PaymentMethod.SEPA_DIRECT_DEBIT,
        )
        .order_by(Invoice.id.desc())
        .limit(REVIEWED_CREDITS)
    ).all()
    day = clock.today().isoformat()
    credits = [
        ((row.outstanding_amount / 2).quantize(Decimal("0.01")),
         f"{row.first_name} {row.last_name}", f"Contributie {row.number}")
        for row in rows
    ]  # fmt: skip
    total = sum((amount for amount, _, _ in credits), Decimal("0.00"))
    entries = "".join(
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{day}</Dt></BookgDt><AcctSvcrRef>SHOT-{n}</AcctSvcrRef><NtryDtls><TxDtls>"
        f"<RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for n, (amount, name, remittance) in enumerate(credits)
    )
    balance = (
        '<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">{amount}</Amt>'
        "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
    )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        f"<Stmt><Id>SHOT-{day}</Id><Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        + balance.format(code="OPBD", amount="1000.00", day=day)
        + balance.format(code="CLBD", amount=Decimal("1000.00") + total, day=day)
        + f"{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def shoot(url: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        desktop = browser.new_context(
            base_url=url, locale="en-GB", viewport={"width": 1100, "height": 640}
        )
        page = desktop.new_page()
        page.goto("/sign-in")
        page.get_by_label("Email address").fill(MEMBER)
        page.screenshot(path=HERE / "sign-in.png")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/portal")
        page.screenshot(path=HERE / "dashboard.png")
        shoot_portal_pages(page)
        page.goto("/portal")
        page.get_by_label("Language").select_option("nl")
        page.get_by_role("button", name="Change").click()
        page.wait_for_url("**/portal")
        page.screenshot(path=HERE / "dashboard-nl.png")
        phone = browser.new_context(
            base_url=url,
            locale="nl-NL",
            viewport={"width": 390, "height": 844},
            device_scale_factor=1,
            storage_state=desktop.storage_state(),
        )
        phone.new_page().goto("/portal")
        phone.pages[0].screenshot(path=HERE / "dashboard-phone.png", full_page=True)
        shoot_desk_pages(browser, url)
        browser.close()


def shoot_portal_pages(page: Page) -> None:
    """The portal's pages after the dashboard, in English."""
    page.goto("/portal/history")
    page.screenshot(path=HERE / "history.png")
    page.goto("/portal/invoices")
    page.screenshot(path=HERE / "invoices.png")
    page.locator("table.listing tbody tr a").first.click()
    page.emulate_media(media="print")
    page.screenshot(path=HERE / "invoice-print.png")
    page.emulate_media(media="screen")
    page.goto("/portal/mandates")
    page.get_by_label("IBAN").fill("NL91 ABNA 0417 1643 01")
    page.locator("#iban-check .field-error").wait_for()
    page.screenshot(path=HERE / "mandates.png", full_page=True)
    page.goto("/portal/profile")
    page.screenshot(path=HERE / "profile.png", full_page=True)


def shoot_desk_pages(browser: Browser, url: str) -> None:
    """The desk as the demo treasurer sees it, in English: the members searched, a member's
    page, the payment form for that member, the jobs."""
    context = browser.new_context(
        base_url=url, locale="en-GB", viewport={"width": 1100, "height": 640}
    )
    page = context.new_page()
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(TREASURER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/desk")
    page.goto("/desk/members?status=Active")
    page.screenshot(path=HERE / "desk-members.png")
    page.locator("table.members tbody tr a").first.click()
    page.screenshot(path=HERE / "desk-member.png", full_page=True)
    member_page = page.url
    page.goto(member_page.replace("/desk/members/", "/desk/payments/new?member_id="))
    page.screenshot(path=HERE / "desk-payment.png", full_page=True)
    page.goto("/desk/jobs")
    page.screenshot(path=HERE / "desk-jobs.png")
    page.goto("/desk/dues")
    page.screenshot(path=HERE / "desk-dues.png")
    shoot_money_pages(page)
    context.close()
    shoot_administrator_pages(browser, url)


def shoot_money_pages(page: Page) -> None:
    """The SEPA and bank pages as the treasurer sees them: the batches, the batch with its
    entries and its checks (loaded after the page), the creditor settings, the statements and
    the lines to review with their candidates."""
    page.goto("/desk/sepa/batches")
    page.screenshot(path=HERE / "desk-sepa-batches.png", full_page=True)
    page.locator("table.sepa-batches tbody tr a").first.click()
    page.locator("[data-checks]").wait_for()
    # The batch, its checks and the first of its entries (a page of 25 is long).
    top = {"x": 0, "y": 0, "width": 1100, "height": 1200}
    page.screenshot(path=HERE / "desk-sepa-batch.png", full_page=True, clip=top)
    page.goto("/desk/sepa/creditor")
    page.screenshot(path=HERE / "desk-sepa-creditor.png", full_page=True)
    page.goto("/desk/bank")
    page.screenshot(path=HERE / "desk-bank.png", full_page=True)
    page.goto("/desk/bank/review")
    page.screenshot(path=HERE / "desk-bank-review.png", full_page=True)


def shoot_administrator_pages(browser: Browser, url: str) -> None:
    """The performance page as the demo administrator sees it, its validation report shown."""
    context = browser.new_context(
        base_url=url, locale="en-GB", viewport={"width": 1100, "height": 640}
    )
    page = context.new_page()
    page.goto("/sign-in")
    page.get_by_label("Email address").fill(ADMINISTRATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/desk")
    page.goto("/desk/performance")
    page.screenshot(path=HERE / "desk-performance.png", full_page=True)
    context.close()


if __name__ == "__main__":
    main()
