"""The items cache against real uvicorn processes sharing one SQLite file.

With `cache = redis`, a write on one process is never followed by a stale read on another; with
`cache = memory` it is (the contrast that shows the first test can fail). The bench script shows
that a cached read is faster, and a process whose Redis is down still serves from the database.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import free_port, serve, serve_many
from tests.services import TEST_REDIS_DB, TEST_REDIS_URL, redis_prefix

ITEMS = "/api/v1/items"


@pytest.fixture
def migrated(project: Project, tmp_path: Path) -> str:
    """A migrated SQLite file for the processes of one test."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'items.db'}"
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(DATABASE_URL=url))
    return url


@pytest.fixture
def env(migrated: str) -> Iterator[dict[str, str]]:
    with redis_prefix() as prefix:
        yield {
            "DATABASE_URL": migrated,
            "REDIS_URL": TEST_REDIS_URL,
            "CACHE_KEY_PREFIX": f"{prefix}:cache:",
            "RATE_LIMIT_KEY_PREFIX": f"{prefix}:ratelimit",
            "RATE_LIMIT_DEFAULT": "100000/minute",
        }


def _stale_reads(urls: list[str], rounds: int) -> list[tuple[int, str, str]]:
    """Write on one process, read on the other (twice, so the second read can hit)."""
    stale = []
    with httpx.Client(timeout=10) as client:
        writer, reader = urls
        created = client.post(f"{writer}{ITEMS}", json={"name": "Shared", "description": "v0"})
        assert created.status_code == 201, created.text
        path = f"{ITEMS}/{created.json()['id']}"
        for n in range(1, rounds + 1):
            for url in (reader, reader):  # fill the reader's cache
                assert client.get(f"{url}{path}").status_code == 200
            written = client.patch(f"{writer}{path}", json={"description": f"v{n}"})
            assert written.status_code == 200, written.text
            read = client.get(f"{reader}{path}")
            if read.json()["description"] != f"v{n}":
                stale.append((n, read.json()["description"], read.headers["X-Cache"]))
            writer, reader = reader, writer
        assert client.delete(f"{writer}{path}").status_code == 204
        assert client.get(f"{reader}{path}").status_code == 404
    return stale


@pytest.mark.parametrize("project", answer_set_params(["cache-redis-sqlite"]), indirect=True)
def test_redis_cache_is_never_stale_across_processes(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    with serve_many(project, 2, tmp_path, **env) as started:
        urls = [server.url for server in started]
        assert _stale_reads(urls, rounds=10) == []
        with httpx.Client(timeout=10) as client:
            created = client.post(f"{urls[0]}{ITEMS}", json={"name": "Hit"}).json()
            first = client.get(f"{urls[0]}{ITEMS}/{created['id']}")
            second = client.get(f"{urls[1]}{ITEMS}/{created['id']}")
    # One process fills the entry, the other process reads it: the cache is shared.
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")


@pytest.mark.parametrize("project", answer_set_params(["cache-memory-sqlite"]), indirect=True)
def test_memory_cache_is_stale_across_processes(
    project: Project, migrated: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": migrated, "RATE_LIMIT_DEFAULT": "100000/minute"}
    with serve_many(project, 2, tmp_path, **env) as started:
        urls = [server.url for server in started]
        stale = _stale_reads(urls, rounds=3)
    assert len(stale) == 3
    assert all(x_cache == "hit" for _, _, x_cache in stale)


@pytest.mark.parametrize("project", answer_set_params(["cache-redis-sqlite"]), indirect=True)
def test_cached_read_is_faster(project: Project, env: dict[str, str], tmp_path: Path) -> None:
    with serve(project, tmp_path, **env) as server:
        out = run(
            [sys.executable, "bench/cache_read.py", "--url", server.url, "--requests", "150"],
            project.path,
            clean_env(),
        )
    medians = dict(re.findall(r"(uncached|cached) read:\s+median ([\d.]+) ms", out))
    assert float(medians["cached"]) < float(medians["uncached"]), out


@pytest.mark.parametrize("project", answer_set_params(["cache-redis-sqlite"]), indirect=True)
def test_redis_down_serves_from_the_database(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    down = {**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/{TEST_REDIS_DB}"}
    with (
        serve(project, tmp_path, **down) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        created = client.post(ITEMS, json={"name": "Down", "description": "v0"})
        assert created.status_code == 201, created.text
        path = f"{ITEMS}/{created.json()['id']}"
        reads = [client.get(path) for _ in range(3)]
        patched = client.patch(path, json={"description": "v1"})
        after = client.get(path)
        ready = client.get("/health/ready")
    assert [r.status_code for r in reads] == [200, 200, 200]
    assert [r.headers["X-Cache"] for r in reads] == ["miss", "miss", "miss"]
    assert patched.status_code == 200
    assert after.json()["description"] == "v1"
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"] == "degraded"
    assert ready.json()["checks"]["database"] == "ok"
    log = server.output()
    assert log.count("cache_unavailable") == 1
