"""The SEPA (Latin) character set that every bank in the scheme accepts, and the checks on it."""

from __future__ import annotations

import re
import unicodedata

from verenigingen.sepa.errors import InvalidSepaText

SEPA_CHARACTERS = re.compile(r"^[A-Za-z0-9/?:().,'+ -]*$")
"""a-z, A-Z, 0-9, space and ``/ - ? : ( ) . , ' +`` (EPC217-08, the basic Latin set)."""
_OUTSIDE_SEPA = re.compile(r"[^A-Za-z0-9/?:().,'+ -]+")
_SPACES = re.compile(r"  +")


def is_sepa_text(value: str) -> bool:
    return bool(SEPA_CHARACTERS.match(value))


def check_sepa_text(value: str, *, field: str, max_length: int) -> str:
    """``value`` stripped, or 422 ``invalid_sepa_text`` naming ``field`` and the rule it breaks."""
    text = value.strip()
    if not text:
        raise InvalidSepaText(f"{field} is required")
    if len(text) > max_length:
        raise InvalidSepaText(f"{field} may be at most {max_length} characters, got {len(text)}")
    if not is_sepa_text(text):
        raise InvalidSepaText(
            f"{field} {text!r} may contain only A-Z, a-z, 0-9, spaces and / ? : ( ) . , ' + -"
        )
    return text


def to_sepa_text(value: str, max_length: int) -> str:
    """``value`` with every character outside the SEPA set replaced (accents dropped), cut to
    ``max_length``: for names and remittance texts that come from member records."""
    plain = value
    if not value.isascii():
        plain = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    # One pass of each expression per text: a 100,000-entry batch cleans 200,000 of them.
    cleaned = _SPACES.sub(" ", _OUTSIDE_SEPA.sub(" ", plain)).strip()
    return cleaned[:max_length].strip()
