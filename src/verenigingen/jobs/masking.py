"""IBANs are masked wherever a job is shown (params, result, error) and in stored error text."""

from __future__ import annotations

import re
from typing import Any

# Two letters, two check digits, then 10 to 30 letters or digits, optionally in groups of four.
_IBAN = re.compile(r"\b([A-Z]{2}\d{2})((?:[ ]?[A-Z0-9]){10,30})\b")


def _mask_match(match: re.Match[str]) -> str:
    body = match.group(2).replace(" ", "")
    return f"{match.group(1)}{'*' * (len(body) - 4)}{body[-4:]}"


def mask_text(text: str) -> str:
    """``NL91 ABNA 0417 1643 00`` → ``NL91**********4300``."""
    return _IBAN.sub(_mask_match, text)


def mask_ibans(value: Any) -> Any:
    """``value`` with every IBAN-looking string masked, through dicts and lists."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_ibans(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_ibans(item) for item in value]
    return value
