"""Password reset requests are rate-limited per address and per email: every request counts."""

from __future__ import annotations

import pytest
from conftest_pages import form_token, make_login, text_of
from limits.storage import MemoryStorage
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from verenigingen.auth.errors import TooManyResetRequests
from verenigingen.auth.models import Role
from verenigingen.auth.throttle import AuthThrottle, FailureLimit
from verenigingen.mail.models import OutboxMail

pytestmark = pytest.mark.usefixtures("frozen_today")


def ask_for_link(web, email: str):  # type: ignore[no-untyped-def]
    return web.post(
        "/password-reset", data={"email": email, "csrf_token": form_token(web, "/password-reset")}
    )


def mails_to(session: Session, email: str) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count()).select_from(OutboxMail).where(OutboxMail.to_address == email)
        )
        or 0
    )


def test_the_fourth_request_for_one_email_is_429_and_sends_nothing(browser, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert ask_for_link(browser(address), "lid@example.org").status_code == 200
    assert mails_to(session, "lid@example.org") == 3
    refused = ask_for_link(browser("192.0.2.4"), "Lid@Example.org ")
    assert refused.status_code == 429
    assert 3000 < int(refused.headers["retry-after"]) <= 3600
    text = text_of(refused.text)
    assert "Too many requests for a new password. Please wait" in text
    assert 'value="Lid@Example.org"' in refused.text  # what was typed is kept
    assert mails_to(session, "lid@example.org") == 3


def test_an_unknown_email_counts_the_same(browser, session) -> None:
    for _ in range(3):
        assert ask_for_link(browser(), "niemand@example.org").status_code == 200
    assert ask_for_link(browser(), "niemand@example.org").status_code == 429


def test_the_eleventh_request_from_one_address_is_429(browser, session) -> None:
    web = browser("198.51.100.20")
    for number in range(10):
        assert ask_for_link(web, f"lid{number}@example.org").status_code == 200
    refused = ask_for_link(web, "nog-een@example.org")
    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    assert ask_for_link(browser("198.51.100.21"), "nog-een@example.org").status_code == 200


def test_the_429_form_is_dutch(browser, session) -> None:
    web = browser("192.0.2.50", language="nl")
    for _ in range(3):
        ask_for_link(web, "lid@example.org")
    refused = ask_for_link(web, "lid@example.org")
    assert refused.status_code == 429
    assert "Te veel aanvragen voor een nieuw wachtwoord" in text_of(refused.text)


def test_an_empty_email_is_not_counted(browser, session) -> None:
    web = browser()
    for _ in range(12):
        assert ask_for_link(web, "  ").status_code == 422
    assert ask_for_link(web, "lid@example.org").status_code == 200


def test_the_throttle_counts_every_reset_request_and_not_sign_in_failures() -> None:
    throttle = AuthThrottle(
        MemoryStorage(),
        per_address=FailureLimit(10, 60),
        per_account=FailureLimit(5, 900),
        resets_per_address=FailureLimit(5, 600),
        resets_per_account=FailureLimit(2, 600),
    )
    throttle.count_reset_request("192.0.2.1", account="lid@example.org")
    throttle.count_reset_request("192.0.2.2", account="LID@example.org")
    with pytest.raises(TooManyResetRequests) as refused:
        throttle.count_reset_request("192.0.2.3", account="lid@example.org")
    assert refused.value.status_code == 429
    assert refused.value.code == "too_many_reset_requests"
    assert "password reset requests for this account" in str(refused.value)
    with throttle.counting_failures("192.0.2.1", account="lid@example.org"):
        pass  # a sign-in is not refused by the reset requests
