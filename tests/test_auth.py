"""auth=password on real processes: two uvicorn servers share one PostgreSQL database.

The claims here are about several processes: the first admin is created once although both
servers start at the same time, and a refresh token used on one server is refused, with its
whole family, on the other. Each test works in a database of its own (`tpl_auth_<random>`),
dropped afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.auth import ADMIN_EMAIL, ADMIN_PASSWORD, auth_env
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.services import postgres_database

PASSWORD_POSTGRESQL_SETS = ["password-postgresql"]

pytestmark = pytest.mark.parametrize(
    "project", answer_set_params(PASSWORD_POSTGRESQL_SETS), indirect=True
)


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database("tpl_auth") as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(project: Project, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{project.package}.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return server, f"http://127.0.0.1:{port}"


def _wait_until_ready(url: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"uvicorn exited {server.returncode}:\n{server.communicate()[0]}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("uvicorn did not become ready within 60 s")


@pytest.fixture
def servers(project: Project, database_url: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Two uvicorn processes on one database, started at the same time."""
    env = clean_env(
        DATABASE_URL=database_url,
        PYTHONPATH="src",
        ENVIRONMENT="development",
        PYTHONDONTWRITEBYTECODE="1",
        **auth_env(project),
    )
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, env)
    started = [_serve(project, env), _serve(project, env)]
    with ExitStack() as stack:
        for server, _ in started:
            stack.callback(_stop, server)
        for server, url in started:
            _wait_until_ready(url, server)
        clients = [
            stack.enter_context(httpx.Client(base_url=url, timeout=10)) for _, url in started
        ]
        yield clients[0], clients[1]


def _stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output


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
