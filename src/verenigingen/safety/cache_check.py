"""Check 2, cache consistency: a sample of the cached payment histories recomputed from the
ledger and compared with what the cache would serve.

Only an entry the cache would serve now is judged: its tags' versions are the current ones and
it has not expired. Such an entry must equal the history computed now; when it does not, a
write changed the member's ledger, mandates or summary without bumping the tags the entry is
stored under (DESIGN.md rule 5), and members are being shown stale money. An entry whose
versions moved on is stale but never served, so it is no mismatch.

The sample is what the cache's backend holds: with Redis, the entries of every process; in
memory, those of the process that runs the check (the API's own when it runs through
``POST /api/v1/safety/check``, none when a separate command starts with an empty cache).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from verenigingen.cache import VersionedCache, current_versions
from verenigingen.history.queries import dumps, history_document
from verenigingen.history.service import NAMESPACE, history_tags
from verenigingen.members.models import Member
from verenigingen.safety.checks import CheckResult, listed


def cache_consistency(session: Session, cache: VersionedCache, *, sample_size: int) -> CheckResult:
    """Up to ``sample_size`` cached histories recomputed; zero mismatches to pass. Two
    statements per entry judged (its customer, its versions), and the history's own three
    when the entry would be served."""
    keys = cache.backend.keys(NAMESPACE, sample_size)
    compared, unserved, problems = 0, 0, []
    for key in keys:
        member_id, limit, before = _parsed(key)
        entry = cache.backend.read(NAMESPACE, key)
        if entry is None or member_id is None or limit is None:
            continue  # gone since it was listed, or not a history's key
        customer_id = session.scalar(select(Member.customer_id).where(Member.id == member_id))
        tags = history_tags(member_id, customer_id)
        if entry.versions != current_versions(session, tags) or entry.expires_at <= cache.clock():
            unserved += 1
            continue
        cached_text = entry.payload.partition("\n")[2]
        fresh_text = dumps(history_document(session, member_id, limit=limit, before=before))
        compared += 1
        if cached_text != fresh_text:
            problems.append(
                f"member {member_id}'s cached history differs from its ledger under unchanged "
                f"versions ({', '.join(f'{t} v{v}' for t, v in sorted(entry.versions.items()))})"
            )
    return CheckResult(
        "cache consistency",
        passed=not problems,
        critical=True,
        message=listed(problems)
        or f"{compared} cached histories equal the ledger ({unserved} outdated, not served)",
        figures={
            "backend": cache.backend.name,
            "sampled": len(keys),
            "compared": compared,
            "outdated_not_served": unserved,
            "mismatches": len(problems),
        },
    )


def _parsed(key: str) -> tuple[int | None, int | None, str | None]:
    """``<member id>:<limit>:<cursor or nothing>`` (``history.service``)."""
    member, _, rest = key.partition(":")
    limit, _, before = rest.partition(":")
    if not member.isdigit() or not limit.isdigit():
        return None, None, None
    return int(member), int(limit), before or None
