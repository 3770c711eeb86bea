"""Reading statement files: both formats, four MT940 dialects, and errors that name the line."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from bank_samples import ABN_AMRO, RABOBANK, TRIODOS, sample
from schwifty import IBAN

from verenigingen.bank.dedupe import dedup_keys
from verenigingen.bank.descriptions import parse_description
from verenigingen.bank.errors import StatementCurrencyMismatch, StatementFileMalformed
from verenigingen.bank.formats import read_statement_file


def test_the_sample_ibans_have_valid_check_digits() -> None:
    for iban in (
        "NL20INGB0001234567",
        RABOBANK,
        ABN_AMRO,
        "NL44RABO0123456789",
        "NL70TRIO0123456789",
        "NL02ABNA0123456789",
        "NL69INGB0123456789",
        "NL36INGB0007654321",
        "NL93RABO0987654321",
        TRIODOS,
    ):
        assert str(IBAN(iban).compact) == iban


def test_ing_mt940_splits_the_counterparty_and_the_remittance() -> None:
    (statement,) = read_statement_file(sample("ing_structured.mt940")).statements
    assert statement.account == "NL20INGB0001234567EUR"
    assert (statement.statement_number, statement.sequence_number) == ("00211", 211)
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("1250.00"),
        Decimal("1299.55"),
    )
    assert statement.opening_date == dt.date(2026, 11, 1)
    first, second, third = statement.entries
    assert first.amount == Decimal("25.00")
    assert first.counterparty_iban == "NL44RABO0123456789"
    assert first.counterparty_name == "J JANSEN"
    assert first.remittance == "Contributie november 2026 ACC-INV-2026-00042"
    assert first.end_to_end_id == "LID-2026-0042"
    assert first.bank_reference == "2611021234567890"
    assert second.end_to_end_id is None  # NOTPROVIDED
    assert third.amount == Decimal("-12.95")
    assert (third.mandate_reference, third.creditor_id) == ("KLT-000918", "NL12ZZZ123456780000")
    assert third.counterparty_iban == "NL36INGB0007654321"  # wrapped across two lines
    assert first.where == "line 8"


def test_rabobank_mt940_reads_returns_and_the_iban_on_the_statement_line() -> None:
    (statement,) = read_statement_file(sample("rabobank_structured.mt940")).statements
    bakker, returned, collected = statement.entries
    assert bakker.counterparty_iban == "NL02ABNA0123456789"
    assert bakker.counterparty_name == "A.B. Bakker"
    assert bakker.remittance == "Contributie ACC-INV-2026-00101"
    assert returned.amount == Decimal("-50.00")
    assert returned.return_reason == "MS03"
    assert returned.mandate_reference == "LID-0007"
    assert collected.transaction_type == "SEPA Incasso algemeen doorlopend"
    assert collected.mandate_reference == "LID-0008"  # wrapped inside the value


def test_abn_amro_mt940_reads_structured_and_free_text_and_two_statements() -> None:
    first, second = read_statement_file(sample("abnamro_mixed.mt940")).statements
    assert first.account == "417164300"
    assert (first.statement_number, first.sequence_number) == ("31201/1", 31201)
    assert second.sequence_number == 31202
    jansen, _, card, giro = first.entries
    assert jansen.counterparty_name == "J JANSEN"
    assert jansen.transaction_type == "SEPA OVERBOEKING"
    assert card.remittance == "BEA NR:XXX123 09.11.26/14.02 KANTINE DE VOORBEELDCLUB,PAS 012"
    assert card.counterparty_iban is None
    assert giro.remittance == "GIRO 1234567 E.F. DE GROOT VOORBEELDSTRAAT 3 ACHTERSTAND 2025"


# The Triodos samples. Triodos's own format description (formaatbeschrijving-mt940.pdf, linked
# from triodos.nl) could not be read here: no text of it is published outside the PDF. The two
# samples follow instead (1) Triodos's published list of its transaction codes, the two letters
# after N in :61: (developer.triodos.com, "Proprietary Bank Transaction Codes": ET SEPA
# transfer, BA point of sale, KN costs, ID iDEAL), and (2) the layout that open-source parsers
# written against that description read and test (zilverline/mt940's Triodos parser, which cites
# it; fruitl00p/php-mt940; jejik-mt940): :25: TRIODOSBANK/ and the ten-digit account number,
# :28: always 1, the :86: of the classic export as 000 and numbered pieces (>10 the counterparty's
# domestic number, >20-27 the description in pieces of 27 characters, on a SEPA transfer >20 the
# BIC and >21 the IBAN, >31 the own account), and the structured export's ING-like
# /CNTP/IBAN/BIC/NAME/CITY//EREF/...//REMI/USTD//text/. Every name, number and amount in them
# is made up.


def test_triodos_classic_mt940_reads_the_numbered_pieces_of_its_descriptions() -> None:
    (statement,) = read_statement_file(sample("triodos_classic.mt940")).statements
    assert (statement.account, statement.statement_number, statement.sequence_number) == (
        TRIODOS,  # TRIODOSBANK/0212345678: the bank and its number say which IBAN
        "1",
        1,
    )
    assert (statement.opening_balance, statement.closing_balance) == (
        Decimal("812.40"),
        Decimal("841.65"),
    )
    transfer, card, costs = statement.entries
    assert (transfer.amount, transfer.counterparty_bic, transfer.counterparty_iban) == (
        Decimal("45.00"),
        "RABONL2U",
        "NL44RABO0123456789",
    )
    # The name and the message are one text: the pieces joined where the bank cut them.
    assert transfer.remittance == "M. DE BOER CONTRIBUTIE 2026 ACC-SINV-2026-00077"
    assert (transfer.counterparty_name, transfer.end_to_end_id) == (None, None)
    assert transfer.transaction_type == "NET"
    assert transfer.booking_date == dt.date(2026, 11, 12)
    assert (card.amount, card.counterparty_iban, card.transaction_type) == (
        Decimal("-12.50"),
        None,
        "NBA",
    )
    assert card.remittance == (
        "SPORTHAL DE VOORBEELD - VOORBEELDSTAD - 12-11-2026 19:45 - PASNR. 001"
    )
    assert (costs.amount, costs.remittance, costs.transaction_type) == (
        Decimal("-3.25"),
        "KOSTEN BETALINGSVERKEER OKTOBER 2026",
        "NKN",
    )


def test_triodos_structured_mt940_reads_the_counterparty_reference_and_message() -> None:
    (statement,) = read_statement_file(sample("triodos_structured.mt940")).statements
    assert (statement.account, statement.sequence_number) == (TRIODOS, 1)
    transfer, ideal = statement.entries
    assert (
        transfer.amount,
        transfer.counterparty_iban,
        transfer.counterparty_bic,
        transfer.counterparty_name,
    ) == (Decimal("30.00"), "NL02ABNA0123456789", "ABNANL2A", "E.F. DE GROOT")
    assert (transfer.end_to_end_id, transfer.remittance) == (
        "GROOT-2026-11",
        "Contributie ACC-SINV-2026-00078",
    )
    assert (ideal.amount, ideal.counterparty_name, ideal.remittance) == (
        Decimal("-19.95"),
        "Voorbeeld Webwinkel",
        "Bestelling 1001 clubshirts",  # wrapped in the middle of a word
    )
    assert ideal.transaction_type == "NID0"


def test_a_triodos_description_without_the_bic_and_iban_is_one_text() -> None:
    described = parse_description("000>100123456789\n>20GIRO J JANSEN GIFT\n>310212345678")
    assert (described.counterparty_iban, described.remittance) == (None, "GIRO J JANSEN GIFT")


def test_camt053_v02_reads_booked_entries_only() -> None:
    parsed = read_statement_file(sample("ing_camt053_v02.xml"))
    assert parsed.file_format == "camt.053"
    (statement,) = parsed.statements
    assert statement.account == "NL20INGB0001234567"
    assert statement.sequence_number == 212
    assert len(statement.entries) == 4  # the pending fifth entry is not booked
    assert sum(e.amount for e in statement.entries) == Decimal("109.55")
    hosting = statement.entries[2]
    assert (hosting.amount, hosting.counterparty_name) == (
        Decimal("-12.95"),
        "Voorbeeld Hosting BV",
    )
    assert hosting.creditor_id == "NL12ZZZ123456780000"
    assert statement.entries[3].remittance == "ACC-INV-2026-00044"  # a structured reference


def test_camt053_v08_reads_batches_returns_and_date_times() -> None:
    (statement,) = read_statement_file(sample("rabobank_camt053_v08.xml")).statements
    assert statement.closing_date == dt.date(2026, 11, 7)
    batch, returned = statement.entries
    assert batch.amount == Decimal("150.00")
    assert batch.end_to_end_id is None  # a batch is one line as the bank booked it
    assert batch.bank_reference == "RABO-2026-11-07-0001"
    assert returned.return_reason == "AM04"
    assert returned.counterparty_name == "I. Dekker"
    assert returned.counterparty_bic == "RABONL2U"


def test_structured_and_free_descriptions() -> None:
    structured = parse_description(
        "/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/BIC/RABON\nL2U/NAME/J/REMI/a/b c/EREF/X-1"
    )
    assert structured.counterparty_bic == "RABONL2U"
    assert structured.remittance == "a/b c"  # a slash inside a value stays
    assert structured.end_to_end_id == "X-1"
    free = parse_description("ONZE REF: 123 /NAME/ staat niet vooraan")
    assert free.remittance == "ONZE REF: 123 /NAME/ staat niet vooraan"
    assert free.counterparty_name is None


def test_identical_entries_in_one_statement_get_their_own_keys() -> None:
    first, _ = read_statement_file(sample("abnamro_mixed.mt940")).statements
    keys = dedup_keys(first.entries)
    assert first.entries[0] == first.entries[1].__class__(
        **{**first.entries[1].__dict__, "where": first.entries[0].where}
    )
    assert keys[0] != keys[1]
    assert keys == dedup_keys(first.entries)


# Bad files: an error naming the line or element.


def _mt940_with(line_number: int, replacement: str) -> bytes:
    lines = sample("ing_structured.mt940").decode().splitlines()
    lines[line_number - 1] = replacement
    return "\n".join(lines).encode()


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (_mt940_with(8, ":61:2613021102C25,00NTRFLID-2026-0042//2611021234567890"), "line 8"),
        (_mt940_with(8, ":61:2611021102CXX,00NTRF"), "line 8"),
        (_mt940_with(7, ":60F:C261101EUR12A0,00"), "line 7"),
        (_mt940_with(6, "zomaar een regel"), "line 6"),
        (_mt940_with(6, ":99:onbekend"), "line 6"),
        (_mt940_with(20, ":62F:C261102EUR1299.55"), "line 20"),
        (b"\n".join(sample("ing_structured.mt940").splitlines()[:18]), ":62F:"),
        (b"niets", "no MT940 statement"),
        (b"", "empty"),
    ],
)
def test_a_broken_mt940_names_the_line(content: bytes, named: str) -> None:
    with pytest.raises(StatementFileMalformed, match=named):
        read_statement_file(content)


def test_a_truncated_camt053_names_the_line() -> None:
    content = sample("ing_camt053_v02.xml")[:2000]
    with pytest.raises(StatementFileMalformed, match=r"line \d+: the XML cannot be read"):
        read_statement_file(content)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (b'<Amt Ccy="EUR">37.50</Amt>', b'<Amt Ccy="EUR">37,50</Amt>', r"Ntry\[2\].*Amt"),
        (b'<Amt Ccy="EUR">37.50</Amt>', b'<Amt Ccy="EUR">-37.50</Amt>', r"Ntry\[2\].*Amt"),
        (b"<Dt>2026-11-03</Dt></BookgDt>", b"<Dt>2026-13-03</Dt></BookgDt>", r"Ntry\[4\].*BookgDt"),
        (b"<Cd>CLBD</Cd>", b"<Cd>XXXX</Cd>", "no CLBD balance"),
        (b"BkToCstmrStmt>", b"BkToCstmrDbtCdtNtfctn>", "not a camt.053"),
        (b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>MIN</CdtDbtInd>", r"Ntry\[3\].*CdtDbtInd"),
    ],
)
def test_a_malformed_camt053_names_the_element(old: bytes, new: bytes, named: str) -> None:
    content = sample("ing_camt053_v02.xml").replace(old, new)
    with pytest.raises(StatementFileMalformed, match=named):
        read_statement_file(content)


def test_an_entry_in_another_currency_is_refused_with_the_entry() -> None:
    content = sample("ing_camt053_v02.xml").replace(
        b'<Amt Ccy="EUR">60.00</Amt>', b'<Amt Ccy="USD">60.00</Amt>'
    )
    with pytest.raises(StatementCurrencyMismatch, match=r"Ntry\[4\] \(line \d+\): an entry in USD"):
        read_statement_file(content)


def test_an_external_entity_is_not_resolved() -> None:
    content = (
        sample("ing_camt053_v02.xml")
        .replace(
            b'<?xml version="1.0" encoding="UTF-8"?>',
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
        )
        .replace(b"<Id>0212-20261103</Id>", b"<Id>&x;</Id>")
    )
    with pytest.raises(StatementFileMalformed):
        read_statement_file(content)
