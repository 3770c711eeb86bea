"""The MT940 ``:86:`` description: Dutch banks' structured sub-fields, or free text.

Since SEPA, ING, Rabobank, ABN AMRO, SNS and ASN write the description as ``/KEY/value``
pairs (``/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/NAME/J JANSEN/REMI/
Contributie 2026/EREF/LID-42``); ING puts the counterparty in one ``/CNTP/IBAN/BIC/NAME/CITY/``
field and the remittance in ``/REMI/USTD//text/`` or ``/REMI/STRD/CUR/reference/``. Older
descriptions (``GIRO 123456 J JANSEN CONTRIBUTIE``) are text without keys: they are kept whole
as the remittance.

Triodos's classic MT940 writes numbered sub-fields instead (:func:`triodos_fields`; its
structured variant the ING form): ``000`` and then ``>10`` the counterparty's domestic account
number (zeros when it has an IBAN), ``>20`` to ``>27`` the description in pieces of at most 27
characters (of a SEPA transfer: ``>20`` the counterparty's BIC, ``>21`` its IBAN, ``>22`` on the
name and the payer's message, which the bank does not separate) and ``>31`` the account
holder's own account number.

A value is cut only at a key this module knows, so a slash inside a remittance stays in it.
The description's lines are joined without a separator: banks wrap at 65 characters wherever
that falls, in the middle of a word too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KNOWN_KEYS = (
    "TRTP",  # transaction type: SEPA OVERBOEKING, SEPA Incasso algemeen doorlopend, ...
    "EREF",  # end-to-end id
    "MARF",  # mandate reference of a direct debit
    "CSID",  # creditor scheme id of a direct debit
    "RTRN",  # return reason code of a returned direct debit
    "REMI",  # remittance information
    "NAME",
    "IBAN",
    "BIC",
    "CNTP",  # ING: counterparty IBAN/BIC/name/city
    "ADDR",
    "ORDP",
    "BENM",
    "ULTC",
    "ULTD",
    "PURP",
    "SVCL",
    "PREF",  # payment information id of a batch
    "KREF",  # customer reference
    "ISDT",
    "CDTRREF",
    "CDTRREFTP",
    "TRCD",
    "NRTX",
    "BUSP",
    "FX",
    "RTYP",
)
_KEY = re.compile(r"/(" + "|".join(sorted(KNOWN_KEYS, key=len, reverse=True)) + r")/")
_TRIODOS_START = re.compile(r"^\d{3}>\d{2}")
_TRIODOS_FIELD = re.compile(r">(\d{2})")
_BIC = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")


@dataclass(frozen=True)
class Description:
    """What an ``:86:`` says, each part None when it does not say it."""

    transaction_type: str | None = None
    end_to_end_id: str | None = None
    mandate_reference: str | None = None
    creditor_id: str | None = None
    return_reason: str | None = None
    remittance: str | None = None
    counterparty_name: str | None = None
    counterparty_iban: str | None = None
    counterparty_bic: str | None = None
    payment_information_id: str | None = None


def parse_description(text: str) -> Description:
    """The sub-fields of a structured description, or the whole text as the remittance."""
    joined = "".join(line.rstrip("\r") for line in text.split("\n")).strip()
    numbered = triodos_fields(joined)
    if numbered:
        return _triodos_description(numbered)
    fields = structured_fields(joined)
    if not fields:
        return Description(remittance=_clean(joined))
    name, iban, bic = fields.get("NAME"), fields.get("IBAN"), fields.get("BIC")
    if "CNTP" in fields:
        cntp_iban, cntp_bic, cntp_name = _counterparty(fields["CNTP"])
        iban, bic, name = iban or cntp_iban, bic or cntp_bic, name or cntp_name
    return Description(
        transaction_type=_clean(fields.get("TRTP")),
        end_to_end_id=_clean(fields.get("EREF")),
        mandate_reference=_clean(fields.get("MARF")),
        creditor_id=_clean(fields.get("CSID")),
        return_reason=_clean(fields.get("RTRN")),
        remittance=_remittance(fields.get("REMI")),
        counterparty_name=_clean(name),
        counterparty_iban=_clean(iban.replace(" ", "")) if iban else None,
        counterparty_bic=_clean(bic),
        payment_information_id=_clean(fields.get("PREF")),
    )


def structured_fields(text: str) -> dict[str, str]:
    """``{"TRTP": "SEPA OVERBOEKING", ...}`` from a description that starts with a known key;
    empty for free text. The first occurrence of a key wins."""
    matches = list(_KEY.finditer(text))
    if not matches or matches[0].start() != 0:
        return {}
    fields: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields.setdefault(match.group(1), text[match.end() : end])
    return fields


def triodos_fields(text: str) -> dict[int, str]:
    """``{10: "0000000000", 20: "RABONL2U", ...}`` from a description in Triodos's numbered
    layout (``000>10...>20...``); empty for any other. The values are kept as written: a piece
    of the description may end or begin in the middle of a word."""
    match = _TRIODOS_START.match(text)
    if match is None:
        return {}
    pieces = _TRIODOS_FIELD.split(text[match.end() - 3 :])
    # ['', '10', value, '20', value, ...]: the text before the first number is empty.
    return {int(number): value for number, value in zip(pieces[1::2], pieces[2::2], strict=True)}


def _triodos_description(fields: dict[int, str]) -> Description:
    pieces = [fields[number] for number in range(20, 28) if number in fields]
    bic, iban = (fields.get(20) or "").strip(), (fields.get(21) or "").strip().replace(" ", "")
    if _BIC.match(bic) and _IBAN.match(iban):
        return Description(
            counterparty_bic=bic,
            counterparty_iban=iban,
            remittance=_clean("".join(pieces[2:])),
        )
    return Description(remittance=_clean("".join(pieces)))


def _counterparty(value: str) -> tuple[str | None, str | None, str | None]:
    """ING's ``IBAN/BIC/NAME/CITY/`` (any part may be empty)."""
    parts = [part.strip() or None for part in value.split("/")] + [None, None, None]
    return parts[0], parts[1], parts[2]


def _remittance(value: str | None) -> str | None:
    """ING's ``USTD//text/`` and ``STRD/CUR/reference/`` lose their prefixes."""
    if value is None:
        return None
    for prefix in ("USTD//", "STRD/CUR/", "STRD/ISO/"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    return _clean(value)


def _clean(value: str | None) -> str | None:
    """A value without its trailing slashes and outer spaces; None when nothing is left or it
    is the banks' placeholder for no reference."""
    if value is None:
        return None
    cleaned = " ".join(value.strip().rstrip("/").split())
    if not cleaned or cleaned.upper() in {"NOTPROVIDED", "NONREF"}:
        return None
    return cleaned[:500]
