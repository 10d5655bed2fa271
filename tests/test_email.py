"""email=smtp on real processes: a uvicorn server (and, with worker=celery, the documented Celery
worker on Redis) sending to a real SMTP server, aiosmtpd on 127.0.0.1 in this process.

For each project and database the suite migrates a fresh database (PostgreSQL `tpl_mail_<random>`
or a SQLite file), starts the server with EMAIL_VERIFICATION_REQUIRED=true and drives the flows
over HTTP: the first admin logs in; a registration's verification link works once; a reset link
works once, revokes the account's refresh tokens, and expires; the answers for an existing and a
missing address are byte-identical and their median times within 20 %; with the relay down the
request still answers 202 and the failure is logged with the request id.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.auth import ADMIN_EMAIL, ADMIN_PASSWORD, auth_env
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import Process, Server, celery_worker, free_port, serve
from tests.services import PG_ADMIN, postgres_database

# (answer set, database it is served on): SQLite and PostgreSQL, with and without the worker.
COMBINATIONS = [
    ("email-sqlite", "sqlite"),
    ("email-sqlite", "postgresql"),
    ("email-postgresql-celery", "postgresql"),
    ("email-postgresql-celery", "sqlite"),
]
REDIS_URL = "redis://127.0.0.1:6379/3"
LINK = re.compile(r"https?://\S+")
FRONTEND = "http://frontend.invalid"
ACCEPTED = {"detail": "If an account has this address, an e-mail is on its way."}


def _params() -> list[Any]:
    params = []
    for name, database in COMBINATIONS:
        (param,) = answer_set_params([name])
        params.append(pytest.param(name, database, id=f"{name}-on-{database}", marks=param.marks))
    return params


pytestmark = pytest.mark.parametrize(("project", "database"), _params(), indirect=["project"])


class Inbox:
    """aiosmtpd's handler: every accepted message, and a wait for the next one to an address."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, _class=EmailMessage, policy=default)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted"

    def receive(self, address: str, timeout: float = 30) -> EmailMessage:
        with self._arrived:
            found = self._arrived.wait_for(
                lambda: any(m["To"] == address for m in self.messages), timeout
            )
            assert found, f"no e-mail to {address} within {timeout} s"
            message = next(m for m in self.messages if m["To"] == address)
            self.messages.remove(message)
            return message


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[Inbox, Any]]:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost"
    )
    controller.start()
    try:
        yield inbox, controller
    finally:
        with contextlib.suppress(AssertionError):  # stopped by the test already
            controller.stop()


@dataclass
class Stack:
    project: Project
    client: httpx.Client
    server: Server
    worker: Process | None
    inbox: Inbox
    smtp: Any
    expire_tokens: Any  # () -> None: every stored token expires now

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log lines of the server and the worker."""
        lines = self.server.output().splitlines()
        if self.worker is not None:
            lines += self.worker.output().splitlines()
        events = []
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events


@pytest.fixture
def database_env(database: str, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """DATABASE_URL of a fresh database, and a function that expires every stored token."""
    if database == "sqlite":
        path = tmp_path / "mail.db"

        def expire_sqlite() -> None:
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("UPDATE account_tokens SET expires_at = '2000-01-01 00:00:00'")
                connection.commit()

        yield f"sqlite+aiosqlite:///{path}", expire_sqlite
        return
    with postgres_database("tpl_mail") as url:
        name = url.rsplit("/", 1)[1]

        def expire_postgresql() -> None:
            psql = [*PG_ADMIN[: PG_ADMIN.index("-d")], "-d", name, "-v", "ON_ERROR_STOP=1", "-c"]
            sql = "UPDATE account_tokens SET expires_at = now() - interval '1 minute'"
            subprocess.run([*psql, sql], check=True, capture_output=True)

        yield url, expire_postgresql


@pytest.fixture
def stack(project: Project, database_env: tuple[str, Any], tmp_path: Path) -> Iterator[Stack]:
    database_url, expire_tokens = database_env
    prefix = f"tplmail-{secrets.token_hex(6)}"
    with smtp_server() as (inbox, controller):
        env = {
            "DATABASE_URL": database_url,
            "ENVIRONMENT": "development",
            "LOG_FORMAT": "json",
            **auth_env(project),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(controller.port),
            "SMTP_TIMEOUT": "2",
            "EMAIL_VERIFICATION_REQUIRED": "true",
            "PASSWORD_RESET_URL": f"{FRONTEND}/reset-password?token={{token}}",
            "EMAIL_VERIFY_URL": f"{FRONTEND}/verify-email?token={{token}}",
        }
        if project.facts.has_rate_limit:
            env["RATE_LIMIT_DEFAULT"] = "10000/minute"
            env["RATE_LIMIT_LOGIN"] = "10000/minute"
            env["RATE_LIMIT_MAIL_PER_ADDRESS"] = "10000/minute"
            env["RATE_LIMIT_MAIL_PER_CLIENT"] = "10000/minute"
        if project.facts.has_redis_rate_limit:
            env["REDIS_URL"] = REDIS_URL
            env["RATE_LIMIT_KEY_PREFIX"] = prefix
        if project.facts.has_worker:
            env["CELERY_BROKER_URL"] = env["CELERY_RESULT_BACKEND"] = REDIS_URL
            env["CELERY_TASK_QUEUE"] = prefix
        run(
            [str(BIN / "alembic"), "upgrade", "head"],
            project.path,
            clean_env(PYTHONPATH="src", **env),
        )
        try:
            with contextlib.ExitStack() as stack:
                server = stack.enter_context(serve(project, tmp_path, "/health/ready", **env))
                worker = None
                if project.facts.has_worker:
                    worker_env = {k: v for k, v in env.items() if k != "ENVIRONMENT"}
                    worker = stack.enter_context(celery_worker(project, tmp_path, **worker_env))
                client = stack.enter_context(httpx.Client(base_url=server.url, timeout=15))
                yield Stack(project, client, server, worker, inbox, controller, expire_tokens)
            for process in (server, worker):
                if process is not None:
                    assert "Traceback" not in process.output(), process.output()
        finally:
            _clean_redis(prefix)


def _clean_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        stale = list(client.scan_iter(f"*{prefix}*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


def token_of(message: EmailMessage, page: str) -> str:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    (link,) = LINK.findall(text.get_content())
    assert link.startswith(f"{FRONTEND}/{page}?token=")
    assert link.replace("&", "&amp;") in html.get_content()
    return parse_qs(urlsplit(link).query)["token"][0]


def log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def reset_password(
    client: httpx.Client, token: str, password: str = "another passphrase"
) -> httpx.Response:
    return client.post(
        "/api/v1/auth/reset-password", json={"token": token, "new_password": password}
    )


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_token"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_account_e_mails_on_real_processes(stack: Stack) -> None:
    """One server (and worker) per project and database, three claims in order: the flows, no
    enumeration, and last (it stops the relay) an SMTP outage."""
    check_flows(stack)
    check_no_enumeration(stack)
    check_smtp_outage(stack)


def check_flows(stack: Stack) -> None:
    client, inbox = stack.client, stack.inbox
    # The first admin counts as verified: it logs in although verification is required.
    assert log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 200

    # Registration sends a verification link; until it is followed, the account cannot log in.
    ada, password = "ada@example.com", "a long passphrase"
    registered = client.post("/api/v1/auth/register", json={"email": ada, "password": password})
    assert registered.status_code == 201
    refused = log_in(client, ada, password)
    assert refused.status_code == 403
    assert refused.json()["code"] == "email_not_verified"
    verify = token_of(inbox.receive(ada), "verify-email")
    assert client.post("/api/v1/auth/verify-email", json={"token": verify}).status_code == 204
    assert_invalid_token(client.post("/api/v1/auth/verify-email", json={"token": verify}))
    session = log_in(client, ada, password)
    assert session.status_code == 200

    # A reset link works once and logs every session out.
    assert client.post("/api/v1/auth/forgot-password", json={"email": ada}).status_code == 202
    reset = token_of(inbox.receive(ada), "reset-password")
    changed = reset_password(client, reset, "a new passphrase")
    assert changed.status_code == 204, changed.text
    assert_invalid_token(reset_password(client, reset))
    refresh = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session.json()["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert log_in(client, ada, "a new passphrase").status_code == 200

    # An expired link is refused.
    assert client.post("/api/v1/auth/forgot-password", json={"email": ada}).status_code == 202
    expired = token_of(inbox.receive(ada), "reset-password")
    stack.expire_tokens()
    assert_invalid_token(reset_password(client, expired))


def _probe(client: httpx.Client, pairs: int) -> tuple[dict[str, list[float]], set[Any]]:
    existing, missing = "ada@example.com", "nobody@example.com"
    times: dict[str, list[float]] = {existing: [], missing: []}
    answers: set[Any] = set()
    for address in [existing, missing, missing, existing] * (pairs // 2):
        started = time.perf_counter()
        response = client.post("/api/v1/auth/forgot-password", json={"email": address})
        times[address].append(time.perf_counter() - started)
        headers = sorted(
            (k, v) for k, v in response.headers.items() if k not in {"x-request-id", "date"}
        )
        answers.add((response.status_code, response.content, tuple(headers)))
    return times, answers


def check_no_enumeration(stack: Stack) -> None:
    """Byte-identical answers, median answer times within 20 %: measured 1.00 to 1.08 (ratio of
    the medians) on the four stacks, on a 2-core machine shared with other test runs.

    Wall times on a shared machine swing with its load (rounds at 1.3 and 1.6 were seen while
    other suites ran, followed by one at 1.08): a round is 40 interleaved requests of each kind
    (E M M E ...), and up to five rounds are tried. A real difference between the two kinds
    fails every round; a burst of load fails one.
    """
    client = stack.client  # ada@example.com has an account (check_flows)
    _probe(client, 10)  # warm-up: the first requests of a process are slower
    ratios = []
    for _ in range(5):
        times, answers = _probe(client, 40)
        (status, body, _), *others = answers
        assert not others, answers  # one answer for both kinds of address
        assert (status, json.loads(body)) == (202, ACCEPTED)
        medians = [statistics.median(samples) for samples in times.values()]
        ratios.append(max(medians) / min(medians))
        if ratios[-1] <= 1.2:
            break
    assert ratios[-1] <= 1.2, f"median time ratios of the rounds: {ratios}"
    # only the account got e-mails
    assert len([m for m in stack.inbox.messages if m["To"] == "ada@example.com"]) > 0
    assert not [m for m in stack.inbox.messages if m["To"] == "nobody@example.com"]


def check_smtp_outage(stack: Stack) -> None:
    client = stack.client
    account = {"email": "grace@example.com", "password": "a long passphrase"}
    assert client.post("/api/v1/auth/register", json=account).status_code == 201
    stack.inbox.receive("grace@example.com")  # the relay works
    stack.smtp.stop()  # ...and now it is down
    response = client.post("/api/v1/auth/forgot-password", json={"email": "grace@example.com"})
    assert response.status_code == 202
    assert response.json() == ACCEPTED
    request_id = response.headers["X-Request-ID"]
    deadline = time.monotonic() + 30
    while True:
        failures = [
            e
            for e in stack.logs()
            if e.get("event") == "mail_send_failed" and e.get("request_id") == request_id
        ]
        if failures or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert failures, stack.server.output() + (stack.worker.output() if stack.worker else "")
    assert failures[0]["transient"] is True
    assert "grace@example.com" not in json.dumps(failures)
