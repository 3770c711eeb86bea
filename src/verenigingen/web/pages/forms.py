"""What the pages need for forms and messages: field errors that keep what was typed, and
flash messages that survive the redirect after a post.

A form page re-renders with a :class:`FormState`: the values as typed (never a password) and an
error per field, each a :class:`Message` whose text is an English msgid (marked with ``N_`` so
that ``make messages`` extracts it) translated when the page renders. The ``forms.html`` macros
show a label on every input, the error under it, ``aria-invalid`` and ``aria-describedby``.

A flash message is a key of :data:`FLASH_MESSAGES` in a short-lived cookie: the next page shows
it once, in the reader's language. Only known keys are shown, so a cookie set by someone else
cannot put words on the page. A page module adds its own with :func:`flash_message`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import Request
from starlette.responses import Response

from verenigingen.web.pages.session import FLASH_COOKIE, clear_cookie, set_cookie


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated when a page shows it."""
    return message


@dataclass(frozen=True)
class Message:
    text: str
    """An English msgid, with ``%(name)s`` placeholders for ``values``."""
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class FormState:
    """A form as the user left it: what was typed and what is wrong with it."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Message] = field(default_factory=dict)
    """By field name; the key ``""`` is an error of the whole form."""

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> Message | None:
        return self.errors.get(name)

    def add_error(self, name: str, text: str, **values: Any) -> None:
        self.errors[name] = Message(text, values)

    @property
    def valid(self) -> bool:
        return not self.errors


FlashKind = Literal["info", "success", "warning"]


@dataclass(frozen=True)
class FlashMessage:
    kind: FlashKind
    text: str
    """An English msgid."""


FLASH_MESSAGES: dict[str, FlashMessage] = {}
"""Every message a page may flash, by key."""


def flash_message(key: str, kind: FlashKind, text: str) -> str:
    """Register a flash message (at import of the page module that shows it); returns the key."""
    FLASH_MESSAGES[key] = FlashMessage(kind, text)
    return key


SIGNED_OUT = flash_message("signed_out", "info", N_("You are signed out."))
SESSION_ENDED = flash_message(
    "session_ended", "warning", N_("Your session has ended. Please sign in again.")
)
PASSWORD_CHANGED = flash_message(
    "password_changed", "success", N_("Your password is changed. You can sign in with it now.")
)
LANGUAGE_CHANGED = flash_message("language_changed", "success", N_("The language is changed."))


def flash(response: Response, request: Request, key: str) -> None:
    """Show the message ``key`` on the next page this browser opens."""
    if key not in FLASH_MESSAGES:
        raise KeyError(f"unknown flash message {key!r}; register it with flash_message")
    set_cookie(response, request, FLASH_COOKIE, key, max_age=300)


def flashed(request: Request) -> list[FlashMessage]:
    """The messages waiting for this request (unknown keys are ignored)."""
    keys = request.cookies.get(FLASH_COOKIE, "")
    return [FLASH_MESSAGES[key] for key in keys.split(",") if key in FLASH_MESSAGES]


def clear_flash(response: Response, request: Request) -> None:
    clear_cookie(response, request, FLASH_COOKIE)
