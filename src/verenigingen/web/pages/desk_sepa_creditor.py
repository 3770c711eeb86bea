"""The creditor settings at the desk: the association's name, account and creditor identifier
as its direct debits carry them, the lead days and cut-off, and the mandate reference pattern,
set through ``sepa.creditor.set_creditor`` (as ``PUT /api/v1/sepa/creditor``).

Treasurers and administrators only. A field the form cannot read, or a rule the service refuses
(an IBAN's checksum, the creditor identifier's, the SEPA character set, the pattern's
placeholders), re-renders the form (422) with the message under that field and everything typed
kept; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from verenigingen.auth.models import User
from verenigingen.errors import DomainError, InvalidBic, InvalidIban
from verenigingen.sepa import errors as sepa_errors
from verenigingen.sepa.creditor import current_creditor, set_creditor
from verenigingen.sepa.models import DEFAULT_REFERENCE_PATTERN, PainVersion, SepaCreditor
from verenigingen.sepa.schemas import CreditorIn
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav
from verenigingen.web.pages.desk_sepa import require_treasurer
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

FIELDS = ("name", "iban", "bic", "creditor_identifier", "pain_version", "lead_days",
          "cutoff_time", "first_collection_frst", "reference_pattern")  # fmt: skip
RULES: dict[type[DomainError], tuple[str, str]] = {
    sepa_errors.InvalidSepaText: ("name", N_("At most 70 characters of the SEPA character set.")),
    InvalidIban: ("iban", N_("Not a valid IBAN: check its length and digits.")),
    InvalidBic: ("bic", N_("Not a valid BIC, like RABONL2U, or leave it empty.")),
    sepa_errors.InvalidCreditorIdentifier: (
        "creditor_identifier",
        N_("Not a valid creditor identifier, like NL51ZZZ405365330000."),
    ),
    sepa_errors.InvalidReferencePattern: (
        "reference_pattern",
        N_("Use only {member_id}, {yyyymmdd} and {nnn}, with {nnn} in it."),
    ),
}
REQUIRED = N_("Fill this in.")
BAD_LEAD_DAYS = N_("Enter a whole number from 1 to 15.")
BAD_TIME = N_("Enter a time like 14:00, or leave it empty.")
BAD_CHOICE = N_("Choose one of the options.")
TOO_LONG = N_("At most %(max)s characters.")
LIMITS = {"name": 200, "iban": 50, "bic": 20, "creditor_identifier": 50, "reference_pattern": 100}
"""As ``CreditorIn``'s."""

CREDITOR_SAVED = flash_message(
    "sepa_creditor_saved", "success", N_("The creditor settings are saved.")
)

TextField = Annotated[str, Form(max_length=400)]


def _values_of(creditor: SepaCreditor | None) -> dict[str, str]:
    if creditor is None:
        return dict.fromkeys(FIELDS, "") | {
            "pain_version": PainVersion.V08.value,
            "lead_days": "1",
            "reference_pattern": DEFAULT_REFERENCE_PATTERN,
        }
    return {
        "name": creditor.name,
        "iban": creditor.iban,
        "bic": creditor.bic or "",
        "creditor_identifier": creditor.creditor_identifier,
        "pain_version": creditor.pain_version,
        "lead_days": str(creditor.lead_days),
        "cutoff_time": creditor.cutoff_time.strftime("%H:%M") if creditor.cutoff_time else "",
        "first_collection_frst": "on" if creditor.first_collection_frst else "",
        "reference_pattern": creditor.reference_pattern,
    }


def _form_page(
    request: Request, viewer: User, form: FormState, *, status_code: int = 200
) -> Response:
    return render(
        request,
        "desk/sepa_creditor.html",
        {"form": form, "versions": [v.value for v in PainVersion], "nav": desk_nav(viewer)},
        status_code=status_code,
    )


@router.get("/desk/sepa/creditor")
def creditor_form(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The settings as they are (or the defaults before they are set): two statements."""
    require_treasurer(viewer)
    return _form_page(request, viewer, FormState(values=_values_of(current_creditor(session))))


@router.post("/desk/sepa/creditor")
def save_creditor(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    name: TextField = "",
    iban: TextField = "",
    bic: TextField = "",
    creditor_identifier: TextField = "",
    pain_version: TextField = "",
    lead_days: TextField = "",
    cutoff_time: TextField = "",
    first_collection_frst: TextField = "",
    reference_pattern: TextField = "",
) -> Response:
    """Replace the settings, then the batches page; the form again (422) naming the field."""
    require_treasurer(viewer)
    form = FormState(values={
        "name": name, "iban": iban, "bic": bic, "creditor_identifier": creditor_identifier,
        "pain_version": pain_version, "lead_days": lead_days, "cutoff_time": cutoff_time,
        "first_collection_frst": first_collection_frst, "reference_pattern": reference_pattern,
    })  # fmt: skip
    data = _creditor_of(form)
    if data is None:
        return _form_page(request, viewer, form, status_code=422)
    try:
        with session.begin_nested():
            set_creditor(session, viewer, data)
    except tuple(RULES) as refusal:
        field, message = RULES[type(refusal)]
        form.add_error(field, message)
        return _form_page(request, viewer, form, status_code=422)
    response = RedirectResponse("/desk/sepa/batches", status_code=303)
    flash(response, request, CREDITOR_SAVED)
    return response


def _creditor_of(form: FormState) -> CreditorIn | None:
    """The settings the form asks for, or None with the form's errors added."""
    for field in ("name", "iban", "creditor_identifier", "reference_pattern"):
        if not form.value(field).strip():
            form.add_error(field, REQUIRED)
    for field, limit in LIMITS.items():
        if len(form.value(field).strip()) > limit:
            form.add_error(field, TOO_LONG, max=limit)
    if form.value("pain_version") not in {v.value for v in PainVersion}:
        form.add_error("pain_version", BAD_CHOICE)
    days = form.value("lead_days").strip()
    if not days.isdigit() or not 1 <= int(days) <= 15:
        form.add_error("lead_days", BAD_LEAD_DAYS)
    cutoff = None
    if form.value("cutoff_time").strip():
        try:
            cutoff = dt.time.fromisoformat(form.value("cutoff_time").strip())
        except ValueError:
            form.add_error("cutoff_time", BAD_TIME)
    if form.value("first_collection_frst") not in ("", "on"):
        form.add_error("first_collection_frst", BAD_CHOICE)
    if not form.valid:
        return None
    return CreditorIn(
        name=form.value("name").strip(),
        iban=form.value("iban").strip(),
        bic=form.value("bic").strip() or None,
        creditor_identifier=form.value("creditor_identifier").strip(),
        pain_version=PainVersion(form.value("pain_version")),
        lead_days=int(days),
        cutoff_time=cutoff,
        first_collection_frst=form.value("first_collection_frst") == "on",
        reference_pattern=form.value("reference_pattern").strip(),
    )
