from sqlalchemy import select

from verenigingen.auth.models import Role, User


def test_api_rejects_missing_token(api, session):
    client = api(Role.ADMINISTRATOR)
    client.headers.pop("Authorization")
    response = client.get("/health")
    assert response.status_code == 200
    assert session.scalar(select(User.role)) == Role.ADMINISTRATOR
