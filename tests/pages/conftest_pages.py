"""Page tests: a browser-like client (Accept: text/html, English) on an app that runs every
request in a savepoint of the test's transaction, and helpers to sign in through the form."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session

from contexts import savepoint_sessions
from verenigingen.app_context import context_of
from verenigingen.auth.models import Role, User
from verenigingen.auth.service import create_user
from verenigingen.web.app import create_app

PASSWORD = "lang-genoeg-wachtwoord"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@pytest.fixture
def pages_app(session: Session) -> FastAPI:
    return create_app(context_of(session), session_factory=savepoint_sessions(session))


BrowserFactory = Callable[..., TestClient]


@pytest.fixture
def browser(pages_app: FastAPI) -> Iterator[BrowserFactory]:
    """``browser(address="192.0.2.10", language="en")``: a client as a browser sends requests:
    asking for HTML, in ``language``, keeping cookies, not following redirects."""
    clients: list[TestClient] = []

    def make(address: str = "192.0.2.10", language: str = "en") -> TestClient:
        client = TestClient(
            pages_app,
            client=(address, 50000),
            headers={"accept": "text/html,application/xhtml+xml", "accept-language": language},
            follow_redirects=False,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def web(browser: BrowserFactory) -> TestClient:
    return browser()


def form_token(client: TestClient, path: str = "/sign-in") -> str:
    """The form token of the page at ``path`` (a GET, which sets the form cookie if needed;
    an error page has one too, for its sign-out and language forms)."""
    page = client.get(path)
    match = TOKEN.search(page.text)
    assert match is not None, page.text
    return match.group(1)


def sign_in(
    client: TestClient, email: str, password: str = PASSWORD, *, next: str = ""
) -> Response:
    token = form_token(client)
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": token, "next": next},
    )


def signed_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    response = sign_in(client, email, password)
    assert response.status_code == 303, response.text
    return client


def make_login(session: Session, email: str, role: Role, password: str = PASSWORD) -> User:
    return create_user(session, email, role, password=password, full_name=email.split("@")[0])


def text_of(html: str) -> str:
    """The page's text, tags removed and white space collapsed, for assertions on content."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()
