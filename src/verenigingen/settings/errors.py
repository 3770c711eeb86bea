"""Rules of the runtime settings (see ``verenigingen.errors`` for the scheme)."""

from __future__ import annotations

from verenigingen.errors import NotFound, ValidationFailed


class UnknownSetting(NotFound):
    """No runtime setting has this name (the detail lists the names)."""

    code = "unknown_setting"


class InvalidSettingValue(ValidationFailed):
    """A value of the wrong kind for the setting: text for a number, a fraction for a whole
    number, more than two decimals, anything but true or false for a flag."""

    code = "invalid_setting_value"


class SettingOutOfRange(ValidationFailed):
    """A value outside the setting's bounds (a negative time to live, say); the detail names the
    setting and its bounds."""

    code = "setting_out_of_range"
