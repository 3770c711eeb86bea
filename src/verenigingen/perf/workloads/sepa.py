"""The SEPA direct-debit batch: the due invoices of mandated members collected into a pain.008."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen import clock
from verenigingen.auth.models import User
from verenigingen.perf.workloads.database import acting_user
from verenigingen.perf.workloads.registry import Workload, register
from verenigingen.sepa.batches import cancel_batch, create_batch
from verenigingen.sepa.creditor import set_creditor
from verenigingen.sepa.models import SepaCreditor
from verenigingen.sepa.pain008 import export_batch
from verenigingen.sepa.schemas import CreditorIn
from verenigingen.sepa.target2 import earliest_collection_date

DEMO_CREDITOR = CreditorIn(
    name="Vereniging De Eendracht",
    iban="NL44RABO0123456789",
    creditor_identifier="NL51ZZZ405365330000",
)


def _collection_dates(session: Session, n: int, _rng: random.Random) -> Sequence[dt.date]:
    """The earliest collection date, ``n`` times. The demo association has no creditor
    settings: they are set here, before anything is measured."""
    creditor = session.scalar(select(SepaCreditor).limit(1))
    if creditor is None:
        creditor = set_creditor(session, acting_user(session), DEMO_CREDITOR)
    day = earliest_collection_date(clock.now(), creditor.cutoff_time, creditor.lead_days)
    return [day] * n


def _collect_and_export(session: Session, user: User, collection_date: dt.date) -> bytes:
    # The treasurer's collection run up to the file for the bank: the batch built from every
    # collectable invoice, its pain.008 built and validated (XSD and EPC rules). Cancelled after,
    # so that the next run finds the same invoices (cancelling is two UPDATEs and a DELETE).
    batch = create_batch(session, user, collection_date)
    document = export_batch(session, user, batch.id)
    cancel_batch(session, user, batch.id)
    return document


SEPA_BATCH = register(
    Workload(
        name="sepa_batch",
        description="10 direct-debit collection runs: a batch of every collectable invoice of the "
        "mandated members built, exported as pain.008 and validated, then cancelled (sepa.batches)",
        iterations=10,
        plan=_collection_dates,
        step=_collect_and_export,
    )
)
