"""Signing in and out, and the password reset by a one-time link.

The sign-in checks the password in a read session (on SQLite one that takes no write lock, as
the API's login does) inside the failed-authentication throttle (``auth.throttle``, per address
and per account: the 429 page with ``Retry-After`` once either has used up its failures), then
starts the browser's sign-in in a short transaction of its own, replacing an older kind of
password hash on the way.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from verenigingen.auth.errors import PasswordResetLinkInvalid, TooManyResetRequests
from verenigingen.auth.password_policy import MAX_PASSWORD_LENGTH
from verenigingen.auth.password_reset import (
    request_password_reset,
    reset_link_user,
    reset_password,
)
from verenigingen.auth.service import authenticate_password, get_user
from verenigingen.auth.web_sessions import end_web_session, start_web_session
from verenigingen.db.session import unit_of_work
from verenigingen.errors import NotAuthenticated, ValidationFailed
from verenigingen.mail.outbox import queue_mail
from verenigingen.web.deps import ContextDep, SessionDep, client_address
from verenigingen.web.pages.forms import (
    N_,
    PASSWORD_CHANGED,
    SIGNED_OUT,
    FormState,
    flash,
)
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    clear_cookie,
    home_of,
    lifetime_of,
    local_path,
    set_cookie,
)
from verenigingen.web.pages.templating import render, translate

router = page_router()

MAX_EMAIL_LENGTH = 255
TOO_MANY_RESET_REQUESTS = N_(
    "Too many requests for a new password. Please wait %(seconds)s seconds and try again."
)
EmailField = Annotated[str, Form(max_length=MAX_EMAIL_LENGTH)]
PasswordField = Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, viewer: Viewer, next: str | None = None) -> Response:
    """The sign-in form; a signed-in user goes on to ``next`` or its home."""
    target = local_path(next)
    if viewer is not None:
        return _see_other(target or home_of(viewer))
    return render(request, "auth/sign_in.html", {"form": FormState(), "next": target or ""})


@router.post("/sign-in")
def sign_in(
    request: Request,
    context: ContextDep,
    email: EmailField = "",
    password: PasswordField = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the email and password; on success a new sign-in (cookie) and a redirect to
    ``next`` (a local path) or the user's home. A wrong pair re-renders the form (401) with the
    email kept; too many failures are the 429 page."""
    form = FormState(values={"email": email.strip()})
    target = local_path(next)
    if not email.strip():
        form.add_error("email", N_("Enter your email address."))
    if not password:
        form.add_error("password", N_("Enter your password."))
    if not form.valid:
        return _sign_in_form(request, form, target, status_code=422)
    reads = request.app.state.read_session_factory or request.app.state.session_factory
    try:
        with (
            context.throttle.counting_failures(client_address(request), account=email),
            reads() as session,
        ):
            user_id = authenticate_password(session, email, password).id
    except NotAuthenticated:
        form.add_error("", N_("The email address or the password is not right."))
        return _sign_in_form(request, form, target, status_code=401)
    with unit_of_work(request.app.state.session_factory) as session:
        user = get_user(session, user_id)
        started = start_web_session(session, user, lifetime_of(context.settings), password=password)
        home = home_of(user)
    response = _see_other(target or home)
    set_cookie(response, request, SESSION_COOKIE, started.token)
    clear_cookie(response, request, CSRF_COOKIE)  # the forms now hang on the sign-in
    return response


def _sign_in_form(
    request: Request, form: FormState, target: str | None, *, status_code: int
) -> HTMLResponse:
    return render(
        request,
        "auth/sign_in.html",
        {"form": form, "next": target or ""},
        status_code=status_code,
    )


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep) -> Response:
    """End this browser's sign-in (its row is deleted) and show the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        end_web_session(session, token)
    response = _see_other("/sign-in")
    clear_cookie(response, request, SESSION_COOKIE)
    flash(response, request, SIGNED_OUT)
    return response


@router.get("/password-reset")
def reset_request_page(request: Request) -> Response:
    return render(request, "auth/reset_request.html", _reset_request_values(request, FormState()))


@router.post("/password-reset")
def request_reset(
    request: Request, session: SessionDep, context: ContextDep, email: EmailField = ""
) -> Response:
    """Send a one-time link to the email when it has an enabled login; the answer is the same
    either way (it never tells who has an account). Every request counts against the address
    and the email (``auth.throttle``): past either limit the form comes back with 429 and a
    ``Retry-After``, and no mail is sent."""
    form = FormState(values={"email": email.strip()})
    if not email.strip():
        form.add_error("email", N_("Enter your email address."))
        return render(
            request,
            "auth/reset_request.html",
            _reset_request_values(request, form),
            status_code=422,
        )
    try:
        context.throttle.count_reset_request(client_address(request), account=email)
    except TooManyResetRequests as refused:
        seconds = refused.retry_after_seconds
        form.add_error("email", TOO_MANY_RESET_REQUESTS, seconds=seconds)
        return render(
            request,
            "auth/reset_request.html",
            _reset_request_values(request, form),
            status_code=429,
            headers={"retry-after": str(seconds)},
        )
    settings = context.settings
    lifetime = dt.timedelta(minutes=settings.password_reset_minutes)
    issued = request_password_reset(session, email, lifetime)
    if issued is not None:
        link = f"{settings.public_url.rstrip('/')}/password-reset/{issued.token}"
        queue_mail(
            session,
            user=issued.user,
            to=issued.user.email,
            subject=translate(request, N_("Choose a new password")),
            body=translate(
                request,
                N_(
                    "Someone asked to reset the password of %(email)s. To choose a new "
                    "password, open this link (it works once, for %(minutes)s minutes):\n\n"
                    "%(link)s\n\nDid you not ask for this? Then ignore this mail; your "
                    "password stays as it is."
                ),
                email=issued.user.email,
                minutes=settings.password_reset_minutes,
                link=link,
            ),
        )
    values = _reset_request_values(request, form)
    return render(request, "auth/reset_request.html", {**values, "sent": True})


def _reset_request_values(request: Request, form: FormState) -> dict[str, object]:
    minutes = request.app.state.context.settings.password_reset_minutes
    return {"form": form, "sent": False, "minutes": minutes}


@router.get("/password-reset/{token}")
def reset_page(request: Request, session: SessionDep, token: str) -> Response:
    """The form for a new password, while the link works; else the page that says it does not."""
    try:
        user = reset_link_user(session, token)
    except PasswordResetLinkInvalid:
        return _link_invalid(request)
    return render(
        request,
        "auth/reset_password.html",
        {"form": FormState(), "email": user.email, "token": token},
        headers={"referrer-policy": "no-referrer"},
    )


@router.post("/password-reset/{token}")
def reset(
    request: Request,
    session: SessionDep,
    token: str,
    password: PasswordField = "",
    confirmation: PasswordField = "",
) -> Response:
    """Set the new password (the policy's errors re-render the form), end every sign-in of the
    user, and send it to the sign-in page."""
    try:
        user = reset_link_user(session, token)
    except PasswordResetLinkInvalid:
        return _link_invalid(request)
    form = FormState()
    if password != confirmation:
        form.add_error("confirmation", N_("The two passwords are not the same."))
    else:
        try:
            reset_password(session, token, password)
        except ValidationFailed as error:
            form.add_error("password", _POLICY_MESSAGES.get(error.code, error.detail))
    if not form.valid:
        return render(
            request,
            "auth/reset_password.html",
            {"form": form, "email": user.email, "token": token},
            status_code=422,
            headers={"referrer-policy": "no-referrer"},
        )
    response = _see_other("/sign-in")
    clear_cookie(response, request, SESSION_COOKIE)
    flash(response, request, PASSWORD_CHANGED)
    return response


_POLICY_MESSAGES = {
    "password_too_short": N_("The password needs at least 12 characters."),
    "password_too_long": N_("The password may have at most 1,024 characters."),
    "password_too_common": N_("This password is one of the most common passwords; choose another."),
}


def _link_invalid(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": N_("This link does not work"),
            "explanation": N_(
                "The link is used, expired or replaced by a newer one. Ask for a new link on "
                "the sign-in page."
            ),
            "values": {},
        },
        status_code=410,
        headers={"referrer-policy": "no-referrer"},
    )
