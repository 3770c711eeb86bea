"""The portal in a real browser: signing in, the dashboard, the language, the refusals."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from conftest import MEMBER_EMAIL, OTHER_EMAIL, PASSWORD, serious_violations, sign_in


def test_a_member_signs_in_and_sees_its_own_dashboard(page: Page) -> None:
    sign_in(page, MEMBER_EMAIL)
    expect(page).to_have_url(re.compile(r"/portal$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Wouter")
    main = page.locator("main")
    expect(main).to_contain_text("€12.50 per month")
    expect(main).to_contain_text("€50.00")
    expect(main).to_contain_text("2 invoices overdue")
    expect(main).not_to_contain_text("Anna")


def test_a_wrong_password_shows_an_error_and_keeps_the_email(page: Page) -> None:
    sign_in(page, "typo@example.org", "niet-het-goede-wachtwoord")
    expect(page.get_by_role("alert")).to_contain_text(
        "The email address or the password is not right."
    )
    expect(page.get_by_label("Email address")).to_have_value("typo@example.org")
    expect(page.get_by_label("Password")).to_have_value("")


def test_the_sixth_wrong_password_gets_the_429_page(page: Page) -> None:
    for _attempt in range(5):
        sign_in(page, "locked@example.org", "niet-het-goede-wachtwoord")
        expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Email address").fill("locked@example.org")
    page.get_by_label("Password").fill("niet-het-goede-wachtwoord")
    with page.expect_response(lambda response: response.url.endswith("/sign-in")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 429
    assert int(answer.value.headers["retry-after"]) > 0
    expect(page.get_by_role("heading", level=1)).to_have_text("Too many attempts")


def test_a_forged_form_token_gets_the_403_page(page: Page) -> None:
    page.goto("/sign-in")
    page.locator("main input[name=csrf_token]").evaluate("input => { input.value = 'forged' }")
    page.locator("main").get_by_label("Email address").fill(MEMBER_EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda response: response.url.endswith("/sign-in")) as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")


def test_signing_out(page: Page) -> None:
    sign_in(page, MEMBER_EMAIL)
    expect(page).to_have_url(re.compile(r"/portal$"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/portal")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2Fportal$"))


def test_switching_to_dutch_shows_dutch_amounts(page: Page) -> None:
    sign_in(page, OTHER_EMAIL)
    expect(page.locator("main")).to_contain_text("€12.50 per month")
    page.get_by_label("Language").select_option("nl")
    page.get_by_role("button", name="Change").click()
    expect(page).to_have_url(re.compile(r"/portal$"))
    main = page.locator("main")
    expect(main).to_contain_text("€\u00a012,50 per maand")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welkom, Anna")
    expect(page.locator("html")).to_have_attribute("lang", "nl")


def test_a_keyboard_reaches_the_form_and_sees_where_it_is(page: Page) -> None:
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"


def test_no_serious_accessibility_violation_on_the_sign_in_page_and_dashboard(
    page_without_csp: Page,
) -> None:
    page = page_without_csp
    page.goto("/sign-in")
    assert serious_violations(page) == []
    sign_in(page, "typo@example.org", "niet-het-goede-wachtwoord")  # the form with its errors
    assert serious_violations(page) == []
    sign_in(page, MEMBER_EMAIL)
    expect(page).to_have_url(re.compile(r"/portal$"))
    assert serious_violations(page) == []


def test_the_api_docs_render_without_internet(page: Page) -> None:
    """Everything /docs and /redoc show comes from the app. ReDoc's sidebar asks for its maker's
    logo on their CDN whatever its options; the Content-Security-Policy stops that request."""
    fetched_outside: list[str] = []
    page.on(
        "requestfinished",
        lambda request: (
            fetched_outside.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    page.goto("/docs")
    expect(page.locator(".swagger-ui .title").first).to_contain_text("verenigingen")
    page.goto("/redoc")
    expect(page.locator("h1").first).to_contain_text("verenigingen")
    assert fetched_outside == []
