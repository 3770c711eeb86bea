"""Password reset by a one-time link: the mail in the outbox and the log, the link used once."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from conftest_pages import PASSWORD, form_token, make_login, sign_in, signed_in, text_of
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import PasswordReset, Role, User, WebSession
from verenigingen.auth.passwords import verify_password
from verenigingen.mail.models import OutboxMail

pytestmark = pytest.mark.usefixtures("frozen_today")
NEW_PASSWORD = "drie-losse-woorden-samen"


def ask_for_link(web, email: str):  # type: ignore[no-untyped-def]
    return web.post(
        "/password-reset", data={"email": email, "csrf_token": form_token(web, "/password-reset")}
    )


def link_in_outbox(session: Session, email: str) -> str:
    session.expire_all()
    mail = session.scalars(
        select(OutboxMail).where(OutboxMail.to_address == email).order_by(OutboxMail.id.desc())
    ).first()
    assert mail is not None
    found = re.search(r"http://127\.0\.0\.1:8000(/password-reset/\S+)", mail.body)
    assert found is not None, mail.body
    return found.group(1)


def test_a_link_is_mailed_and_logged_and_sets_a_new_password_once(browser, session, caplog) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    other_browser = signed_in(browser("198.51.100.9"), "lid@example.org")
    web = browser()
    with caplog.at_level(logging.WARNING, logger="verenigingen.mail.outbox"):
        asked = ask_for_link(web, "LID@example.org")
    assert asked.status_code == 200
    assert "a link to choose a new password is on its way" in text_of(asked.text)
    path = link_in_outbox(session, "lid@example.org")
    assert path in caplog.text  # no mail server configured: the log has the link
    form = web.get(path)
    assert form.status_code == 200
    assert form.headers["referrer-policy"] == "no-referrer"
    token = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', form.text)
    assert token is not None
    mismatch = web.post(
        path,
        data={"password": NEW_PASSWORD, "confirmation": "iets-anders-lang", "csrf_token": token[1]},
    )
    assert mismatch.status_code == 422
    assert "The two passwords are not the same." in text_of(mismatch.text)
    common = web.post(
        path,
        data={"password": "qwerty123456", "confirmation": "qwerty123456", "csrf_token": token[1]},
    )
    assert common.status_code == 422
    assert "one of the most common passwords" in text_of(common.text)
    session.expire_all()
    assert verify_password(PASSWORD, session.get(User, user.id).password_hash)  # type: ignore[union-attr]
    done = web.post(
        path, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": token[1]}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/sign-in"
    session.expire_all()
    assert verify_password(NEW_PASSWORD, session.get(User, user.id).password_hash)  # type: ignore[union-attr]
    # Every sign-in of the user ended; the link is used up.
    assert (
        session.scalar(select(func.count(WebSession.id)).where(WebSession.user_id == user.id)) == 0
    )
    assert other_browser.get("/portal").status_code == 303
    assert web.get(path).status_code == 410
    assert sign_in(web, "lid@example.org", NEW_PASSWORD).status_code == 303


def test_an_unknown_email_gets_the_same_answer_and_no_mail(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    known = ask_for_link(web, "lid@example.org")
    unknown = ask_for_link(web, "niemand@example.org")
    assert known.status_code == unknown.status_code == 200
    assert text_of(known.text).replace("lid@", "X@") == text_of(unknown.text).replace(
        "niemand@", "X@"
    )
    session.expire_all()
    assert session.scalar(select(func.count(OutboxMail.id))) == 1


def test_an_expired_or_unknown_link_does_not_work(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    ask_for_link(web, "lid@example.org")
    path = link_in_outbox(session, "lid@example.org")
    session.execute(update(PasswordReset).values(expires_at=clock.now() - dt.timedelta(seconds=1)))
    assert web.get(path).status_code == 410
    assert web.get("/password-reset/not-a-real-token").status_code == 410
    token = form_token(web)
    refused = web.post(
        path, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": token}
    )
    assert refused.status_code == 410


def test_a_newer_link_replaces_nothing_until_one_is_used(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    ask_for_link(web, "lid@example.org")
    first = link_in_outbox(session, "lid@example.org")
    ask_for_link(web, "lid@example.org")
    second = link_in_outbox(session, "lid@example.org")
    assert first != second
    token = form_token(web)
    used = web.post(
        second, data={"password": NEW_PASSWORD, "confirmation": NEW_PASSWORD, "csrf_token": token}
    )
    assert used.status_code == 303
    assert web.get(first).status_code == 410  # using one uses up every link of the user
