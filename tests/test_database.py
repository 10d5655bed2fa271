"""The database module on the real PostgreSQL at 127.0.0.1:5432.

A SQLite project's own tests run on PostgreSQL (and its fixtures drop the scratch databases they
made), and a PostgreSQL project is migrated with the alembic command line, served by uvicorn,
and driven over HTTP. Each test works in a database of its own (`tpl_db_<random>`), dropped
afterwards.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth import auth_env, auth_headers
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import serve

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
        clean_env(TEST_DATABASE_URL=database_url, PYTHONDONTWRITEBYTECODE="1"),
    )
    assert " passed" in out
    # The rendered fixtures dropped the databases they created next to ours.
    own = database_url.rsplit("/", 1)[1]
    assert [n for n in asyncio.run(_admin()) if n.startswith(own)] == [own]


@pytest.mark.parametrize("project", answer_set_params(POSTGRESQL_SETS), indirect=True)
def test_postgresql_project_serves_items_with_uvicorn(
    project: Project, database_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "ENVIRONMENT": "development", **auth_env(project)}
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(PYTHONPATH="src", **env))
    with (
        serve(project, tmp_path, "/health/ready", **env) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
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
    assert "Traceback" not in server.output(), server.output()


@pytest.mark.parametrize("project", answer_set_params(["postgresql"]), indirect=True)
def test_migration_without_the_right_to_create_pg_trgm(project: Project, database_url: str) -> None:
    """The documented fallback: a role that may create tables but not extensions migrates with a
    warning and no trigram index, `alembic check` stays clean, and it downgrades."""
    name = database_url.rsplit("/", 1)[1]
    role = f"{name}_owner"
    asyncio.run(_admin(f'CREATE ROLE "{role}" LOGIN'))
    try:
        asyncio.run(_run_in(name, f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
        url = f"postgresql+asyncpg://{role}@127.0.0.1:5432/{name}"
        env = clean_env(PYTHONPATH="src", DATABASE_URL=url)
        upgraded = subprocess.run(
            [str(BIN / "alembic"), "upgrade", "head"],
            cwd=project.path, env=env, capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
        assert "pg_trgm could not be created" in upgraded.stderr, upgraded.stderr
        run([str(BIN / "alembic"), "check"], project.path, env)  # fails on any difference
        indexes = asyncio.run(_run_in(name, "SELECT indexname FROM pg_indexes", fetch=True))
        assert "ix_items_name_trgm" not in indexes
        assert "pk_items" in indexes
        run([str(BIN / "alembic"), "downgrade", "base"], project.path, env)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'DROP ROLE "{role}"'))


async def _run_in(database: str, statement: str, *, fetch: bool = False) -> list[str]:
    import asyncpg

    connection = await asyncpg.connect(f"postgresql://{POSTGRES}/{database}")
    try:
        if fetch:
            return [row[0] for row in await connection.fetch(statement)]
        await connection.execute(statement)
        return []
    finally:
        await connection.close()
