"""Shapes in and out of the runtime settings, as the API shows them. The rules live in the
registry and the service."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from verenigingen.clock import UtcDateTime
from verenigingen.settings.models import RuntimeSettingChange
from verenigingen.settings.registry import Value
from verenigingen.settings.service import EffectiveSetting

ShownValue = bool | int | str
"""A value as JSON shows it: a flag as a boolean, a whole number as a number, a decimal as text
(``"100.00"``, as every amount of the API)."""


def shown(value: Value) -> ShownValue:
    return str(value) if isinstance(value, Decimal) else value


class SettingOut(BaseModel):
    name: str
    kind: Literal["bool", "int", "decimal", "seconds"]
    value: ShownValue
    default: ShownValue
    """The environment's value (``VERENIGINGEN_<NAME>``), or the built-in one."""
    source: Literal["env", "database"]
    """``database``: an administrator set the value; ``env``: the default holds."""
    minimum: ShownValue | None
    maximum: ShownValue | None
    description: str
    updated_by: str | None
    updated_at: UtcDateTime | None

    @classmethod
    def of(cls, setting: EffectiveSetting) -> SettingOut:
        definition = setting.definition
        return cls(
            name=definition.name,
            kind=definition.kind.value,
            value=shown(setting.value),
            default=shown(setting.default),
            source=setting.source.value,
            minimum=None if definition.minimum is None else shown(definition.minimum),
            maximum=None if definition.maximum is None else shown(definition.maximum),
            description=definition.description,
            updated_by=setting.updated_by,
            updated_at=setting.updated_at,
        )


class SettingIn(BaseModel):
    value: StrictBool | StrictInt | StrictFloat | Annotated[StrictStr, Field(max_length=100)]
    """``true``/``false`` for a flag, a whole number, or a decimal as a number or as text."""


class SettingChangeOut(BaseModel):
    id: int
    name: str
    old_value: str
    old_source: Literal["env", "database"]
    new_value: str
    new_source: Literal["env", "database"]
    """``env``: the change was a reset to the default."""
    changed_by: str
    changed_at: UtcDateTime

    @classmethod
    def of(cls, change: RuntimeSettingChange) -> SettingChangeOut:
        return cls.model_validate(change, from_attributes=True)
