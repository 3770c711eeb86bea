"""The portal's SEPA mandates: the member's mandates, signing a new one online, revoking one.

Everything goes through the member's side of the SEPA services, the same as
``/api/v1/me/mandates`` (``sepa.self_service``: ``my_mandates``, ``sign_my_mandate``,
``revoke_my_mandate``), in the member's own name: another member's mandate is the 404 page, as
if it did not exist. IBANs are shown masked, as the API shows them to a Member.

The IBAN is checked as the member types it: the field asks ``/portal/mandates/iban-check``
(htmx, a GET that changes nothing) for a message under it. The server checks it again when the
form is sent, with the same function (``verenigingen.iban.bank_account``, schwifty's mod-97
and country rules); an invalid one re-renders the form (422) with the error and what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.db.ids import RecordId
from verenigingen.errors import InvalidBic, InvalidIban, NotFound
from verenigingen.iban import bank_account
from verenigingen.members.models import Member
from verenigingen.sepa.creditor import current_creditor
from verenigingen.sepa.errors import CreditorNotConfigured, MandateTransitionNotAllowed
from verenigingen.sepa.models import MandateStatus, SepaMandate
from verenigingen.sepa.schemas import MandateOut, OwnMandateIn
from verenigingen.sepa.self_service import my_mandates, revoke_my_mandate, sign_my_mandate
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.portal import PORTAL_NAV, own_member, require_portal_role
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

MAX_IBAN_LENGTH = 50
MAX_HOLDER_LENGTH = 140
MAX_REASON_LENGTH = 140
IbanField = Annotated[str, Form(max_length=MAX_IBAN_LENGTH)]
REVOCABLE = (MandateStatus.DRAFT, MandateStatus.ACTIVE, MandateStatus.SUSPENDED)
CURRENT = (MandateStatus.ACTIVE, MandateStatus.SUSPENDED)

MANDATE_STATUS_LABELS = {
    # For the catalog; the page translates the status it shows: _(mandate.status).
    MandateStatus.DRAFT: N_("Draft"),
    MandateStatus.ACTIVE: N_("Active"),
    MandateStatus.SUSPENDED: N_("Suspended"),
    MandateStatus.CANCELLED: N_("Cancelled"),
    MandateStatus.EXPIRED: N_("Expired"),
    MandateStatus.INVALID: N_("Invalid"),
}

INVALID_IBAN = N_(
    "This is not a valid IBAN. Check the country code, the two check digits and the account "
    "number (like NL91 ABNA 0417 1643 00)."
)
MANDATE_SIGNED = flash_message(
    "mandate_signed", "success", N_("Your mandate is signed. We collect from this account now.")
)
MANDATE_REVOKED = flash_message("mandate_revoked", "success", N_("The mandate is revoked."))
MANDATE_NOT_REVOCABLE = flash_message(
    "mandate_not_revocable", "warning", N_("This mandate has ended already; nothing changed.")
)


def current_mandate(session: Session, viewer: User) -> SepaMandate | None:
    """The mandate collections use now: the newest Active one, else the newest Suspended."""
    mandates = my_mandates(session, viewer)
    for status in CURRENT:
        for mandate in mandates:
            if mandate.status == status:
                return mandate
    return None


def shown_mandate(mandate: SepaMandate, viewer: User) -> MandateOut:
    """The mandate as the API shows it to ``viewer`` (a Member: the IBAN masked)."""
    return MandateOut.of(mandate, viewer)


def own_mandate(session: Session, viewer: User, mandate_id: int) -> SepaMandate:
    """The member's own mandate ``mandate_id``: 404 when unknown or another member's."""
    for mandate in my_mandates(session, viewer):
        if mandate.id == mandate_id:
            return mandate
    raise NotFound(f"you have no mandate with id {mandate_id}")


@dataclass(frozen=True)
class IbanCheck:
    """What the field says about a typed IBAN: an error, or the bank's BIC when it is known."""

    error: str | None = None
    bic: str | None = None


def check_iban(iban: str) -> IbanCheck:
    """The same check the SEPA services make (``verenigingen.iban.bank_account``: schwifty's
    country, length and mod-97 rules), as a message for the form."""
    try:
        _compact, bic = bank_account(iban, None)
    except (InvalidIban, InvalidBic):
        return IbanCheck(error=INVALID_IBAN)
    return IbanCheck(bic=bic)


@router.get("/portal/mandates")
def mandates(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The member's mandates (newest first) and the form to sign a new one: five statements
    (the sign-in, the member for the form, the member's id and its mandates, the creditor)."""
    require_portal_role(viewer)
    member = own_member(session, viewer)
    form = FormState(values={"account_holder": member.account_holder or member.full_name})
    return _mandates_page(request, session, viewer, member, form)


@router.get("/portal/mandates/iban-check", response_class=HTMLResponse)
def iban_check(
    request: Request, viewer: SignedIn, iban: Annotated[str, Query(max_length=MAX_IBAN_LENGTH)] = ""
) -> Response:
    """The message under the IBAN field while it is typed (an htmx fragment): nothing for an
    empty field, the error for an invalid IBAN, the bank's BIC for a valid one."""
    require_portal_role(viewer)
    check = check_iban(iban) if iban.strip() else IbanCheck()
    return render(request, "portal/iban_check.html", {"typed": bool(iban.strip()), "check": check})


@router.post("/portal/mandates")
def sign(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    iban: IbanField = "",
    account_holder: Annotated[str, Form(max_length=MAX_HOLDER_LENGTH)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Sign a mandate for the member's own account, dated today. An invalid IBAN, a missing
    name or consent re-render the form (422) with what was typed; nothing is written."""
    require_portal_role(viewer)
    member = own_member(session, viewer)
    form = FormState(values={"iban": iban, "account_holder": account_holder, "consent": consent})
    if not iban.strip():
        form.add_error("iban", N_("Enter the IBAN of the account to collect from."))
    elif (error := check_iban(iban).error) is not None:
        form.add_error("iban", error)
    if not account_holder.strip():
        form.add_error("account_holder", N_("Enter the name of the account holder."))
    if consent != "yes":
        form.add_error("consent", N_("Tick the box to give the authorisation."))
    if not form.valid:
        return _mandates_page(request, session, viewer, member, form, status_code=422)
    try:
        sign_my_mandate(session, viewer, OwnMandateIn(iban=iban, account_holder=account_holder))
    except CreditorNotConfigured:
        form.add_error("", N_("The association does not collect by direct debit yet."))
        return _mandates_page(request, session, viewer, member, form, status_code=409)
    response = RedirectResponse("/portal/mandates", status_code=303)
    flash(response, request, MANDATE_SIGNED)
    return response


@router.get("/portal/mandates/{mandate_id}/revoke")
def confirm_revoke(
    request: Request, session: SessionDep, viewer: SignedIn, mandate_id: RecordId
) -> Response:
    """Are you sure? The mandate's reference and account, and the button that revokes it."""
    require_portal_role(viewer)
    mandate = own_mandate(session, viewer, mandate_id)
    return render(
        request,
        "portal/mandate_revoke.html",
        {"mandate": shown_mandate(mandate, viewer), "form": FormState(), "nav": PORTAL_NAV},
    )


@router.post("/portal/mandates/{mandate_id}/revoke")
def revoke(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    mandate_id: RecordId,
    reason: Annotated[str, Form(max_length=MAX_REASON_LENGTH)] = "",
) -> Response:
    """Revoke (cancel) the member's own mandate: no collection uses it after this. One that has
    ended already changes nothing and says so; another member's is the 404 page."""
    require_portal_role(viewer)
    response = RedirectResponse("/portal/mandates", status_code=303)
    try:
        revoke_my_mandate(session, viewer, mandate_id, reason.strip() or None)
    except MandateTransitionNotAllowed:
        flash(response, request, MANDATE_NOT_REVOCABLE)
        return response
    flash(response, request, MANDATE_REVOKED)
    return response


def _mandates_page(
    request: Request,
    session: Session,
    viewer: User,
    member: Member,
    form: FormState,
    *,
    status_code: int = 200,
) -> Response:
    listed = [shown_mandate(mandate, viewer) for mandate in my_mandates(session, viewer)]
    return render(
        request,
        "portal/mandates.html",
        {
            "mandates": listed,
            "revocable": [status.value for status in REVOCABLE],
            "creditor": current_creditor(session),
            "form": form,
            "nav": PORTAL_NAV,
        },
        status_code=status_code,
    )
