"""A new user's first hour (issue 19), each step run the way the user runs it: `make` targets of
a rendered project, copier's messages, a commit through the git hooks, a migration revision,
the HTTP and WebSocket refusals of a running server.

The rendered `make` targets call `uv run`. Here uv runs them in the template's shared
virtualenv without syncing it (`UV_PROJECT_ENVIRONMENT`, `UV_NO_SYNC`), with the project's `src`
on the path as `make install` would install it, and with nothing else of the virtualenv on
PATH: `ruff`, `alembic` and `pytest` are found through uv or not at all. A guard refuses the uv
commands that would change the shared virtualenv (`sync`, `lock`, `add`, ...);
tests/test_bare_machine.py runs `make install` for real, from PyPI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.answers import MINIMAL, PRESETS, with_defaults
from tests.auth import auth_env, auth_headers
from tests.conftest import (
    BIN,
    Project,
    answer_set_params,
    clean_env,
    render,
    run,
    template_source,
)
from tests.facts import facts
from tests.paths import ROOT
from tests.servers import free_port, serve
from tests.services import PG_ADMIN, redis_prefix

SHARED_VENV = Path(sys.prefix)


@pytest.fixture(scope="session")
def uv_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding only `uv`: the real one, minus the commands that would change the
    shared virtualenv."""
    directory = tmp_path_factory.mktemp("uv-bin")
    guard = directory / "uv"
    guard.write_text(
        "#!/bin/sh\n"
        'case "$1" in sync|lock|add|remove|pip|venv|tool|python|self)\n'
        '  echo "uv $1: not run by the template tests (it would change the shared'
        ' virtualenv)" >&2; exit 97;;\n'
        "esac\n"
        f'exec {BIN / "uv"} "$@"\n'
    )
    guard.chmod(0o755)
    return directory


def user_env(uv_bin: Path | None, **extra: str) -> dict[str, str]:
    """The environment of a user's shell after `make install`: uv on PATH (when given), the
    system's tools, nothing of the shared virtualenv."""
    env = {key: os.environ[key] for key in ("HOME", "LANG", "TMPDIR") if key in os.environ}
    env["PATH"] = os.pathsep.join([*([str(uv_bin)] if uv_bin else []), "/usr/bin", "/bin"])
    env.update(
        UV_PROJECT_ENVIRONMENT=str(SHARED_VENV),
        UV_NO_SYNC="1",
        PYTHONPATH="src",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def make(
    cwd: Path, *args: str, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def own_copy(project: Project, tmp_path: Path) -> Path:
    """A copy of a shared render that a test may change."""
    dest = tmp_path / "project"
    shutil.copytree(project.path, dest)
    return dest


def _program_lines(output: str) -> list[str]:
    """The lines a command printed, without make's own `make: *** ... Error 1`."""
    return [
        line
        for line in output.splitlines()
        if line.strip() and not line.startswith(("make", "uv run"))  # make's echo of a recipe
    ]


# --- the Makefile: blank lines between targets, help, uv missing, PORT -----------------------


@pytest.mark.parametrize(
    "project",
    answer_set_params(["minimal", "preset-defaults", "preset-everything", "jwt-sqlite"]),
    indirect=True,
)
def test_makefile_targets_are_separated_and_listed(project: Project) -> None:
    lines = (project.path / "Makefile").read_text().splitlines()
    targets = [line.split(":")[0] for line in lines if re.match(r"^[a-z][a-z-]*:", line)]
    for index, line in enumerate(lines):
        if re.match(r"^[a-z][a-z-]*:", line):
            assert lines[index - 1] == "", f"no blank line before {line!r}"
        if line == "":
            assert lines[index - 1] != "", f"two blank lines before line {index + 1}"
    listed = make(project.path, "help", env=user_env(None)).stdout
    assert [line.split()[0] for line in listed.splitlines()] == targets
    phony = next(line for line in lines if line.startswith(".PHONY:")).split()[1:]
    assert sorted(phony) == sorted(targets)


@pytest.mark.parametrize("project", answer_set_params(["minimal"]), indirect=True)
def test_without_uv_make_says_how_to_get_it(project: Project) -> None:
    result = make(project.path, "install", env=user_env(None))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "No such file" not in output and "not found" not in output, output
    (line,) = [line for line in output.splitlines() if line.strip()]
    assert "uv is not installed: run `pip install uv`" in line, line
    assert make(project.path, "help", env=user_env(None)).returncode == 0


@contextlib.contextmanager
def started(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[Any]:
    """A long-running command in its own process group, ended with the group."""
    with log.open("wb") as handle:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(url: str, process: Any, log: Path, timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(url, timeout=2)
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer:\n{log.read_text(errors='replace')}")


@pytest.mark.parametrize("project", answer_set_params(["minimal"]), indirect=True)
def test_make_run_serves_on_the_port_given(project: Project, uv_bin: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "run.log"
    with started(["make", "run", f"PORT={port}"], project.path, user_env(uv_bin), log) as process:
        response = wait_for(f"http://127.0.0.1:{port}/health/live", process, log, 60)
    assert response.status_code == 200, response.text


def test_make_demo_serves_on_the_port_given(tmp_path: Path) -> None:
    """The template's `make demo PORT=...`: renders, tests, migrates, serves there."""
    port = free_port()
    demo = tmp_path / "demo"
    log = tmp_path / "demo.log"
    env = clean_env(COPIER_SETTINGS_PATH=os.environ["COPIER_SETTINGS_PATH"])
    # -o: the shared virtualenv is up to date; make must not reinstall it.
    cmd = ["make", "-o", ".venv/.installed", "demo", f"PORT={port}", f"DEMO_DIR={demo}"]
    with started(cmd, ROOT, env, log) as process:
        response = wait_for(f"http://127.0.0.1:{port}/health/live", process, log, 540)
    assert response.status_code == 200, response.text
    assert f"Serving {demo} on http://127.0.0.1:{port}" in log.read_text()


# --- services: the after-copy message, TEST_* variables, make db -----------------------------


def copier_copy_cli(dest: Path, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "copier"), "copy", "--trust", "--defaults", *args, str(template_source()), dest],
        env=clean_env(COPIER_SETTINGS_PATH=os.environ["COPIER_SETTINGS_PATH"]),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr[result.stderr.index("is ready in") :]


@pytest.mark.parametrize("preset", ["minimal", "defaults", "single-node-production", "everything"])
def test_after_copy_message_lists_what_the_answers_need(tmp_path: Path, preset: str) -> None:
    said = copier_copy_cli(tmp_path / "p", "--data-file", str(ROOT / "presets" / f"{preset}.yml"))
    answers = {**PRESETS[preset]}
    full = {**facts.derive(with_defaults({**MINIMAL, "broker": "redis", **answers})).__dict__}
    names = {"postgresql": "PostgreSQL", "redis": "Redis", "rabbitmq": "RabbitMQ"}
    assert 'git init && git add -A && git commit -m "Generated from the template"' in said
    assert "pip install uv" in said
    if full["services"]:
        assert "no external service" not in said
        for service in full["services"]:
            assert names[service] in said.split("Its tests")[0], service
    else:
        assert "It needs no external service" in said
    assert ("make db" in said) == full["is_postgresql"]
    assert ("make migrate" in said) == full["has_database"]
    assert ("TEST_DATABASE_URL" in said) == full["is_postgresql"]
    assert ("TEST_REDIS_URL" in said) == full["tests_need_redis"]
    assert ("make worker" in said) == full["has_worker"]


@pytest.mark.parametrize("project", answer_set_params(["cache-redis"]), indirect=True)
def test_tests_read_test_redis_url_from_dot_env(
    project: Project, uv_bin: Path, tmp_path: Path
) -> None:
    """A user's `.env` says where the tests' Redis is; a dead one stops the run in one line."""
    path = own_copy(project, tmp_path)
    port = free_port()
    with (path / ".env").open("a") as env_file:
        env_file.write(f"TEST_REDIS_URL=redis://127.0.0.1:{port}/0\n")
    result = make(path, "test", env=user_env(uv_bin), timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"TEST_REDIS_URL=redis://127.0.0.1:{port}/0 is unreachable" in output, output
    assert "Traceback" not in output and " passed" not in output
    # ... and one that answers is used.
    with redis_prefix():
        env_text = (path / ".env").read_text().replace(f"127.0.0.1:{port}/0", "127.0.0.1:6379/7")
        (path / ".env").write_text(env_text)
        passed = make(path, "test", env=user_env(uv_bin), timeout=600)
    assert passed.returncode == 0, passed.stdout + passed.stderr


@pytest.mark.parametrize("project", answer_set_params(["postgresql"]), indirect=True)
def test_tests_say_which_test_database_url_does_not_answer(project: Project, uv_bin: Path) -> None:
    port = free_port()
    url = f"postgresql+asyncpg://postgres:secret@127.0.0.1:{port}/warehouse"
    result = make(project.path, "test", env=user_env(uv_bin, TEST_DATABASE_URL=url), timeout=300)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    shown = f"TEST_DATABASE_URL=postgresql+asyncpg://postgres:***@127.0.0.1:{port}/warehouse"
    assert f"{shown} is unreachable" in output, output
    assert "secret" not in output
    assert "Traceback" not in output and " passed" not in output


@pytest.fixture
def database_name() -> Iterator[str]:
    name = f"tpl_makedb_{os.urandom(4).hex()}"
    yield name
    subprocess.run(
        [*PG_ADMIN, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'],
        check=False,
        capture_output=True,
    )


@pytest.mark.parametrize("project", answer_set_params(["postgresql"]), indirect=True)
def test_make_migrate_creates_the_database_and_make_db_says_what_it_did(
    project: Project, uv_bin: Path, database_name: str
) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database_name}"
    env = user_env(uv_bin, DATABASE_URL=url)
    migrated = make(project.path, "migrate", env=env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    assert f"Created database '{database_name}'." in migrated.stdout
    again = make(project.path, "db", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _program_lines(again.stdout) == [f"Database '{database_name}' exists."]
    tables = subprocess.run(
        [*PG_ADMIN[:-2], "-d", database_name, "-tAc", "SELECT to_regclass('items')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert tables.strip() == "items"

    port = free_port()
    down = user_env(uv_bin, DATABASE_URL=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x")
    for target in ("db", "migrate"):
        refused = make(project.path, target, env=down)
        assert refused.returncode != 0
        lines = _program_lines(refused.stdout + refused.stderr)
        assert len(lines) == 1, lines
        assert lines[0].startswith("Cannot create database 'x': PostgreSQL at 127.0.0.1:"), lines
        assert f":{port}" in lines[0] and "Traceback" not in lines[0]


# --- the git hooks, ruff's target, the migration hook -----------------------------------------


def git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    identity = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t.t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t.t",
    }
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**env, **identity},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("project", answer_set_params(["minimal"]), indirect=True)
def test_git_hooks_run_ruff_through_uv_outside_the_venv(
    project: Project, uv_bin: Path, tmp_path: Path
) -> None:
    path = own_copy(project, tmp_path)
    env = user_env(uv_bin, PRE_COMMIT_HOME=str(tmp_path / "pre-commit"))
    assert shutil.which("ruff", path=env["PATH"]) is None  # only uv can find it
    assert git(path, "init", "-q", "-b", "main", env=env).returncode == 0
    assert git(path, "add", "-A", env=env).returncode == 0
    assert git(path, "commit", "-qm", "generated", env=env).returncode == 0
    # What `make install` does after `uv sync`:
    run(["uv", "run", "pre-commit", "install"], path, env)

    package = path / "src" / project.package
    (package / "clean.py").write_text('"""Clean."""\n\nANSWER = 42\n')
    git(path, "add", "-A", env=env)
    committed = git(path, "commit", "-m", "clean module", env=env)
    output = committed.stdout + committed.stderr
    assert committed.returncode == 0, output
    assert "Executable `ruff` not found" not in output
    assert re.search(r"ruff check\.+Passed", output), output

    (package / "dirty.py").write_text('"""Dirty."""\n\nimport os\n')
    git(path, "add", "-A", env=env)
    refused = git(path, "commit", "-m", "dirty module", env=env)
    assert refused.returncode != 0
    assert "F401" in refused.stdout + refused.stderr  # ruff ran, and found the unused import


def test_ruff_and_mypy_target_the_oldest_python_the_project_runs_on(
    tmp_path: Path, uv_bin: Path
) -> None:
    """python_version=3.13 is the image's Python; the code must still run on 3.11."""
    path = render(tmp_path / "project", {**MINIMAL, "python_version": "3.13"})
    pyproject = (path / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.11"' in pyproject
    assert "target-version" not in pyproject  # ruff reads requires-python
    assert 'python_version = "3.11"' in pyproject  # mypy
    package = path / "src" / "my_service"
    # Valid on 3.11: with a 3.13 target ruff demanded `type Number = int` here (UP040).
    (package / "numbers.py").write_text(
        '"""Numbers."""\n\nfrom typing import TypeAlias\n\nNumber: TypeAlias = int | float\n'
    )
    linted = make(path, "lint", env=user_env(uv_bin))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    # 3.12-only syntax is a SyntaxError on 3.11: ruff refuses it.
    (package / "numbers.py").write_text('"""Numbers."""\n\ntype Number = int | float\n')
    refused = make(path, "lint", env=user_env(uv_bin))
    assert refused.returncode != 0
    assert "3.12" in refused.stdout + refused.stderr, refused.stdout


WIDGET_MODEL = '''"""Widgets."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from {pkg}.db import Base, TimestampMixin


class Widget(TimestampMixin, Base):
    __tablename__ = "widgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
'''


@pytest.mark.parametrize("project", answer_set_params(["sqlite"]), indirect=True)
def test_alembic_autogenerate_is_silent_and_clean(
    project: Project, uv_bin: Path, tmp_path: Path
) -> None:
    """README, Database and migrations: add a model, generate its migration."""
    path = own_copy(project, tmp_path)
    assert "--rev-id 0100 -m" in (path / "README.md").read_text()  # the command run below
    pkg = project.package
    (path / "src" / pkg / "widgets.py").write_text(WIDGET_MODEL.format(pkg=pkg))
    env_py = path / "migrations" / "env.py"
    text = env_py.read_text()
    # The user's model joins the template's (the tuple follows the answers).
    models = re.search(r"^MODELS = \((.*)\)$", text, flags=re.MULTILINE)
    assert models, text
    names = [name.strip() for name in models.group(1).split(",") if name.strip()]
    text = text.replace(models.group(0), f"MODELS = ({', '.join([*names, 'Widget'])})")
    text = re.sub(
        rf"^(from {pkg}\.settings import .*)$",
        rf"\1\nfrom {pkg}.widgets import Widget",
        text,
        count=1,
        flags=re.MULTILINE,
    )
    assert "Widget" in text
    env_py.write_text(text)
    env = user_env(uv_bin, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}")
    assert make(path, "migrate", env=env).returncode == 0
    result = subprocess.run(
        [
            "uv",
            "run",
            "alembic",
            "revision",
            "--autogenerate",
            "--rev-id",
            "0100",  # the README's number: the template's own revisions are 0001 to 0099
            "-m",
            "add widgets",
        ],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Detected added table 'widgets'" in output
    for noise in ("Found", "fixed", "error", "reformatted"):
        assert noise not in output, output
    assert (path / "migrations" / "versions" / "0100_add_widgets.py").exists()
    linted = make(path, "lint", env=env)
    assert linted.returncode == 0, linted.stdout + linted.stderr


# --- jobs and WebSockets refuse anonymous callers over HTTP ----------------------------------

JOBS_AND_ROOMS = {
    **MINIMAL,
    "auth": "password",
    "database": "sqlite",
    "worker": "celery",
    "broker": "redis",
    "websockets": "memory",
}


def test_jobs_and_rooms_refuse_anonymous_callers_on_a_real_server(tmp_path: Path) -> None:
    path = render(tmp_path / "project", JOBS_AND_ROOMS)
    full = with_defaults(JOBS_AND_ROOMS)
    project = Project("jobs-and-rooms", path, full, facts.derive(full))
    env = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/3",
        **auth_env(project),
    }
    run([str(BIN / "alembic"), "upgrade", "head"], path, clean_env(PYTHONPATH="src", **env))
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with serve(project, tmp_path, "/health/live", **env) as server:
        job = f"{server.url}/api/v1/jobs"
        anonymous = httpx.post(job, json={"numbers": [1, 2]}, timeout=10)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert httpx.get(f"{job}/{'0' * 32}", timeout=10).status_code == 401
        with httpx.Client(base_url=server.url, timeout=10) as client:
            headers = auth_headers(project, client)
            accepted = client.post("/api/v1/jobs", json={"numbers": [1, 2]}, headers=headers)
        assert accepted.status_code == 202, accepted.text
        for query in ("", "?token=", "?token=not-a-jwt"):
            with (
                pytest.raises(InvalidStatus) as refused,
                connect(f"{server.ws_url}/ws/lobby{query}"),
            ):
                pass
            assert refused.value.response.status_code == 403, query
        token = headers["Authorization"].removeprefix("Bearer ")
        with connect(f"{server.ws_url}/ws/lobby?token={token}") as room:
            room.send("hello")
            assert room.recv(timeout=10) == "hello"


# --- the rendered README ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "project", answer_set_params(["minimal", "preset-everything"]), indirect=True
)
def test_readme_does_not_ask_to_copy_the_env_file_copier_wrote(project: Project) -> None:
    readme = (project.path / "README.md").read_text()
    assert (project.path / ".env").exists()
    assert "cp .env.example .env" not in readme
    assert "Copier wrote `.env`" in readme


# --- the template's own fast target -----------------------------------------------------------


def test_make_test_fast_renders_nothing() -> None:
    """`make test-fast` is the unit tests only: none of its files renders the template, runs
    copier or starts a process (its time: docs/development.md)."""
    recipe = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "test-fast"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = re.findall(r"tests/\S+\.py", recipe)
    assert files, recipe
    for name in files:
        source = (ROOT / name).read_text()
        # A call of tests' render() or serve(), not a method of that name (Jinja's .render).
        for slow in (
            r"render\(",
            "template_source",
            "subprocess",
            "run_copy",
            "pexpect",
            r"serve\(",
        ):
            assert not re.search(rf"(?<![.\w]){slow}", source), (name, slow)
