"""A real Celery worker process runs the jobs queued through the real broker.

For each broker the suite renders the project, starts the documented worker command and the
server as separate processes against the broker at 127.0.0.1, queues a job over HTTP and polls
until the worker's result arrives. With Redis, a second server process reads the job's state:
accepted ids and results are shared by every process. Every run uses its own queue (Redis
database 3 and its keys are cleaned afterwards; the RabbitMQ queue is deleted).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Project, answer_set_params
from tests.servers import Server, celery_worker, serve

pytestmark = pytest.mark.parametrize(
    "project", answer_set_params(["celery-redis", "celery-rabbitmq"]), indirect=True
)

REDIS_URL = "redis://127.0.0.1:6379/3"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def celery_env(project: Project) -> Iterator[dict[str, str]]:
    queue = f"tplw-{secrets.token_hex(6)}"
    if project.facts.broker == "redis":
        env = {"CELERY_BROKER_URL": REDIS_URL, "CELERY_RESULT_BACKEND": REDIS_URL}
    else:
        env = {"CELERY_BROKER_URL": AMQP_URL, "CELERY_RESULT_BACKEND": "rpc://"}
    env["CELERY_TASK_QUEUE"] = queue
    yield env
    if project.facts.broker == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        # queue keys, bindings, results and accepted-id markers of this run only
        stale = [*client.scan_iter(f"*{queue}*"), *client.scan_iter("*job-*")]
        stale += list(client.scan_iter("celery-task-meta-*"))
        if stale:
            client.delete(*stale)
        client.close()
    else:
        from kombu import Connection

        with Connection(AMQP_URL) as connection:
            channel = connection.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(queue)


def wait_for_job(server: Server, job_id: str) -> tuple[list[str], dict[str, Any]]:
    seen: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(f"{server.url}/api/v1/jobs/{job_id}", timeout=5)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        seen.append(body["status"])
        if body["status"] in {"success", "failure"}:
            return seen, body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish; statuses seen: {seen}")


def test_a_real_worker_finishes_a_queued_job(
    project: Project, celery_env: dict[str, str], tmp_path: Path
) -> None:
    with serve(project, tmp_path, **celery_env) as server:
        ready = httpx.get(f"{server.url}/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["broker"] == "ok"

        # queued before any worker runs: the job waits in the broker as "pending"
        response = httpx.post(f"{server.url}/api/v1/jobs", json={"numbers": [1, 2, 3.5]})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        pending = httpx.get(f"{server.url}/api/v1/jobs/{job_id}").json()
        assert pending == {"id": job_id, "status": "pending", "result": None}

        with celery_worker(project, tmp_path, **celery_env) as worker:
            seen, body = wait_for_job(server, job_id)
            assert body == {"id": job_id, "status": "success", "result": 6.5}, worker.output()
            assert set(seen) <= {"pending", "started", "success"}
            second = httpx.post(f"{server.url}/api/v1/jobs", json={"numbers": [40, 2]})
            _, body = wait_for_job(server, second.json()["id"])
            assert body["result"] == 42
        assert "succeeded" in worker.output()

        unknown = httpx.get(f"{server.url}/api/v1/jobs/{secrets.token_hex(16)}")
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "not_found"

        if project.facts.broker == "redis":
            # another process (another replica) knows the job and reads its result
            with serve(project, tmp_path, **celery_env) as other:
                response = httpx.get(f"{other.url}/api/v1/jobs/{job_id}")
                assert response.json() == {"id": job_id, "status": "success", "result": 6.5}
