"""Idempotency-Key against real uvicorn processes: one key, 20 concurrent POSTs spread over two
processes, exactly one item, whichever shared store the answers give (the database, Redis); and
a job queue alone, whose keys live in its one API process.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import free_port, serve_many
from tests.services import TEST_REDIS_DB, TEST_REDIS_URL, postgres_database, redis_prefix

ITEMS = "/api/v1/items"
REQUESTS = 20


@pytest.fixture
def env(project: Project, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated database of the test's own (and a fresh Redis prefix) for its processes."""
    with contextlib.ExitStack() as stack:
        prefix = stack.enter_context(redis_prefix())
        if project.facts.is_postgresql:
            url = stack.enter_context(postgres_database("idem"))
        else:
            url = f"sqlite+aiosqlite:///{tmp_path}/items.db"
        run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(DATABASE_URL=url))
        yield {
            "DATABASE_URL": url,
            "REDIS_URL": TEST_REDIS_URL,
            "IDEMPOTENCY_KEY_PREFIX": f"{prefix}:idempotency:",
            "CACHE_KEY_PREFIX": f"{prefix}:cache:",
            "RATE_LIMIT_KEY_PREFIX": f"{prefix}:ratelimit",
            "RATE_LIMIT_DEFAULT": "100000/minute",
        }


def _post_together(urls: list[str], key: str) -> list[httpx.Response]:
    """REQUESTS POSTs with one key and one body, alternating between the processes, released
    at the same moment."""
    start = threading.Barrier(REQUESTS)
    body = {"name": f"once-{key[:8]}", "description": "created once"}

    def post(n: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            start.wait()
            return client.post(f"{urls[n % 2]}{ITEMS}", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(post, range(REQUESTS)))


@pytest.mark.parametrize(
    ("project", "store"),
    [
        pytest.param(
            "postgresql",
            "database",
            id="postgresql-database",
            marks=answer_set_params(["postgresql"])[0].marks,
        ),
        pytest.param(
            "cache-redis-sqlite",
            "redis",
            id="sqlite-redis",
            marks=answer_set_params(["cache-redis-sqlite"])[0].marks,
        ),
    ],
    indirect=["project"],
)
def test_one_key_creates_one_item_across_two_processes(
    project: Project, store: str, env: dict[str, str], tmp_path: Path
) -> None:
    assert project.facts.idempotency_store == store
    key = str(uuid.uuid4())
    with serve_many(project, 2, tmp_path, **env) as started:
        urls = [server.url for server in started]
        responses = _post_together(urls, key)
        statuses = sorted(response.status_code for response in responses)
        created = [response for response in responses if response.status_code == 201]
        assert set(statuses) <= {201, 409}, [(r.status_code, r.text) for r in responses]
        assert created, statuses
        assert {response.json()["id"] for response in created} == {created[0].json()["id"]}
        fresh = [r for r in created if "idempotent-replayed" not in r.headers]
        assert len(fresh) == 1, statuses
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.json()["code"] == "idempotency_key_in_flight"
            assert "retry-after" in conflict.headers
        # Once the first is done, every retry on either process is its replay.
        with httpx.Client(timeout=10) as client:
            for url in urls:
                again = client.post(
                    f"{url}{ITEMS}",
                    json={"name": f"once-{key[:8]}", "description": "created once"},
                    headers={"Idempotency-Key": key},
                )
                assert again.status_code == 201, again.text
                assert again.headers["idempotent-replayed"] == "true"
                assert again.json() == fresh[0].json()
                assert again.headers["location"] == fresh[0].headers["location"]
            listed = client.get(f"{urls[0]}{ITEMS}").json()
    assert listed["total"] == 1
    assert [item["id"] for item in listed["items"]] == [fresh[0].json()["id"]]


@pytest.mark.parametrize("project", answer_set_params(["cache-redis-sqlite"]), indirect=True)
def test_a_key_gets_503_while_redis_is_down(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    """Never a second execution: without its store a request with a key is refused, one
    without a key is served."""
    env = {**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/{TEST_REDIS_DB}"}
    with serve_many(project, 1, tmp_path, **env) as (server,), httpx.Client(timeout=10) as client:
        body = {"name": "no-store", "description": None}
        refused = client.post(f"{server.url}{ITEMS}", json=body, headers={"Idempotency-Key": "k"})
        served = client.post(f"{server.url}{ITEMS}", json=body)
        log = server.output()
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "service_unavailable"
    assert int(refused.headers["retry-after"]) >= 1
    assert served.status_code == 201, served.text
    assert "idempotency_store_unavailable" in log


@contextlib.contextmanager
def job_queue_servers(
    project: Project, count: int, tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[list[str], Callable[[], int]]]:
    """`count` API processes whose jobs go to a queue of their own on Redis, with no worker:
    their URLs, and how many jobs the queue holds (every one published is still there)."""
    import redis

    queue = f"template-idem-{uuid.uuid4().hex[:12]}"
    env = {
        **env,
        "CELERY_BROKER_URL": TEST_REDIS_URL,
        "CELERY_RESULT_BACKEND": TEST_REDIS_URL,
        "CELERY_TASK_QUEUE": queue,
    }
    broker = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        with serve_many(project, count, tmp_path, **env) as started:
            yield [server.url for server in started], lambda: int(broker.llen(queue))
    finally:
        broker.delete(queue)
        broker.close()


def _post_jobs_together(urls: list[str], key: str, body: dict[str, Any]) -> list[httpx.Response]:
    """REQUESTS POSTs of one job with one key, alternating between the processes, released at
    the same moment."""
    start = threading.Barrier(REQUESTS)

    def post(n: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            start.wait()
            return client.post(
                f"{urls[n % len(urls)]}/api/v1/jobs", json=body, headers={"Idempotency-Key": key}
            )

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(post, range(REQUESTS)))


def _assert_one_job(responses: list[httpx.Response]) -> list[httpx.Response]:
    """Every answer a 202 of the one job (or a 409 while it was in flight); the 202s."""
    accepted = [response for response in responses if response.status_code == 202]
    assert {response.status_code for response in responses} <= {202, 409}, [
        (r.status_code, r.text) for r in responses
    ]
    assert len({response.json()["id"] for response in accepted}) == 1
    assert len([r for r in accepted if "idempotent-replayed" not in r.headers]) == 1
    return accepted


@pytest.mark.parametrize("project", answer_set_params(["sqlite-celery-ws"]), indirect=True)
def test_one_key_queues_one_job_across_two_processes(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    with job_queue_servers(project, 2, tmp_path, env) as (urls, queued):
        responses = _post_jobs_together(urls, str(uuid.uuid4()), {"numbers": [1, 2, 3]})
        assert queued() == 1
    _assert_one_job(responses)


@pytest.mark.parametrize("project", answer_set_params(["celery-redis"]), indirect=True)
def test_a_job_queue_alone_queues_one_job_per_key_in_its_process(
    project: Project, tmp_path: Path
) -> None:
    """Neither a database nor the project's Redis client: the keys live in the API process's
    memory (the documented one-process promise), still one job for 20 concurrent POSTs."""
    assert project.facts.idempotency_store == "memory"
    key, body = str(uuid.uuid4()), {"numbers": [4, 5, 6]}
    with job_queue_servers(project, 1, tmp_path, {}) as ([url], queued):
        responses = _post_jobs_together([url], key, body)
        with httpx.Client(timeout=10) as client:
            again = client.post(f"{url}/api/v1/jobs", json=body, headers={"Idempotency-Key": key})
            other = client.post(
                f"{url}/api/v1/jobs", json={"numbers": [7]}, headers={"Idempotency-Key": key}
            )
        assert queued() == 1
    accepted = _assert_one_job(responses)
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == accepted[0].json()
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
