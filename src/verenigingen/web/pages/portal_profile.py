"""The portal's profile: the member's contact details (email, address), the language the pages
speak to it in, and its bank account.

Contact details go through ``members.service.update_member``, the service behind
``PATCH /api/v1/members/{id}``, whose own-record rule lets a Member change only its own contact
fields. The language is the login's setting (``user_account.locale``), which wins over the
browser's. The bank account is the IBAN of the member's current mandate (masked); another account
amends that mandate (``sepa.self_service.change_my_mandate_account``: the mandate keeps its
reference and the next collection tells the bank), the IBAN checked as it is typed, as on the
direct debit page (:mod:`.portal_mandates`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.errors import ValidationFailed
from verenigingen.members.models import Member
from verenigingen.members.schemas import MemberUpdate
from verenigingen.members.service import update_member
from verenigingen.members.service.validation import clean_email
from verenigingen.sepa.errors import MandateTransitionNotAllowed
from verenigingen.sepa.self_service import change_my_mandate_account
from verenigingen.web.deps import SessionDep
from verenigingen.web.i18n import supported
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.home import LANGUAGE_COOKIE_SECONDS
from verenigingen.web.pages.portal import PORTAL_NAV, own_member, require_portal_role
from verenigingen.web.pages.portal_mandates import (
    MANDATE_NOT_REVOCABLE,
    IbanField,
    check_iban,
    current_mandate,
    shown_mandate,
)
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import LANGUAGE_COOKIE, SignedIn, set_cookie
from verenigingen.web.pages.templating import render

router = page_router()


PROFILE_SAVED = flash_message("profile_saved", "success", N_("Your details are saved."))
ACCOUNT_CHANGED = flash_message(
    "account_changed",
    "success",
    N_("Your mandate now collects from the new account. The next collection tells your bank."),
)
CONTACT_FIELDS = ("email", "address_line", "postal_code", "city")
FIELD_LENGTHS = {"email": 255, "address_line": 255, "postal_code": 20, "city": 100}


@router.get("/portal/profile")
def profile(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The contact details as stored, the language, and the current mandate's account (masked):
    four statements (the sign-in, the member, the scope and the mandates)."""
    require_portal_role(viewer)
    member = own_member(session, viewer)
    return _profile_page(request, session, viewer, member, _stored(member, viewer))


@router.post("/portal/profile")
def save_profile(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    email: Annotated[str, Form(max_length=FIELD_LENGTHS["email"])] = "",
    address_line: Annotated[str, Form(max_length=FIELD_LENGTHS["address_line"])] = "",
    postal_code: Annotated[str, Form(max_length=FIELD_LENGTHS["postal_code"])] = "",
    city: Annotated[str, Form(max_length=FIELD_LENGTHS["city"])] = "",
    language: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Save the contact details and the language; a field in error re-renders the form (422)
    with what was typed and nothing saved."""
    require_portal_role(viewer)
    member = own_member(session, viewer)
    values = {
        "email": email.strip(),
        "address_line": address_line,
        "postal_code": postal_code,
        "city": city,
    }
    form = FormState(values={**values, "language": language})
    try:
        clean_email(values["email"])
    except ValidationFailed:
        form.add_error("email", N_("Enter an email address like name@example.org."))
    chosen = supported(language) if language else None
    if language and chosen is None:
        form.add_error("language", N_("Choose one of the languages in the list."))
    if not form.valid:
        return _profile_page(request, session, viewer, member, form, status_code=422)
    update_member(session, viewer, member.id, MemberUpdate(**values))
    viewer.locale = chosen
    session.flush()
    response = RedirectResponse("/portal/profile", status_code=303)
    if chosen is not None:
        set_cookie(response, request, LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_SECONDS)
    flash(response, request, PROFILE_SAVED)
    return response


@router.post("/portal/profile/account")
def change_account(
    request: Request, session: SessionDep, viewer: SignedIn, iban: IbanField = ""
) -> Response:
    """Move the current mandate to another account (an amendment). An invalid IBAN re-renders
    the page (422) with what was typed and nothing changed; without a current mandate, 409."""
    require_portal_role(viewer)
    member = own_member(session, viewer)
    mandate = current_mandate(session, viewer)
    account = FormState(values={"iban": iban})
    if mandate is None:
        account.add_error("", N_("You have no mandate to change: sign one first."))
        return _profile_page(
            request, session, viewer, member, _stored(member, viewer), account, status_code=409
        )
    if not iban.strip():
        account.add_error("iban", N_("Enter the IBAN of the account to collect from."))
    elif (error := check_iban(iban).error) is not None:
        account.add_error("iban", error)
    if not account.valid:
        return _profile_page(
            request, session, viewer, member, _stored(member, viewer), account, status_code=422
        )
    response = RedirectResponse("/portal/profile", status_code=303)
    try:
        change_my_mandate_account(session, viewer, mandate.id, iban)
    except MandateTransitionNotAllowed:  # ended between the page and the form
        flash(response, request, MANDATE_NOT_REVOCABLE)
        return response
    flash(response, request, ACCOUNT_CHANGED)
    return response


def _stored(member: Member, viewer: User) -> FormState:
    form = FormState(values={name: getattr(member, name) or "" for name in CONTACT_FIELDS})
    form.values["language"] = viewer.locale or ""
    return form


def _profile_page(
    request: Request,
    session: Session,
    viewer: User,
    member: Member,
    form: FormState,
    account: FormState | None = None,
    *,
    status_code: int = 200,
) -> Response:
    mandate = current_mandate(session, viewer)
    return render(
        request,
        "portal/profile.html",
        {
            "form": form,
            "account": account or FormState(),
            "member": member,
            "mandate": shown_mandate(mandate, viewer) if mandate is not None else None,
            "nav": PORTAL_NAV,
        },
        status_code=status_code,
    )
