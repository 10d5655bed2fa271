"""Real services for rendered projects' tests: a fresh PostgreSQL database and a Redis database
index on 127.0.0.1, cleaned up afterwards. (A rendered project's own tests run Celery on its
in-memory transport; tests/test_worker.py runs a real worker on RabbitMQ and on Redis.)"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

PG_ADMIN = [
    "psql",
    "-h",
    "127.0.0.1",
    "-U",
    "postgres",
    "-d",
    "postgres",
    "-v",
    "ON_ERROR_STOP=1",
    "-q",
    "-c",
]


@contextlib.contextmanager
def postgres_database(prefix: str = "tpl") -> Iterator[str]:
    """A uniquely named PostgreSQL database, dropped afterwards; yields its asyncpg URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    subprocess.run([*PG_ADMIN, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        subprocess.run(
            [*PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
            check=False,
            capture_output=True,
        )


# The template's tests use their own Redis database, with a fresh key prefix per test.
TEST_REDIS_DB = 5
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix in the test database; its keys are deleted afterwards."""
    import redis

    prefix = f"template-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@contextlib.contextmanager
def service_env(answers: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Environment variables that point a rendered project's tests at the real services its
    answers need: the documented TEST_DATABASE_URL and TEST_REDIS_URL (tests/services.py of the
    project), never the service's own DATABASE_URL and REDIS_URL."""
    from tests.facts import facts

    derived = facts.derive(answers)
    env: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        if derived.is_postgresql:
            env["TEST_DATABASE_URL"] = stack.enter_context(postgres_database())
        if derived.tests_need_redis:
            # Rendered tests write under a random key prefix of their own and delete it after.
            env["TEST_REDIS_URL"] = "redis://127.0.0.1:6379/7"
        yield env


def delete_celery_queue(broker: str, redis_url: str, amqp_url: str, queue: str) -> None:
    """What a test's Celery run on `queue` left on the machine's broker: on Redis the queue's
    keys and bindings, on RabbitMQ the queue and its exchange. Its results and accepted-id
    markers expire by themselves (CELERY_RESULT_EXPIRES, which the tests set to a minute):
    deleting every `celery-task-meta-*` key here deleted the results of the tests and runs
    beside it (`KeyError` on a job that had run)."""
    if broker == "redis":
        import redis

        client = redis.Redis.from_url(redis_url)
        stale = list(client.scan_iter(f"*{queue}*"))
        if stale:
            client.delete(*stale)
        client.close()
    else:
        from kombu import Connection

        with Connection(amqp_url) as connection:
            channel = connection.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(queue)


# Queues jobs through a rendered project's JobQueue (what POST /api/v1/jobs uses), waits for
# their states as GET /api/v1/jobs/{id} reads them, and prints them as JSON:
#   python probe_client.py '<the jobs' arguments, a JSON list>' <task name> ...
JOB_PROBE_CLIENT = """
import asyncio
import dataclasses
import json
import sys
import time

from {pkg}.jobs import open_job_queue
from {pkg}.settings import load_settings


async def main():
    arguments = json.loads(sys.argv[1])
    async with open_job_queue(load_settings()) as queue:
        ids = {{name: await queue.submit(name, arguments) for name in sys.argv[2:]}}
        done = {{}}
        deadline = time.monotonic() + 60
        while len(done) < len(ids) and time.monotonic() < deadline:
            for name, job_id in ids.items():
                state = await queue.state(job_id)
                if state is not None and state.status in {{"success", "failure"}}:
                    done[name] = dataclasses.asdict(state)
            await asyncio.sleep(0.2)
        print(json.dumps(done))


asyncio.run(main())
"""
