"""Schemathesis against running projects: every preset (`make test`) and every other tier-3 set
of the answer matrix (`make test-fuzz`, part of `make test-full`).

Each project is served by its own `serve` command on the real services it needs (a fresh
PostgreSQL database, Redis under a key prefix of its own, the broker under a queue of its own),
with the first admin from FIRST_ADMIN_EMAIL/PASSWORD and a registered user (`auth=password`) or
tokens signed with the project's secret (`auth=jwt`). Schemathesis reads `/openapi.json` and
runs every phase (the schema's examples, boundary values, random data, and stateful sequences
that follow the links it infers, such as POST /items -> GET/PATCH/DELETE /items/{item_id}),
once as the user and once as the admin (`PHASES` says which phases each runs). The checks: no
5xx, and every response conforms to the schema. The budget is `MAX_EXAMPLES` cases per
operation and phase, one request at a time (the fault tier, not this one, is about
concurrency).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import matrix
from tests.answers import PRESETS
from tests.auth import ADMIN_EMAIL, ADMIN_PASSWORD, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, auth_env
from tests.conftest import BIN, Project, clean_env, render, run
from tests.facts import facts
from tests.servers import Server, serve
from tests.services import TEST_REDIS_URL, postgres_database, redis_prefix

# Cases per API operation and phase: about 20 s of fuzzing per run on this 2-core machine.
MAX_EXAMPLES = 5
SEED = 20261203
CHECKS = "not_a_server_error,response_schema_conformance"
# The phases each caller runs. Presets (`make test`): every phase for the admin (or the
# anonymous caller without auth), who reaches every route; the user skips the coverage phase
# (boundary values of every parameter, half of a run's time), since the user's value is the
# answers to a caller without the admin role, which the other phases reach. Tier-3 sets
# (`make test-fuzz`) differ from the presets in their wiring, not in their routes (the
# everything-on preset has every route): no coverage phase, and the user runs the examples and
# the stateful sequences only, so that the tier fits `make test-full`'s budget.
PHASES = {
    "preset": {
        "admin": "examples,coverage,fuzzing,stateful",
        "anonymous": "examples,coverage,fuzzing,stateful",
        "user": "examples,fuzzing,stateful",
    },
    "tier3": {
        "admin": "examples,fuzzing,stateful",
        "anonymous": "examples,fuzzing,stateful",
        "user": "examples,stateful",
    },
}
USER = {"email": "fuzz-user@example.com", "password": "a long fuzzing passphrase"}
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


def _preset_params() -> list[Any]:
    return [
        pytest.param(
            matrix.complete(answers),
            id=f"preset-{name}",
            marks=pytest.mark.xdist_group(f"fuzz-{name}"),
        )
        for name, answers in PRESETS.items()
    ]


def _tier3_params() -> list[Any]:
    presets = {matrix._key(matrix.complete(answers)) for answers in PRESETS.values()}
    return [
        pytest.param(
            answers,
            id=matrix.name_of(answers),
            marks=[pytest.mark.full, pytest.mark.xdist_group(f"fuzz-tier3-{i}")],
        )
        for i, answers in enumerate(matrix.tier3())
        if matrix._key(answers) not in presets
    ]


@contextlib.contextmanager
def services(derived: Any, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of a run: its own database, Redis keys and broker queue, and generous
    rate limits (the fuzzer must reach the routes, not the 429s)."""
    env: dict[str, str] = {"ENVIRONMENT": "development", "LOG_FORMAT": "json"}
    with contextlib.ExitStack() as stack:
        if derived.is_postgresql:
            env["DATABASE_URL"] = stack.enter_context(postgres_database("tpl_fuzz"))
        elif derived.is_sqlite:
            env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
        if derived.needs_redis:
            prefix = stack.enter_context(redis_prefix())
            env.update(
                REDIS_URL=TEST_REDIS_URL,
                CACHE_KEY_PREFIX=f"{prefix}:cache:",
                RATE_LIMIT_KEY_PREFIX=f"{prefix}:ratelimit",
                WS_REDIS_CHANNEL_PREFIX=f"{prefix}:ws:",
            )
        if derived.has_rate_limit:
            env.update(RATE_LIMIT_DEFAULT="100000/minute")
            if derived.has_users:
                env.update(
                    RATE_LIMIT_LOGIN="100000/minute", RATE_LIMIT_LOGIN_ACCOUNT="100000/minute"
                )
        if derived.has_worker:
            env.update(stack.enter_context(broker_queue(derived.broker)))
        yield env


@contextlib.contextmanager
def broker_queue(broker: str) -> Iterator[dict[str, str]]:
    """A queue of this run only on the real broker, deleted afterwards with its messages (no
    worker runs: the jobs the fuzzer posts stay pending)."""
    queue = f"tplfuzz-{secrets.token_hex(6)}"
    if broker == "redis":
        env = {"CELERY_BROKER_URL": TEST_REDIS_URL, "CELERY_RESULT_BACKEND": TEST_REDIS_URL}
    else:
        env = {"CELERY_BROKER_URL": AMQP_URL, "CELERY_RESULT_BACKEND": "rpc://"}
    try:
        yield {**env, "CELERY_TASK_QUEUE": queue}
    finally:
        if broker == "redis":
            import redis

            client = redis.Redis.from_url(TEST_REDIS_URL)
            stale = [*client.scan_iter(f"*{queue}*"), *client.scan_iter(f"{queue}-job-*")]
            if stale:
                client.delete(*stale)
            client.close()
        else:
            from kombu import Connection

            with Connection(AMQP_URL) as connection:
                channel = connection.channel()
                channel.queue_delete(queue)
                channel.exchange_delete(queue)


def jwt_token(subject: str, roles: list[str]) -> str:
    import jwt

    now = int(time.time())
    claims = {
        "sub": subject,
        "roles": roles,
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def identities(derived: Any, server: Server) -> dict[str, str | None]:
    """The callers schemathesis runs as: a user and an admin (nobody without auth)."""
    if derived.has_identity_provider:
        return {
            "user": jwt_token("fuzz-user", ["user"]),
            "admin": jwt_token("fuzz-admin", ["admin"]),
        }
    if not derived.has_users:
        return {"anonymous": None}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.post("/api/v1/auth/register", json=USER).status_code == 201
        tokens = {}
        for name, (email, password) in {
            "user": (USER["email"], USER["password"]),
            "admin": (ADMIN_EMAIL, ADMIN_PASSWORD),
        }.items():
            response = client.post(
                "/api/v1/auth/token", data={"username": email, "password": password}
            )
            assert response.status_code == 200, response.text
            tokens[name] = response.json()["access_token"]
    return dict(tokens)


def fuzz(answers: dict[str, Any], tmp_path: Path, tier: str) -> None:
    full = matrix.complete(answers)
    derived = facts.derive(full)
    path = render(tmp_path / "project", matrix.data_of(full))
    project = Project(matrix.name_of(full), path, full, derived)
    with services(derived, tmp_path) as env:
        env.update(auth_env(project))
        if derived.has_database:
            migrate = [str(BIN / "alembic"), "upgrade", "head"]
            run(migrate, path, clean_env(PYTHONPATH="src", **env))
        with serve(project, tmp_path, "/health/ready", **env) as server:
            failures = []
            # The user first: the admin's run may deactivate that user.
            for name, token in identities(derived, server).items():
                cmd = [
                    str(BIN / "schemathesis"),
                    "run",
                    f"{server.url}/openapi.json",
                    f"--checks={CHECKS}",
                    f"--phases={PHASES[tier][name]}",
                    f"--max-examples={MAX_EXAMPLES}",
                    f"--seed={SEED}",
                    "--workers=1",
                    "--request-timeout=20",
                    "--suppress-health-check=all",
                    "--no-shrink",
                ]
                if token is not None:
                    cmd.append(f"--header=Authorization: Bearer {token}")
                result = subprocess.run(
                    cmd,
                    cwd=tmp_path,
                    env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": str(HOOKS)},
                    capture_output=True,
                    text=True,
                    timeout=600,
                    check=False,
                )
                if result.returncode != 0:
                    failures.append(
                        f"--- as {name}:\n{result.stdout[-12000:]}\n{result.stderr[-3000:]}"
                    )
            output = server.output()
    assert not failures, "\n".join(failures)
    assert "unhandled_error" not in output, output[-20000:]


@pytest.mark.parametrize("answers", _preset_params())
def test_schemathesis_finds_nothing_in_a_preset(answers: dict[str, Any], tmp_path: Path) -> None:
    fuzz(answers, tmp_path, "preset")


@pytest.mark.parametrize("answers", _tier3_params())
def test_schemathesis_finds_nothing_in_tier3(answers: dict[str, Any], tmp_path: Path) -> None:
    fuzz(answers, tmp_path, "tier3")
