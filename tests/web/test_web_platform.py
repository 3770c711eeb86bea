from verenigingen.auth.models import Role


def test_health_and_openapi_are_public(api) -> None:
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "verenigingen"


def test_missing_or_wrong_token_is_401_with_error_body(api) -> None:
    client = api(Role.ADMINISTRATOR)
    good = client.headers.pop("Authorization")
    missing = client.get("/api/v1/members")
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "not_authenticated",
        "detail": "send an API token as 'Authorization: Bearer <token>'",
    }
    wrong = client.get("/api/v1/members", headers={"Authorization": good + "x"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "invalid or revoked API token"


def test_unknown_route_uses_the_error_shape(api) -> None:
    response = api(Role.ADMINISTRATOR).get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "Not Found"}
