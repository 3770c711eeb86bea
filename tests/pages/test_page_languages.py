"""The catalogs are complete, and languages and formats are chosen as documented."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from verenigingen.web import i18n
from verenigingen.web.pages import templating

ROOT = Path(__file__).resolve().parents[2]


def catalog(language: str):  # type: ignore[no-untyped-def]
    path = i18n.LOCALES_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source)


def test_every_message_of_the_pages_has_a_dutch_translation(tmp_path: Path) -> None:
    """Extract the pages' text anew (as ``make messages`` does) and compare with the catalog."""
    template = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run(  # noqa: S603 (the venv's own pybabel, fixed arguments)
        [pybabel, "-q", "extract", "-F", "babel.cfg", "-k", "N_", "--no-location",
         "-o", str(template), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    with template.open("rb") as source:
        extracted = {message.id for message in read_po(source) if message.id}
    dutch = {message.id: message for message in catalog("nl") if message.id}
    assert extracted - dutch.keys() == set(), "run `make messages` and translate the new text"
    untranslated = [
        message_id
        for message_id, message in dutch.items()
        if (
            message_id in extracted
            and (
                not message.string
                or (isinstance(message.string, tuple) and not all(message.string))
            )
        )
        or message.fuzzy
    ]
    assert untranslated == []


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7", "nl"),
        ("en-US,en;q=0.9,nl;q=0.8", "en"),
        ("de-DE,de;q=0.9,en;q=0.5", "en"),
        ("fr;q=1, nl;q=0.2", "nl"),
        ("en;q=0, nl;q=0.1", "nl"),
        ("de, fr", None),
        ("", None),
        ("*;q=x, nl-BE", "nl"),
        ("@@@, en", "en"),
    ],
)
def test_the_browsers_language(header: str, language: str | None) -> None:
    assert i18n.from_accept_language(header) == language


def test_the_order_of_the_choice() -> None:
    assert i18n.choose_language("en", "nl", "nl", "nl") == "en"
    assert i18n.choose_language(None, "en", "nl", "nl") == "en"
    assert i18n.choose_language("xx", None, "en-GB", "nl") == "en"
    assert i18n.choose_language(None, "xx", "de", "nl") == "nl"


@pytest.mark.parametrize(
    ("language", "amount", "day", "long_day"),
    [
        ("nl", "€ 1.234,56", "02-03-2026", "2 maart 2026"),
        ("en", "€1,234.56", "02/03/2026", "2 March 2026"),
    ],
)
def test_amounts_and_dates_per_language(language, amount, day, long_day) -> None:  # type: ignore[no-untyped-def]
    token = templating._rendering.set(
        templating.PageLanguage(language, i18n.translations(language))
    )
    try:
        assert templating.money(Decimal("1234.56")).replace("\xa0", " ") == amount
        assert templating.money(Decimal("-5")).replace("\xa0", " ") in ("€ -5,00", "-€5.00")
        assert templating.day(dt.date(2026, 3, 2), "short") == day
        assert templating.day(dt.date(2026, 3, 2)) == long_day
    finally:
        templating._rendering.reset(token)


def test_an_unknown_language_has_no_catalog() -> None:
    with pytest.raises(ValueError, match="no catalog"):
        i18n.translations("de")
