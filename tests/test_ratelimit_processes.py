"""Rate limiting against real uvicorn processes: the limit holds across them with Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Project, answer_set_params
from tests.servers import free_port, serve, serve_many
from tests.services import TEST_REDIS_DB, TEST_REDIS_URL, redis_prefix

LIMIT = 10


def _alternate(urls: list[str], requests: int) -> list[int]:
    with httpx.Client(timeout=5) as client:
        return [
            client.get(f"{urls[n % len(urls)]}/api/v1/info").status_code for n in range(requests)
        ]


@pytest.mark.parametrize("project", answer_set_params(["ratelimit-redis"]), indirect=True)
def test_redis_limit_holds_across_two_processes(project: Project, tmp_path: Path) -> None:
    with redis_prefix() as prefix:
        env = {
            "REDIS_URL": TEST_REDIS_URL,
            "RATE_LIMIT_DEFAULT": f"{LIMIT}/minute",
            "RATE_LIMIT_KEY_PREFIX": prefix,
        }
        with serve_many(project, 2, tmp_path, **env) as started:
            statuses = _alternate([server.url for server in started], 3 * LIMIT)
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * LIMIT
    assert statuses[:LIMIT] == [200] * LIMIT


@pytest.mark.parametrize("project", answer_set_params(["ratelimit-memory"]), indirect=True)
def test_memory_limit_is_per_process(project: Project, tmp_path: Path) -> None:
    """The contrast that shows the test above can fail: memory counts in each process."""
    env = {"RATE_LIMIT_DEFAULT": f"{LIMIT}/minute"}
    with serve_many(project, 2, tmp_path, **env) as started:
        statuses = _alternate([server.url for server in started], 3 * LIMIT)
    assert statuses.count(200) == 2 * LIMIT


@pytest.mark.parametrize("project", answer_set_params(["ratelimit-redis"]), indirect=True)
def test_redis_down_fails_open_in_a_real_process(project: Project, tmp_path: Path) -> None:
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/{TEST_REDIS_DB}",
        "RATE_LIMIT_DEFAULT": "2/minute",
    }
    with serve(project, tmp_path, **env) as server:
        statuses = _alternate([server.url], 5)
        ready = httpx.get(f"{server.url}/health/ready", timeout=5)
    assert statuses == [200] * 5
    assert ready.status_code == 200
    assert ready.json()["checks"]["rate_limit"] == "degraded"
    log = server.output()
    assert log.count("rate_limit_storage_unavailable") == 1
    assert "warning" in log.lower()
