import re

from verenigingen.auth.models import Role

TIMING = re.compile(r'^db;dur=(\d+\.\d\d);desc="(\d+) queries", app;dur=(\d+\.\d\d)$')


def test_every_response_carries_server_timing(api) -> None:
    client = api(Role.ADMINISTRATOR)
    listing = client.get("/api/v1/members?limit=5")
    assert listing.status_code == 200
    match = TIMING.match(listing.headers["server-timing"])
    assert match is not None, listing.headers["server-timing"]
    # token lookup, member count, member page
    assert int(match.group(2)) == 3
    health = client.get("/health")
    assert TIMING.match(health.headers["server-timing"]).group(2) == "0"
    missing = client.get("/api/v1/members/987654")
    assert missing.status_code == 404
    assert TIMING.match(missing.headers["server-timing"]) is not None
