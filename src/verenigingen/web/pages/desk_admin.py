"""The desk's administrator pages: the runtime settings (``settings.service``, as
``/api/v1/settings``) and the safety checks (``safety.runner``, as ``/api/v1/safety``).

A setting is changed in two steps: the form sends the new value, the page shows what will change
(from what, to what, what the setting does) and asks for a confirmation; only the confirmed form
writes it (audited, and every process uses it from its next transaction on). A value the setting
refuses re-renders the settings page (422) with the error beside the setting and the typed value
kept; nothing is written. Anyone but an administrator gets the 403 page and no menu entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from verenigingen.auth.models import User
from verenigingen.db.paging import PageRequest
from verenigingen.safety.errors import NoSafetyRun
from verenigingen.safety.runner import latest_run, run_history
from verenigingen.settings.errors import InvalidSettingValue, SettingOutOfRange
from verenigingen.settings.registry import Kind, definition_of
from verenigingen.settings.service import (
    get_setting,
    list_settings,
    require_administrator,
    set_setting,
    setting_changes,
)
from verenigingen.web.deps import SessionDep
from verenigingen.web.pages.desk import desk_nav, require_desk_role
from verenigingen.web.pages.forms import N_, FormState, flash, flash_message
from verenigingen.web.pages.router import page_router
from verenigingen.web.pages.session import SignedIn
from verenigingen.web.pages.templating import render

router = page_router()

RECENT_CHANGES = 10
RECENT_RUNS = 10
CONFIRMED = "yes"

ValueField = Annotated[str, Form(max_length=40)]
ConfirmField = Annotated[str, Form(max_length=10)]

SETTING_CHANGED = flash_message("setting_changed", "success", N_("The setting is changed."))
SETTING_UNCHANGED = flash_message(
    "setting_unchanged", "info", N_("The setting already had this value; nothing changed.")
)
BAD_VALUE = N_("This value is not allowed here: %(reason)s")

SOURCE_LABELS = (N_("database"), N_("env"))
"""For the catalog: where a setting's value comes from."""


def _settings_page(
    request: Request, session: Session, viewer: User, form: FormState, *, status_code: int = 200
) -> Response:
    changes = setting_changes(session, viewer, page=PageRequest(RECENT_CHANGES)).items
    return render(
        request,
        "desk/settings.html",
        {
            "settings": list_settings(session, viewer),
            "changes": changes,
            "flag": Kind.FLAG,
            "form": form,
            "nav": desk_nav(viewer),
        },
        status_code=status_code,
    )


@router.get("/desk/settings")
def settings(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """Every runtime setting with its value, default and where it comes from, a form to change
    each, and the latest changes: three statements."""
    require_desk_role(viewer)
    require_administrator(viewer)
    return _settings_page(request, session, viewer, FormState())


@router.post("/desk/settings/{name}")
def change_setting(
    request: Request,
    session: SessionDep,
    viewer: SignedIn,
    name: str,
    value: ValueField = "",
    confirmed: ConfirmField = "",
) -> Response:
    """Without ``confirmed``: the confirmation page for the new value (a refused value: the
    settings page again, 422). With it: the change, then the settings page with a message. An
    unknown setting is the 404 page."""
    require_desk_role(viewer)
    require_administrator(viewer)
    definition = definition_of(name[:100])
    try:
        parsed = definition.parse(value)
    except (InvalidSettingValue, SettingOutOfRange) as refused:
        form = FormState(values={definition.name: value})
        form.add_error(definition.name, BAD_VALUE, reason=refused.detail)
        return _settings_page(request, session, viewer, form, status_code=422)
    current = get_setting(session, viewer, definition.name)
    if confirmed != CONFIRMED:
        return render(
            request,
            "desk/setting_confirm.html",
            {
                "setting": current,
                "new_value": definition.text(parsed),
                "current_value": definition.text(current.value),
                "nav": desk_nav(viewer),
            },
        )
    changed = set_setting(session, viewer, definition.name, value)
    response = RedirectResponse("/desk/settings", status_code=303)
    unchanged = changed.updated_at == current.updated_at and changed.value == current.value
    flash(response, request, SETTING_UNCHANGED if unchanged else SETTING_CHANGED)
    return response


@router.get("/desk/safety")
def safety(request: Request, session: SessionDep, viewer: SignedIn) -> Response:
    """The latest safety run with its checks and the rollback or restore steps taken after it,
    and the runs before it: five statements (three before the first run)."""
    require_desk_role(viewer)
    try:
        latest, steps = latest_run(session, viewer)
    except NoSafetyRun:
        latest, steps = None, []
    runs = run_history(session, viewer, limit=RECENT_RUNS)[0] if latest else []
    return render(
        request,
        "desk/safety.html",
        {"latest": latest, "steps": steps, "runs": runs, "nav": desk_nav(viewer)},
    )
