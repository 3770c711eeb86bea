"""The pages' languages: gettext catalogs (Babel) and the choice of a language per request.

The catalogs are the ``.po`` files under ``web/locales`` (``messages.pot`` is extracted from the
templates and the page modules by ``make messages``). They are compiled in memory the first time
a language is used, so there is no ``.mo`` file to build, install or forget: the ``.po`` in the
repository is what runs. The messages are written in English; the English catalog holds only
what its plural forms need.

A request's language is, in this order: the signed-in user's choice (``user_account.locale``),
the language cookie (a visitor who chose on the sign-in page), the browser's Accept-Language,
and the ``default_locale`` setting.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR: Final = Path(__file__).parent / "locales"
DOMAIN: Final = "messages"
SUPPORTED: Final = ("nl", "en")
"""The languages with a catalog, in the order the language menu shows them."""
LANGUAGE_NAMES: Final = {"nl": "Nederlands", "en": "English"}
"""Each language by its own name, as a language menu should show it."""
FORMAT_LOCALES: Final = {"nl": "nl_NL", "en": "en_GB"}
"""The locale whose number and date formats a language uses: € 1.234,56 and 2 maart 2026 in
Dutch; €1,234.56 and 2 March 2026 in English."""


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of ``language`` compiled from its ``.po`` file (once per process)."""
    if language not in SUPPORTED:
        raise ValueError(f"no catalog for {language!r}; the languages are {', '.join(SUPPORTED)}")
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def supported(language: str | None) -> str | None:
    """``language`` when it has a catalog, else None."""
    return language if language in SUPPORTED else None


def from_accept_language(header: str | None) -> str | None:
    """The language with a catalog that the browser prefers most (``nl-NL,nl;q=0.9,en;q=0.8``),
    or None when it names none of them."""
    if not header:
        return None
    preferences: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and quality > 0:
            preferences.append((-quality, position, tag.strip()))
    for _quality, _position, tag in sorted(preferences):
        try:
            language = Locale.parse(tag, sep="-").language
        except (ValueError, UnknownLocaleError):
            continue
        if language in SUPPORTED:
            return language
    return None


def choose_language(
    user_choice: str | None, cookie: str | None, accept_language: str | None, default: str
) -> str:
    """The request's language: the user's choice, the cookie, the browser's, the default."""
    return (
        supported(user_choice)
        or supported(cookie)
        or from_accept_language(accept_language)
        or (default if default in SUPPORTED else SUPPORTED[0])
    )
