"""Reading and changing the runtime settings: administrators only, every change audited.

A change is a row of ``runtime_setting`` (or its removal, for a reset to the default) and a row
of ``runtime_setting_change``, written in the caller's transaction; when that commits, every
process is told (``settings.live``) and uses the new value from its next transaction on. The
value is checked against the setting's kind and bounds before anything is written. A setting
that is a desired state (``strategic_indexes``) has what applies it registered
(:func:`applied_by`), which a change asks for in its transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.db.paging import Keyset, KeysetPage, PageRequest, keyset_page
from verenigingen.errors import PermissionDenied
from verenigingen.settings.live import defaults_for, note_change, stored_values
from verenigingen.settings.models import RuntimeSetting, RuntimeSettingChange
from verenigingen.settings.registry import DEFINITIONS, Definition, Value, definition_of


class Source(enum.StrEnum):
    ENV = "env"
    """The default, from the environment (``VERENIGINGEN_<NAME>``) or built in."""
    DATABASE = "database"
    """Set by an administrator."""


@dataclass(frozen=True)
class EffectiveSetting:
    """A setting as it is now: its value, where the value comes from, and its default."""

    definition: Definition
    value: Value
    default: Value
    source: Source
    updated_by: str | None
    updated_at: dt.datetime | None


Applier = Callable[[Session, User, Value], None]
"""What a setting's change asks for, in the changing transaction: ``(session, user, value)``."""

_appliers: dict[str, list[Applier]] = {}


def applied_by(name: str) -> Callable[[Applier], Applier]:
    """Register the decorated function to run whenever setting ``name`` changes (set or reset to
    another value), in the changing transaction: a desired state that something applies (the
    index manager's job for ``strategic_indexes``). Registered by the module that applies it,
    loaded at start-up with the task modules; the settings never import it."""
    definition_of(name)  # an unknown name fails at import, not at the first change

    def register(function: Applier) -> Applier:
        if function not in _appliers.setdefault(name, []):
            _appliers[name].append(function)
        return function

    return register


def _changed(session: Session, user: User, name: str, value: Value) -> None:
    note_change(session, name, value)
    for apply in _appliers.get(name, ()):
        apply(session, user, value)


def require_administrator(user: User) -> None:
    if not (user.enabled and user.is_administrator):
        raise PermissionDenied(f"role {user.role} may not read or change runtime settings")


def list_settings(session: Session, user: User) -> list[EffectiveSetting]:
    """Every runtime setting, in the registry's order, as this transaction sees the table."""
    require_administrator(user)
    stored = {row.name: row for row in session.scalars(select(RuntimeSetting))}
    return [_effective(session, d, stored.get(d.name)) for d in DEFINITIONS.values()]


def get_setting(session: Session, user: User, name: str) -> EffectiveSetting:
    """One setting; 404 ``unknown_setting`` for a name no setting has."""
    require_administrator(user)
    definition = definition_of(name)
    return _effective(session, definition, session.get(RuntimeSetting, name))


def set_setting(
    session: Session, user: User, name: str, raw: object, *, actor: str | None = None
) -> EffectiveSetting:
    """Give the setting ``name`` the value ``raw`` means (JSON or text), until it is changed or
    reset; audited. Setting the value it already has stored changes nothing.

    ``actor``: who the row and the audit name as having changed it, when not the user's e-mail
    (the safety monitor's automatic rollback names itself and the administrator it acts for).

    403 for anyone but an administrator, 404 ``unknown_setting``, 422 ``invalid_setting_value``
    or ``setting_out_of_range`` (nothing written).
    """
    require_administrator(user)
    definition = definition_of(name)
    value = definition.parse(raw)
    row = _locked(session, name)
    before = _effective(session, definition, row)
    if row is not None and row.value == definition.text(value):
        return before
    text, now, changed_by = definition.text(value), clock.now(), actor or user.email
    if row is None:
        row = RuntimeSetting(name=name, value=text, updated_by=changed_by, updated_at=now)
        session.add(row)
    else:
        row.value, row.updated_by, row.updated_at = text, changed_by, now
    _audit(session, changed_by, before, text, Source.DATABASE, now)
    session.flush()
    _changed(session, user, name, value)
    return _effective(session, definition, row)


def reset_setting(session: Session, user: User, name: str) -> EffectiveSetting:
    """Give the setting ``name`` its default again (its row goes); audited. A setting at its
    default already changes nothing. 403, 404 ``unknown_setting`` as :func:`set_setting`."""
    require_administrator(user)
    definition = definition_of(name)
    row = _locked(session, name)
    before = _effective(session, definition, row)
    if row is None:
        return before
    session.delete(row)
    default = defaults_for(session).value_of(name)
    _audit(session, user.email, before, definition.text(default), Source.ENV, clock.now())
    session.flush()
    if default != before.value:
        _changed(session, user, name, default)
    else:
        note_change(session, name, default)
    return _effective(session, definition, None)


CHANGE_ORDER = Keyset("setting-changes", (RuntimeSettingChange.id,), descending=True)
"""Newest first (ids grow with time): the primary key, or (name, id) for one setting's."""


def setting_changes(
    session: Session, user: User, *, name: str | None = None, page: PageRequest = PageRequest()
) -> KeysetPage[RuntimeSettingChange]:
    """The audit, newest first, of one setting or of all; the total count when asked. 404
    ``unknown_setting`` for a name no setting has, 422 for a page out of range or a bad cursor."""
    require_administrator(user)
    page.check()
    statement = select(RuntimeSettingChange)
    if name is not None:
        statement = statement.where(RuntimeSettingChange.name == definition_of(name).name)
    return keyset_page(session, statement, CHANGE_ORDER, page)


def _locked(session: Session, name: str) -> RuntimeSetting | None:
    # Two administrators changing one setting: the second waits and audits the first's value
    # as the old one. (Two first settings of a setting both insert; one gets 409 conflict.)
    return session.scalars(
        select(RuntimeSetting)
        .where(RuntimeSetting.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _effective(
    session: Session, definition: Definition, row: RuntimeSetting | None
) -> EffectiveSetting:
    default = defaults_for(session).value_of(definition.name)
    stored = stored_values([(row.name, row.value)]) if row is not None else {}
    if row is None or definition.name not in stored:
        # No row, or one that no longer parses (its bounds changed): the default holds, as in
        # every process's live view.
        return EffectiveSetting(definition, default, default, Source.ENV, None, None)
    return EffectiveSetting(
        definition,
        stored[definition.name],
        default,
        Source.DATABASE,
        row.updated_by,
        row.updated_at,
    )


def _audit(
    session: Session,
    changed_by: str,
    before: EffectiveSetting,
    new_text: str,
    new_source: Source,
    at: dt.datetime,
) -> None:
    session.add(
        RuntimeSettingChange(
            name=before.definition.name,
            old_value=before.definition.text(before.value),
            old_source=before.source.value,
            new_value=new_text,
            new_source=new_source.value,
            changed_by=changed_by,
            changed_at=at,
        )
    )
