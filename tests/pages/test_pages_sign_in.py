"""Signing in and out through the pages: cookies, form tokens, the throttle, where one lands."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from urllib.parse import quote

import pytest
from conftest_pages import PASSWORD, form_token, make_login, sign_in, signed_in, text_of
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import Role, User, WebSession
from verenigingen.auth.passwords import needs_rehash, verify_password

pytestmark = pytest.mark.usefixtures("frozen_today")


def sessions_of(session: Session, user: User) -> int:
    session.expire_all()
    return session.scalar(select(func.count(WebSession.id)).where(WebSession.user_id == user.id))


def test_the_start_page_sends_a_visitor_to_sign_in(web) -> None:
    response = web.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"


def test_the_sign_in_page_has_a_form_token_cookie_and_strict_headers(web) -> None:
    page = web.get("/sign-in")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "same-origin"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("vrg_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    assert "<script>" not in page.text
    assert " style=" not in page.text
    assert '<label for="field-email">' in page.text
    assert '<label for="field-password">' in page.text


@pytest.mark.parametrize(("role", "home"), [(Role.MEMBER, "/portal"), (Role.TREASURER, "/desk")])
def test_signing_in_sets_a_session_cookie_and_lands_at_home(web, session, role, home) -> None:
    user = make_login(session, "someone@example.org", role)
    response = sign_in(web, "Someone@Example.org ", PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == home
    cookie = next(c for c in response.headers.get_list("set-cookie") if "vrg_session=" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Max-Age" not in cookie.split("vrg_session=")[1].split(",")[0]  # ends with the browser
    token = web.cookies["vrg_session"]
    stored = session.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash
    assert stored.expires_at == stored.created_at + dt.timedelta(minutes=120)
    assert web.get("/").headers["location"] == home


def test_the_cookie_is_secure_over_https(browser, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    client = browser()
    client.base_url = "https://testserver"  # type: ignore[assignment]
    response = sign_in(client, "lid@example.org")
    assert response.status_code == 303
    cookie = next(c for c in response.headers.get_list("set-cookie") if "vrg_session=" in c)
    assert "Secure" in cookie


def test_a_wrong_password_shows_an_error_and_keeps_the_email(web, session) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    for email in ("lid@example.org", "nobody@example.org"):  # the same answer for both
        response = sign_in(web, email, "niet-het-goede-wachtwoord")
        assert response.status_code == 401
        assert "The email address or the password is not right." in text_of(response.text)
        assert f'value="{email}"' in response.text
        assert "niet-het-goede-wachtwoord" not in response.text
        assert "vrg_session" not in web.cookies
    assert sessions_of(session, user) == 0


def test_empty_fields_are_field_errors(web) -> None:
    response = web.post("/sign-in", data={"csrf_token": form_token(web), "email": " "})
    assert response.status_code == 422
    text = text_of(response.text)
    assert "Enter your email address." in text
    assert "Enter your password." in text
    assert 'aria-invalid="true"' in response.text
    assert 'aria-describedby="error-email"' in response.text


def test_the_sixth_wrong_password_is_the_429_page(browser, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    web = browser()
    for _attempt in range(5):
        assert sign_in(web, "lid@example.org", "niet-het-goede-wachtwoord").status_code == 401
    refused = sign_in(web, "lid@example.org", "niet-het-goede-wachtwoord")
    assert refused.status_code == 429
    assert 800 <= int(refused.headers["retry-after"]) <= 900  # the account's 15 minutes
    assert "Too many attempts" in text_of(refused.text)
    assert refused.headers["content-type"].startswith("text/html")
    # Refused before the password is checked: the right one waits too, from any address.
    assert sign_in(browser("198.51.100.7"), "lid@example.org").status_code == 429


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_a_missing_or_forged_form_token_is_403_and_signs_no_one_in(web, session, token) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    form_token(web)  # the browser has a form cookie; the attacker's page cannot read it
    data = {"email": "lid@example.org", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = web.post("/sign-in", data=data)
    assert response.status_code == 403
    assert "This form has expired" in text_of(response.text)
    assert sessions_of(session, user) == 0


def test_a_token_from_another_browser_does_not_pass(browser, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    attacker_token = form_token(browser("203.0.113.5"))
    victim = browser()
    form_token(victim)
    response = victim.post(
        "/sign-in",
        data={"email": "lid@example.org", "password": PASSWORD, "csrf_token": attacker_token},
    )
    assert response.status_code == 403


def test_the_form_token_may_come_as_a_header_for_htmx(web, session) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]{64})"', web.get("/portal").text)
    assert token is not None
    response = web.post("/sign-out", headers={"X-CSRF-Token": token.group(1)})
    assert response.status_code == 303


def test_signing_out_ends_the_sign_in_on_the_server(web, session) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    copied = web.cookies["vrg_session"]
    forged = web.post("/sign-out", data={"csrf_token": "1" * 64})
    assert forged.status_code == 403
    assert sessions_of(session, user) == 1
    token = form_token(web, "/portal")
    response = web.post("/sign-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert sessions_of(session, user) == 0
    assert "You are signed out." in text_of(web.get("/sign-in").text)
    web.cookies.set("vrg_session", copied)  # a copy of the cookie is worth nothing now
    assert web.get("/portal").status_code == 303


@pytest.mark.parametrize(
    ("asked", "landing"),
    [
        ("/portal?tab=1", "/portal?tab=1"),
        ("//evil.example/portal", "/portal"),
        ("https://evil.example/", "/portal"),
        ("/\\evil.example", "/portal"),
        ("portal", "/portal"),
        ("/%0d%0aSet-Cookie:x=1", "/%0d%0aSet-Cookie:x=1"),  # stays a path of this site
    ],
)
def test_next_is_a_local_path_or_home(web, session, asked, landing) -> None:
    make_login(session, "lid@example.org", Role.MEMBER)
    response = sign_in(web, "lid@example.org", next=asked)
    assert response.status_code == 303
    assert response.headers["location"] == landing


def test_an_expired_sign_in_goes_to_the_sign_in_page_and_back(web, session) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    session.execute(
        update(WebSession)
        .where(WebSession.user_id == user.id)
        .values(expires_at=clock.now() - dt.timedelta(seconds=1))
    )
    response = web.get("/portal?view=all")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=" + quote("/portal?view=all", safe="")
    assert "vrg_session" not in web.cookies  # the dead cookie is cleared
    page = web.get(response.headers["location"])
    assert "Your session has ended. Please sign in again." in text_of(page.text)
    assert 'name="next" value="/portal?view=all"' in page.text
    back = sign_in(web, "lid@example.org", next="/portal?view=all")
    assert back.headers["location"] == "/portal?view=all"


def test_requests_move_the_idle_expiry_on_but_never_past_the_maximum(web, session) -> None:
    user = make_login(session, "treasurer@example.org", Role.TREASURER)
    signed_in(web, "treasurer@example.org")
    row = session.scalars(select(WebSession).where(WebSession.user_id == user.id)).one()
    almost_idle = clock.now() + dt.timedelta(minutes=5)
    session.execute(
        update(WebSession).where(WebSession.id == row.id).values(expires_at=almost_idle)
    )
    assert web.get("/desk").status_code == 200
    session.expire_all()
    moved = session.get(WebSession, row.id)
    assert moved is not None
    assert moved.expires_at > almost_idle + dt.timedelta(minutes=100)
    started_long_ago = clock.now() - dt.timedelta(hours=23)
    session.execute(
        update(WebSession)
        .where(WebSession.id == row.id)
        .values(created_at=started_long_ago, expires_at=almost_idle)
    )
    assert web.get("/desk").status_code == 200
    session.expire_all()
    capped = session.get(WebSession, row.id)
    assert capped is not None
    assert capped.expires_at == started_long_ago + dt.timedelta(hours=24)


def test_a_disabled_user_is_signed_out_at_its_next_request(web, session) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    signed_in(web, "lid@example.org")
    user.enabled = False
    session.flush()
    assert web.get("/portal").headers["location"].startswith("/sign-in")


def test_an_older_scrypt_hash_is_checked_and_replaced_by_argon2(web, session) -> None:
    user = make_login(session, "lid@example.org", Role.MEMBER)
    # scrypt of PASSWORD as the earlier versions stored it (n=2**14, r=8, p=1)
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    import base64

    user.password_hash = "$".join(
        [
            "scrypt",
            "16384",
            "8",
            "1",
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )
    session.flush()
    assert sign_in(web, "lid@example.org").status_code == 303
    session.expire_all()
    stored = session.get(User, user.id).password_hash  # type: ignore[union-attr]
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert verify_password(PASSWORD, stored)
    assert not needs_rehash(stored)


def test_a_signed_in_user_on_the_sign_in_page_goes_on(web, session) -> None:
    make_login(session, "treasurer@example.org", Role.TREASURER)
    signed_in(web, "treasurer@example.org")
    assert web.get("/sign-in").headers["location"] == "/desk"
    assert web.get("/sign-in?next=//evil.example").headers["location"] == "/desk"
    assert web.get("/sign-in?next=/desk?x=1").headers["location"] == "/desk?x=1"


@pytest.mark.parametrize("asked", ["//evil.example", "https://evil.example/x", ""])
def test_the_language_form_goes_back_to_a_local_path_only(web, asked) -> None:
    response = web.post(
        "/language", data={"language": "nl", "next": asked, "csrf_token": form_token(web)}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    cookie = next(c for c in response.headers.get_list("set-cookie") if "vrg_lang=" in c)
    assert cookie.startswith("vrg_lang=nl;")
    assert "HttpOnly" in cookie


def test_form_fields_past_their_length_are_refused(web) -> None:
    response = web.post(
        "/sign-in",
        data={"email": "x" * 300 + "@example.org", "password": "p", "csrf_token": form_token(web)},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
