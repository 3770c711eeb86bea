"""Take the README's screenshots of the pages: ``make screenshots``.

Starts ``verenigingen serve`` on a throw-away demo association (200 members, 12 months, seed 7)
on a free port of 127.0.0.1, signs in as the demo member in Debian's chromium (Playwright) and
saves PNGs next to this file: the sign-in page, the dashboard in English and in Dutch, the
dashboard on a phone's width, and the portal's other pages: the payment history, the invoices,
one invoice as it prints, the direct debit mandates (an IBAN mistyped, as the check shows it) and
the profile; then, signed in as the demo treasurer, the desk's members, a member's page, the
payment form, the jobs and the dues run; last, as the demo administrator, the performance page
with a real ``perf validate`` report (``tests/pages/assets``, 300 members on the development
machine) where the desk looks for one.
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
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
MEMBER, PASSWORD = "lid@example.org", "demo-vereniging-2026"
TREASURER = "penningmeester@example.org"
ADMINISTRATOR = "admin@example.org"
REPORT = HERE.parents[1] / "tests" / "pages" / "assets" / "validation_report.json"


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
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603
            [*run, "serve", "--port", str(port), "--no-worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"{url}/health", timeout=1)  # noqa: S310
                    break
                except OSError:
                    time.sleep(0.1)
            shoot(url)
        finally:
            server.terminate()
            server.wait(timeout=10)


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
    context.close()
    shoot_administrator_pages(browser, url)


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
