"""auth=password on real processes: two uvicorn servers share one PostgreSQL database.

The claims here are about several processes: the first admin is created once although both
servers start at the same time, and a refresh token used on one server is refused, with its
whole family, on the other. Each test works in a database of its own (`tpl_auth_<random>`),
dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.auth import ADMIN_EMAIL, ADMIN_PASSWORD, auth_env
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import serve_many
from tests.services import postgres_database

PASSWORD_POSTGRESQL_SETS = ["password-postgresql"]

pytestmark = pytest.mark.parametrize(
    "project", answer_set_params(PASSWORD_POSTGRESQL_SETS), indirect=True
)


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database("tpl_auth") as url:
        yield url


@pytest.fixture
def servers(
    project: Project, database_url: str, tmp_path: Path
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two processes of the project on one database, started at the same time."""
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "development", **auth_env(project)}
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(PYTHONPATH="src", **env))
    with ExitStack() as stack:
        started = stack.enter_context(serve_many(project, 2, tmp_path, "/health/ready", **env))
        clients = [stack.enter_context(httpx.Client(base_url=s.url, timeout=10)) for s in started]
        yield clients[0], clients[1]
    for server in started:
        assert "Traceback" not in server.output(), server.output()


def _login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def test_first_admin_created_once_by_concurrent_starts(
    project: Project, servers: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = servers
    token = _login(a, ADMIN_EMAIL, ADMIN_PASSWORD).json()["access_token"]
    assert _login(b, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200
    if project.facts.has_rbac:
        listing = b.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"}).json()
        assert [user["email"] for user in listing["items"]] == [ADMIN_EMAIL]


def test_refresh_reuse_detected_across_processes(
    servers: tuple[httpx.Client, httpx.Client],
) -> None:
    a, b = servers
    account = {"email": "ada@example.com", "password": "a long passphrase"}
    assert a.post("/api/v1/auth/register", json=account).status_code == 201
    first = _login(b, account["email"], account["password"]).json()
    rotated = a.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    replay = b.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.headers["WWW-Authenticate"] == "Bearer"
    latest = rotated.json()["refresh_token"]
    assert a.post("/api/v1/auth/refresh", json={"refresh_token": latest}).status_code == 401


def test_login_failures_look_alike_over_http(servers: tuple[httpx.Client, httpx.Client]) -> None:
    a, _ = servers
    wrong = _login(a, ADMIN_EMAIL, "not the password")
    unknown = _login(a, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert {**wrong.json(), "request_id": None} == {**unknown.json(), "request_id": None}


def test_items_need_a_token_and_delete_needs_admin(
    project: Project, servers: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = servers
    anonymous = a.get("/api/v1/items")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    account = {"email": "grace@example.com", "password": "a long passphrase"}
    assert a.post("/api/v1/auth/register", json=account).status_code == 201
    user = {"Authorization": f"Bearer {_login(b, **_form(account)).json()['access_token']}"}
    admin = {
        "Authorization": f"Bearer {_login(a, ADMIN_EMAIL, ADMIN_PASSWORD).json()['access_token']}"
    }
    created = b.post("/api/v1/items", json={"name": "Widget"}, headers=user)
    assert created.status_code == 201, created.text
    item = f"/api/v1/items/{created.json()['id']}"
    if project.facts.has_rbac:
        assert a.delete(item, headers=user).status_code == 403
    assert a.delete(item, headers=admin).status_code == 204


def _form(account: dict[str, str]) -> dict[str, str]:
    return {"email": account["email"], "password": account["password"]}
