"""The database module on the real PostgreSQL at 127.0.0.1:5432.

A SQLite project's own tests run on PostgreSQL (and its fixtures drop the scratch databases they
made), and a PostgreSQL project is migrated with the alembic command line, served by uvicorn,
and driven over HTTP. Each test works in a database of its own (`tpl_db_<random>`), dropped
afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.auth import auth_env, auth_headers
from tests.conftest import BIN, Project, answer_set_params, clean_env, run

POSTGRES = "postgres@127.0.0.1:5432"
# Tier 3 runs the rendered tests of PostgreSQL projects on the real PostgreSQL, every database
# answer with every auth answer (pairwise). What it does not run: a SQLite project's tests
# pointed at PostgreSQL (its dev dependencies allow it, docs/patterns.md says so).
DATABASE_SETS = ["password-sqlite"]
POSTGRESQL_SETS = ["postgresql", "password-postgresql"]


async def _admin(*statements: str) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        for statement in statements:
            await connection.execute(statement)
        rows = await connection.fetch("SELECT datname FROM pg_database")
    finally:
        await connection.close()
    return [row["datname"] for row in rows]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new PostgreSQL database; every database whose name starts with its name is dropped."""
    name = f"tpl_db_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://{POSTGRES}/{name}"
    finally:
        left = [n for n in asyncio.run(_admin()) if n.startswith(name)]
        asyncio.run(_admin(*(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in left)))
        assert not [n for n in asyncio.run(_admin()) if n.startswith(name)]


@pytest.mark.parametrize("project", answer_set_params(DATABASE_SETS), indirect=True)
def test_rendered_tests_pass_on_postgresql(project: Project, database_url: str) -> None:
    out = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        project.path,
        clean_env(DATABASE_URL=database_url, PYTHONDONTWRITEBYTECODE="1"),
    )
    assert " passed" in out
    # The rendered fixtures dropped the databases they created next to ours.
    own = database_url.rsplit("/", 1)[1]
    assert [n for n in asyncio.run(_admin()) if n.startswith(own)] == [own]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("project", answer_set_params(POSTGRESQL_SETS), indirect=True)
def test_postgresql_project_serves_items_with_uvicorn(project: Project, database_url: str) -> None:
    env = clean_env(
        DATABASE_URL=database_url,
        PYTHONPATH="src",
        ENVIRONMENT="development",
        PYTHONDONTWRITEBYTECODE="1",  # the rendered project is shared: leave it as rendered
        **auth_env(project),
    )
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, env)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"{project.package}.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            _wait_until_ready(client, server)
            client.headers.update(auth_headers(project, client))
            items = "/api/v1/items"
            created = client.post(items, json={"name": "Widget", "description": "small"})
            assert created.status_code == 201, created.text
            item = created.json()
            assert client.post(items, json={"name": "Widget"}).status_code == 409
            assert client.post(items, json={"name": ""}).status_code == 422
            assert client.get(f"{items}/{item['id']}").json() == item
            patched = client.patch(f"{items}/{item['id']}", json={"description": "large"})
            assert patched.status_code == 200
            assert patched.json()["description"] == "large"
            page = client.get(items, params={"name": "widg", "limit": 10}).json()
            assert page["total"] == 1
            assert [i["id"] for i in page["items"]] == [item["id"]]
            assert client.delete(f"{items}/{item['id']}").status_code == 204
            assert client.get(f"{items}/{item['id']}").status_code == 404
            ready = client.get("/health/ready").json()
            assert ready["checks"]["database"] == "ok"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Traceback" not in output, output


def _wait_until_ready(client: httpx.Client, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"uvicorn exited {server.returncode}:\n{server.communicate()[0]}")
        try:
            if client.get("/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("uvicorn did not become ready within 60 s")
