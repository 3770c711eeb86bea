"""/api/v1/settings: runtime settings and feature flags, for administrators only.

A change takes effect in every process at its next request or job (``verenigingen.settings``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from verenigingen.settings import service
from verenigingen.settings.schemas import SettingChangeOut, SettingIn, SettingOut
from verenigingen.web.deps import CurrentUser, SessionDep, SessionEndingRoute
from verenigingen.web.schemas import ErrorBody, Page, PageParams

router = APIRouter(
    route_class=SessionEndingRoute,
    prefix="/settings",
    tags=["settings"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)},
)

SettingName = Annotated[str, Path(max_length=100)]


@router.get("")
def list_settings(session: SessionDep, user: CurrentUser) -> list[SettingOut]:
    """Every runtime setting: its value, default, source (env or database) and description."""
    return [SettingOut.of(s) for s in service.list_settings(session, user)]


@router.get("/changes")
def list_changes(
    session: SessionDep,
    user: CurrentUser,
    page: PageParams,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[SettingChangeOut]:
    """The audit of every change, newest first: who changed which setting when, old and new."""
    changes = service.setting_changes(session, user, name=name, page=page)
    return Page[SettingChangeOut].of(changes, SettingChangeOut.of)


@router.get("/{name}")
def get_setting(session: SessionDep, user: CurrentUser, name: SettingName) -> SettingOut:
    """One runtime setting."""
    return SettingOut.of(service.get_setting(session, user, name))


@router.put("/{name}")
def set_setting(
    session: SessionDep, user: CurrentUser, name: SettingName, body: SettingIn
) -> SettingOut:
    """Set a runtime setting (`{"value": …}`); every process uses it from its next request."""
    return SettingOut.of(service.set_setting(session, user, name, body.value))


@router.delete("/{name}")
def reset_setting(session: SessionDep, user: CurrentUser, name: SettingName) -> SettingOut:
    """Give a runtime setting its default (the environment's value) again."""
    return SettingOut.of(service.reset_setting(session, user, name))
