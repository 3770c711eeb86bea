"""Bank answers built for the tests: pain.002 status reports and camt.054 notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

PAIN_002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"
CAMT_054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


def pain_002(
    original_message_id: str,
    rejects: Sequence[tuple[str, str, str]],
    *,
    group_status: str = "PART",
    message_id: str = "STS-1",
    namespace: str = PAIN_002_NS,
    accepted: Sequence[tuple[str, str]] = (),
    block_status: str | None = None,
    group_reason: str | None = None,
) -> bytes:
    """A status report on ``original_message_id``: ``rejects`` are (payment-information id,
    EndToEndId, reason code), ``accepted`` (payment-information id, EndToEndId)."""
    blocks: dict[str, list[str]] = {}
    for block_id, end_to_end_id, code in rejects:
        blocks.setdefault(block_id, []).append(
            f"<TxInfAndSts><OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>"
            f"<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf>"
            "</TxInfAndSts>"
        )
    for block_id, end_to_end_id in accepted:
        blocks.setdefault(block_id, []).append(
            f"<TxInfAndSts><OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>"
            "<TxSts>ACCP</TxSts></TxInfAndSts>"
        )
    status = f"<PmtInfSts>{block_status}</PmtInfSts>" if block_status else ""
    block_xml = "".join(
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{block_id}</OrgnlPmtInfId>{status}"
        + "".join(transactions)
        + "</OrgnlPmtInfAndSts>"
        for block_id, transactions in blocks.items()
    )
    reason = f"<StsRsnInf><Rsn><Cd>{group_reason}</Cd></Rsn></StsRsnInf>" if group_reason else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{namespace}">'
        f"<CstmrPmtStsRpt><GrpHdr><MsgId>{message_id}</MsgId>"
        "<CreDtTm>2026-11-19T10:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{original_message_id}</OrgnlMsgId>"
        f"<OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId><GrpSts>{group_status}</GrpSts>{reason}"
        f"</OrgnlGrpInfAndSts>{block_xml}</CstmrPmtStsRpt></Document>"
    ).encode()


def camt_054(
    returns: Sequence[tuple[str, str, Decimal]],
    *,
    booked_on: dt.date = dt.date(2026, 11, 20),
    message_id: str = "NTF-1",
) -> bytes:
    """A debit notification with one returned transaction per (EndToEndId, reason, amount)."""
    details = "".join(
        f"<TxDtls><Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs>"
        f'<Amt Ccy="EUR">{amount}</Amt>'
        f"<RtrInf><Rsn><Cd>{code}</Cd></Rsn></RtrInf></TxDtls>"
        for end_to_end_id, code, amount in returns
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT_054_NS}">'
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{message_id}</MsgId>"
        "<CreDtTm>2026-11-20T08:00:00</CreDtTm></GrpHdr>"
        "<Ntfctn><Id>N1</Id><Ntry><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>DBIT</CdtDbtInd>"
        f"<Sts>BOOK</Sts><BookgDt><Dt>{booked_on}</Dt></BookgDt>"
        f"<NtryDtls>{details}</NtryDtls></Ntry></Ntfctn>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()
