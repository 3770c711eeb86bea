"""Responses with personal data are never stored by a cache, and nothing is sniffed."""

from __future__ import annotations

from verenigingen.auth.models import Role


def test_api_responses_are_not_stored_and_not_sniffed(api) -> None:  # type: ignore[no-untyped-def]
    client = api(Role.ADMINISTRATOR)
    for response in (
        client.get("/api/v1/members"),  # a success with personal data
        client.get("/api/v1/members/424242"),  # an error
        client.post("/api/v1/payments", content=b"{", headers={"content-type": "application/json"}),
    ):
        assert response.headers["cache-control"] == "no-store", response.url
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_documentation_may_be_cached(api) -> None:  # type: ignore[no-untyped-def]
    response = api(Role.ADMINISTRATOR).get("/openapi.json")
    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"
