"""Bank account numbers: IBAN checked with mod-97 (schwifty), BIC derived from the IBAN."""

from __future__ import annotations

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from verenigingen.errors import InvalidBic, InvalidIban


def normalise_iban(value: str) -> str:
    """The compact upper-case IBAN (``NL91ABNA0417164300``), or 422 when it is not a valid IBAN."""
    try:
        return str(IBAN(value).compact)
    except SchwiftyException as error:
        raise InvalidIban(f"not a valid IBAN: {value!r} ({error})") from None


def normalise_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except SchwiftyException as error:
        raise InvalidBic(f"not a valid BIC: {value!r} ({error})") from None


def mask_iban(iban: str) -> str:
    """``NL91ABNA0417164300`` → ``NL91**********4300``: country and check digits and the last
    four characters, enough to recognise one's own account, too little to collect from it."""
    compact = iban.replace(" ", "")
    return f"{compact[:4]}{'*' * max(len(compact) - 8, 0)}{compact[-4:]}"


def bank_account(iban: str, bic: str | None) -> tuple[str, str | None]:
    """Validated (IBAN, BIC); a missing BIC is looked up from the bank code in the IBAN.

    The BIC stays None when schwifty's bank registry does not know the bank: within SEPA the IBAN
    alone is enough to collect, so that is not an error.
    """
    compact = normalise_iban(iban)
    if bic is not None and bic.strip():
        return compact, normalise_bic(bic)
    derived = IBAN(compact).bic
    return compact, str(derived.compact) if derived is not None else None
