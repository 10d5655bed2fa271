"""Rate limiting against real uvicorn processes: the limit holds across them with Redis."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import Project, answer_set_params
from tests.processes import TEST_REDIS_DB, TEST_REDIS_URL, free_port, redis_prefix, servers

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
        with servers(project.path, project.package, 2, env, tmp_path) as urls:
            statuses = _alternate(urls, 3 * LIMIT)
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == 2 * LIMIT
    assert statuses[:LIMIT] == [200] * LIMIT


@pytest.mark.parametrize("project", answer_set_params(["ratelimit-memory"]), indirect=True)
def test_memory_limit_is_per_process(project: Project, tmp_path: Path) -> None:
    """The contrast that shows the test above can fail: memory counts in each process."""
    env = {"RATE_LIMIT_DEFAULT": f"{LIMIT}/minute"}
    with servers(project.path, project.package, 2, env, tmp_path) as urls:
        statuses = _alternate(urls, 3 * LIMIT)
    assert statuses.count(200) == 2 * LIMIT


@pytest.mark.parametrize("project", answer_set_params(["ratelimit-redis"]), indirect=True)
def test_redis_down_fails_open_in_a_real_process(project: Project, tmp_path: Path) -> None:
    env = {
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/{TEST_REDIS_DB}",
        "RATE_LIMIT_DEFAULT": "2/minute",
    }
    with servers(project.path, project.package, 1, env, tmp_path) as urls:
        statuses = _alternate(urls, 5)
        ready = httpx.get(f"{urls[0]}/health/ready", timeout=5)
    assert statuses == [200] * 5
    assert ready.status_code == 200
    assert ready.json()["checks"]["rate_limit"] == "degraded"
    log = (tmp_path / "server-0.log").read_text()
    assert log.count("rate_limit_storage_unavailable") == 1
    assert "warning" in log.lower()
