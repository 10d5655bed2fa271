"""Hostile input on real processes: the everything-on preset served by its own `serve` command
(uvicorn) and by gunicorn with two workers, on PostgreSQL, Redis and RabbitMQ.

- every response carries the security headers and no `server` header, from both servers;
- a body whose declared length is over MAX_REQUEST_BODY_BYTES is refused before it is sent,
  a chunked one is cut at the limit;
- no token reaches the servers' output (uvicorn's WebSocket lines, the access log, errors);
- a password guesser is limited per account across processes and addresses, and a token of
  their own does not buy a fresh window;
- one user cannot change another's item, across processes;
- the ids and offsets that overflowed PostgreSQL's columns are 422.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth import ADMIN_EMAIL, ADMIN_PASSWORD, auth_env
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import Server, serve_many, servers
from tests.services import TEST_REDIS_URL, postgres_database, redis_prefix

pytestmark = pytest.mark.parametrize(
    "project", answer_set_params(["preset-everything"]), indirect=True
)

GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
ACCOUNT_LIMIT = 4


@pytest.fixture
def env(project: Project, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated database of its own, a Redis key prefix of its own, the first admin."""
    with postgres_database("tpl_security") as url, redis_prefix() as prefix:
        environment = {
            "DATABASE_URL": url,
            "REDIS_URL": TEST_REDIS_URL,
            "CACHE_KEY_PREFIX": f"{prefix}:cache:",
            "RATE_LIMIT_KEY_PREFIX": f"{prefix}:ratelimit",
            "WS_REDIS_CHANNEL_PREFIX": f"{prefix}:ws:",
            "RATE_LIMIT_DEFAULT": "10000/minute",
            "RATE_LIMIT_LOGIN_ACCOUNT": f"{ACCOUNT_LIMIT}/minute",
            "LOG_FORMAT": "json",
            "ENVIRONMENT": "development",
            **auth_env(project),
        }
        run(
            [str(BIN / "alembic"), "upgrade", "head"],
            project.path,
            clean_env(PYTHONPATH="src", **environment),
        )
        yield environment


@contextlib.contextmanager
def serving(project: Project, tmp_path: Path, env: dict[str, str], how: str) -> Iterator[Server]:
    if how == "serve":
        with serve_many(project, 1, tmp_path, "/health/ready", **env) as (server,):
            yield server
    else:
        with servers(
            project.path, GUNICORN, tmp_path, {**env, "WORKERS": "2"}, ready="/health/ready"
        ) as (server,):
            yield server


def login(client: httpx.Client, email: str, password: str, **headers: str) -> httpx.Response:
    return client.post(
        "/api/v1/auth/token", data={"username": email, "password": password}, headers=headers
    )


def bearer(client: httpx.Client, email: str, password: str) -> dict[str, str]:
    response = login(client, email, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("how", ["serve", "gunicorn"])
def test_security_headers_and_no_server_header(
    project: Project, tmp_path: Path, env: dict[str, str], how: str
) -> None:
    with (
        serving(project, tmp_path, env, how) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        token = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        answers = [
            client.get("/health/live"),
            client.get("/docs"),
            client.get("/api/v1/items"),  # 401
            client.get("/no/such/route"),
            token,
        ]
    for response in answers:
        assert "server" not in response.headers, (how, response.url, response.headers)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (how, response.url, name)
    assert token.status_code == 200
    assert (token.headers["cache-control"], token.headers["pragma"]) == ("no-store", "no-cache")


def _read_response(sock: socket.socket, data: bytes = b"") -> bytes:
    """One HTTP response (headers and a Content-Length body) from the socket."""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("how", ["serve", "gunicorn"])
def test_a_body_over_the_limit_is_refused_before_it_is_read(
    project: Project, tmp_path: Path, env: dict[str, str], how: str
) -> None:
    """50 MB declared: 413 comes back while the client has sent only its headers; a chunked
    body is cut at the limit (1 MiB by default) while the client is still sending."""
    with serving(project, tmp_path, env, how) as server:
        with httpx.Client(base_url=server.url) as client:
            headers = bearer(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        authorization = headers["Authorization"]
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            started = time.monotonic()
            sock.sendall(
                (
                    "POST /api/v1/jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    f"Authorization: {authorization}\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
                ).encode()
            )
            answer = _read_response(sock)
            elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert b'"code":"payload_too_large"' in answer
        assert elapsed < 1, f"413 after {elapsed:.2f} s"

        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(
                (
                    "POST /api/v1/jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                    f"Authorization: {authorization}\r\nTransfer-Encoding: chunked\r\n\r\n"
                ).encode()
            )
            chunk = b"1," * 32768  # 64 KiB
            sent = 0
            sock.settimeout(0.05)
            answer = b""
            while sent < 20 * 1024 * 1024 and not answer:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(65536)
            sock.settimeout(5)
            answer = _read_response(sock, answer)
        assert answer.startswith(b"HTTP/1.1 413"), answer
        assert b'"code":"payload_too_large"' in answer
        assert sent < 4 * 1024 * 1024, f"the server read {sent} bytes before refusing"
    assert "Traceback" not in server.output(), server.output()


@pytest.mark.parametrize("how", ["serve", "gunicorn"])
def test_no_token_reaches_the_logs(
    project: Project, tmp_path: Path, env: dict[str, str], how: str
) -> None:
    """uvicorn logs every WebSocket with its path and query (`/ws/room?token=...`): the servers'
    whole output holds neither the access token nor a refused one, nor the password."""
    import websockets.exceptions
    import websockets.sync.client

    with serving(project, tmp_path, env, how) as server:
        with httpx.Client(base_url=server.url) as client:
            pair = login(client, ADMIN_EMAIL, ADMIN_PASSWORD).json()
            token = pair["access_token"]
            client.get("/api/v1/items", params={"token": token})
            client.get("/api/v1/items", headers={"Authorization": f"Bearer {token}x"})
            client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        with websockets.sync.client.connect(f"{server.ws_url}/ws/room?token={token}") as ws:
            ws.send("hello")
        broken = f"{server.ws_url}/ws/room?token={token}broken"
        with (
            pytest.raises(websockets.exceptions.InvalidStatus),
            websockets.sync.client.connect(broken),
        ):
            pass
        time.sleep(0.5)
        output = server.output()
    assert "WebSocket /ws/room?token=[redacted]" in output, output
    signature = token.rsplit(".", 1)[1]
    for secret in (signature, pair["refresh_token"], ADMIN_PASSWORD):
        assert secret not in output, (secret, output)


def test_password_guessing_is_limited_per_account_across_processes(
    project: Project, tmp_path: Path, env: dict[str, str]
) -> None:
    """Two processes on one Redis; the guesser comes from a new address (through the trusted
    proxy) every time: RATE_LIMIT_LOGIN_ACCOUNT attempts at the account, then 429 on both
    processes, while another account is unaffected. Sending a token of one's own does not
    reset the per-address window either."""
    proxied = {**env, "TRUSTED_PROXIES": "127.0.0.1", "RATE_LIMIT_LOGIN": "5/minute"}
    with contextlib.ExitStack() as stack:
        started = stack.enter_context(serve_many(project, 2, tmp_path, "/health/ready", **proxied))
        a, b = (stack.enter_context(httpx.Client(base_url=s.url)) for s in started)
        attacker = {"email": "mallory@example.com", "password": "a long passphrase"}
        assert a.post("/api/v1/auth/register", json=attacker).status_code == 201
        own_token = bearer(b, **attacker)

        statuses = [
            login(
                (a, b)[n % 2], ADMIN_EMAIL, f"guess-{n}", **{"X-Forwarded-For": f"198.51.100.{n}"}
            ).status_code
            for n in range(ACCOUNT_LIMIT + 2)
        ]
        right_password = login(
            a, ADMIN_EMAIL, ADMIN_PASSWORD, **{"X-Forwarded-For": "198.51.100.99"}
        )
        other_account = login(b, attacker["email"], "wrong", **{"X-Forwarded-For": "198.51.100.98"})

        # One address, five guesses at five accounts: the sixth is refused, token or not.
        per_address = [
            login(
                (a, b)[n % 2], f"user{n}@example.com", "guess", **{"X-Forwarded-For": "203.0.113.9"}
            ).status_code
            for n in range(5)
        ]
        with_token = login(
            a, "user9@example.com", "guess", **{"X-Forwarded-For": "203.0.113.9"}, **own_token
        )
    assert statuses == [401] * ACCOUNT_LIMIT + [429, 429], statuses
    # Locked until the window moves on, whoever asks: the limit does not tell a right guess.
    assert right_password.status_code == 429
    assert other_account.status_code == 401
    assert per_address == [401] * 5
    assert with_token.status_code == 429, with_token.text
    for server in started:
        assert "Traceback" not in server.output(), server.output()


def test_a_user_cannot_change_another_users_item(
    project: Project, tmp_path: Path, env: dict[str, str]
) -> None:
    with contextlib.ExitStack() as stack:
        started = stack.enter_context(serve_many(project, 2, tmp_path, "/health/ready", **env))
        a, b = (stack.enter_context(httpx.Client(base_url=s.url)) for s in started)
        owner = {"email": "ada@example.com", "password": "a long passphrase"}
        other = {"email": "eve@example.com", "password": "another passphrase"}
        for account in (owner, other):
            assert a.post("/api/v1/auth/register", json=account).status_code == 201
        owner_headers, other_headers = bearer(a, **owner), bearer(b, **other)
        admin_headers = bearer(a, ADMIN_EMAIL, ADMIN_PASSWORD)
        created = a.post("/api/v1/items", json={"name": "Ada's"}, headers=owner_headers)
        url = f"/api/v1/items/{created.json()['id']}"
        stolen = b.patch(url, json={"name": "Eve's"}, headers=other_headers)
        deleted = b.delete(url, headers=other_headers)
        after = a.get(url, headers=other_headers)
        by_owner = b.patch(url, json={"description": "mine"}, headers=owner_headers)
        by_admin = a.patch(url, json={"description": "checked"}, headers=admin_headers)
    assert (stolen.status_code, stolen.json()["code"]) == (403, "forbidden")
    assert deleted.status_code == 403
    assert (after.status_code, after.json()["name"]) == (200, "Ada's")
    assert by_owner.status_code == 200
    assert by_admin.status_code == 200


def test_the_overflowing_requests_of_issue_20_are_422(
    project: Project, tmp_path: Path, env: dict[str, str]
) -> None:
    """They were 500s on PostgreSQL (int32 and int64 overflow in asyncpg)."""
    with serve_many(project, 1, tmp_path, "/health/ready", **env) as (server,):
        with httpx.Client(base_url=server.url) as client:
            admin = bearer(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            answers: list[Any] = [
                client.get("/api/v1/users?offset=9223372036854775808", headers=admin),
                client.post("/api/v1/users/2147483648/deactivate", headers=admin),
                client.put(
                    "/api/v1/users/2147483648/roles", json={"roles": ["user"]}, headers=admin
                ),
                client.get("/api/v1/items/2147483648", headers=admin),
                client.get("/api/v1/items?offset=9223372036854775808", headers=admin),
            ]
        output = server.output()
    assert [answer.status_code for answer in answers] == [422] * len(answers)
    assert "Traceback" not in output, output


def test_every_entry_point_switches_the_server_header_off(project: Project) -> None:
    """`serve` and gunicorn are tested above on real processes; `make run` and the image's
    command are read from their files (the image runs gunicorn, whose workers are tested)."""
    makefile = (project.path / "Makefile").read_text()
    run_line = next(
        line for line in makefile.splitlines() if "uvicorn" in line and "--reload" in line
    )
    assert "--no-server-header" in run_line, run_line
    dockerfile = (project.path / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py"]' in dockerfile
    assert '"server_header": False' in (project.path / "gunicorn.conf.py").read_text()
    main = (project.path / "src" / project.package / "__main__.py").read_text()
    assert "server_header=False" in main
