"""The rendered images, built and run for real: the container tier (`make test-docker`).

For every answer set of `DOCKER_SETS` (tests/answers.py) the project's own `make lock` and
`make image CONTAINER_ENGINE=podman` build its unchanged Dockerfile on the base images of
tests/containers.py (made locally: no registry is reached). The image then runs as its docs say,
over host networking against the machine's PostgreSQL, Redis and RabbitMQ, each test with a
database, Redis keys and a Celery queue of its own:

- the migration step of compose.yaml runs from the image, the API answers `/health/live` and
  `/health/ready` (every dependency `ok`), a login and an authenticated read work, as user 10001
  on a read-only root filesystem with only /tmp writable, and its HEALTHCHECK passes;
- with Celery, the worker command of compose.yaml completes a job queued through the API;
- SIGTERM stops the API within the grace period with exit 0, a request in flight answered;
- a change of the source rebuilds without reinstalling the dependencies (the same layers), a
  change of the lock reinstalls them;
- the image stays within its size budget (docs/deployment.md);
- `make up` (podman-compose) starts the stack of compose.yaml, unchanged, and its API answers
  ready: an override file the test writes gives the app, migration and worker services host
  networking and this test's services; compose's own backing services (postgres:17-alpine, ...)
  cannot be pulled here, so each runs as a placeholder that stands for the machine's service.

Sizes and times go to test-artifacts/docker-images.json for docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests import containers
from tests.answers import DOCKER_SETS, effective
from tests.auth import ADMIN_EMAIL, auth_env, auth_headers
from tests.conftest import Project, answer_set_params, clean_env
from tests.containers import Container, container, podman, run_once, volume
from tests.paths import ROOT
from tests.servers import free_port
from tests.services import postgres_database
from tests.test_deploy import redis_isolation

pytestmark = pytest.mark.docker

ARTIFACTS = ROOT / "test-artifacts" / "docker-images.json"
MB = 1_000_000  # as `docker images` and `podman images` count

# Budgets in MB for the whole image, base included (docs/deployment.md, "Image size"): the
# defaults within the 200 MB target, every set within its measured size plus about 10 % (for
# dependency releases) rounded up to 5 MB. The base images made here weigh 123 MB (bookworm,
# 3.11) and 117 MB (trixie, 3.13), about what the official python:X-slim images weigh.
SIZE_BUDGET_MB = {
    "docker-defaults": 200,  # 178 MB: password auth, SQLite, memory cache and rate limit
    # 235 MB (213 MB before the e-mail, admin, tracing and error-tracking modules): + asyncpg,
    # Celery, redis-py, prometheus-client, aiosmtplib, SQLAdmin, OpenTelemetry, sentry-sdk
    "docker-everything": 260,
    "docker-celery-redis": 230,  # 209 MB: the defaults + Celery on Redis
    "docker-jwt": 185,  # 167 MB: + cryptography for an identity provider's RS256 keys
    "docker-only": 170,  # 153 MB: FastAPI, uvicorn and gunicorn
}


def docker_sets(*names: str) -> list[Any]:
    from tests.facts import facts

    return answer_set_params(
        [
            name
            for name in DOCKER_SETS
            if all(getattr(facts.derive(effective(name)), fact) for fact in names)
        ]
    )


# --------------------------------------------------------------------------------------------
# The engine and the images
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def engine() -> Iterator[dict[str, str]]:
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `make test-docker` installs it (.ci/podman)")
    rules, links = firewall(), network_links()
    versions = [effective(name)["python_version"] for name in DOCKER_SETS]
    containers.ensure_base_images(versions)  # made by `python -m tests.containers` already
    yield containers.engine_env()
    # host networking only: no bridge, no firewall rule was added
    assert network_links() == links, "a container network was created"
    assert firewall() == rules, "the host's firewall rules changed"


NETWORK_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")


def make(
    path: Path, *args: str, env: dict[str, str] | None = None, timeout: int = 1200
) -> tuple[str, float]:
    """The project's own make target, with podman; its output and the seconds it took.

    `make lock` reaches PyPI: the machine's CA and proxy settings pass through."""
    network = {key: os.environ[key] for key in NETWORK_VARIABLES if key in os.environ}
    env = clean_env(**network, **containers.engine_env(), **(env or {}))
    cmd = ["make", *args, "CONTAINER_ENGINE=podman"]
    start = time.monotonic()
    result = subprocess.run(
        cmd, cwd=path, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {result.returncode} in {path}:\n{output}")
    return output, time.monotonic() - start


@dataclass
class Built:
    project: Project
    path: Path  # the locked copy of the project that was built
    image: str
    output: str  # of `make image`
    seconds: float

    def inspect(self) -> dict[str, Any]:
        (config,) = json.loads(podman("image", "inspect", self.image).stdout)
        return dict(config)

    def layers(self) -> list[str]:
        return list(self.inspect()["RootFS"]["Layers"])

    def size(self) -> int:
        return int(self.inspect()["Size"])


_BUILT: dict[str, Built] = {}


@pytest.fixture
def built(
    project: Project, engine: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Built:
    """The project's image, built once per set (per xdist worker) from a locked copy."""
    if project.name not in _BUILT:
        path = tmp_path_factory.mktemp(f"{project.name}-build") / project.answers["project_slug"]
        shutil.copytree(project.path, path)
        _, lock_seconds = make(path, "lock")
        image = f"localhost/{containers.PREFIX}-{project.name}:test"
        output, seconds = make(path, "image", f"IMAGE={image}")
        _BUILT[project.name] = Built(project, path, image, output, seconds)
        record(project.name, lock_s=round(lock_seconds, 1), build_s=round(seconds, 1))
    return _BUILT[project.name]


def record(name: str, **figures: Any) -> None:
    """Keep a measured figure for docs/deployment.md (test-artifacts/, not committed)."""
    ARTIFACTS.parent.mkdir(exist_ok=True)
    try:
        data: dict[str, dict[str, Any]] = json.loads(ARTIFACTS.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    data.setdefault(name, {}).update(figures)
    partial = ARTIFACTS.with_suffix(f".{secrets.token_hex(4)}.tmp")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    partial.replace(ARTIFACTS)


# --------------------------------------------------------------------------------------------
# What a deployment gives the containers
# --------------------------------------------------------------------------------------------
@dataclass
class Deployment:
    env: dict[str, str]
    volumes: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"


@contextlib.contextmanager
def celery_isolation(project: Project) -> Iterator[dict[str, str]]:
    """A Celery queue of this test only, deleted afterwards (as tests/test_worker.py does)."""
    queue = f"tplc-{secrets.token_hex(6)}"
    if project.facts.broker == "redis":
        url = "redis://127.0.0.1:6379/3"
        env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url}
    else:
        url = "amqp://guest:guest@127.0.0.1:5672//"
        env = {"CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": "rpc://"}
    env["CELERY_TASK_QUEUE"] = queue
    try:
        yield env
    finally:
        if project.facts.broker == "redis":
            import redis

            client = redis.Redis.from_url(url)
            stale = [*client.scan_iter(f"*{queue}*"), *client.scan_iter("celery-task-meta-*")]
            if stale:
                client.delete(*stale)
            client.close()
        else:
            from kombu import Connection

            with Connection(url) as connection:
                channel = connection.channel()
                channel.queue_delete(queue)
                channel.exchange_delete(queue)


@contextlib.contextmanager
def deployment(project: Project, **extra: str) -> Iterator[Deployment]:
    """The settings the image's docs ask for, pointed at this test's own services."""
    env = {
        # Host networking: listen on the loopback interface only.
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        **redis_isolation(project),
        **auth_env(project),
    }
    if project.facts.has_users:
        env["SECRET_KEY"] = secrets.token_urlsafe(48)
    if project.facts.has_email:
        # What production refuses to start without (.env.example): a relay, a sender of the
        # service's domain, https links to its frontend. No test here sends a message.
        env |= {
            "SMTP_HOST": "smtp.service.test",
            "SMTP_FROM": "My Service <noreply@service.test>",
            "PASSWORD_RESET_URL": "https://app.service.test/reset-password?token={token}",
            "EMAIL_VERIFY_URL": "https://app.service.test/verify-email?token={token}",
        }
    with contextlib.ExitStack() as stack:
        volumes = {}
        if project.facts.is_postgresql:
            env["DATABASE_URL"] = stack.enter_context(postgres_database("tpl_docker"))
        if project.facts.is_sqlite:
            # the image's own DATABASE_URL, on a volume at /data
            volumes[stack.enter_context(volume())] = "/data"
        if project.facts.has_worker:
            env.update(stack.enter_context(celery_isolation(project)))
        env.update(extra)
        yield Deployment(env, volumes)


def compose_service(project: Project, name: str) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((project.path / "compose.yaml").read_text())[
        "services"
    ]
    return dict(services[name])


def migrate(built: Built, target: Deployment) -> None:
    """The migration step of compose.yaml (and of the Kubernetes Job), from the image."""
    if not built.project.facts.has_database:
        return
    command = compose_service(built.project, "migrate")["command"]
    result = run_once(built.image, command, env=target.env, volumes=target.volumes)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Running upgrade" in result.stderr + result.stdout


def wait_until_live(box: Container, url: str, timeout: float = 90) -> float:
    """Seconds until GET /health/live answers 200; fails with the logs if the container exits."""
    start = time.monotonic()
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/health/live", timeout=2).status_code == 200:
                return time.monotonic() - start
        if not box.running():
            raise AssertionError(f"the container exited:\n{box.logs()}")
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{url}/health/live did not answer in {timeout} s:\n{box.logs()}")
        time.sleep(0.2)


# Run in the image (admin=true): the page override is in the installed package, and each
# `url_for('admin:statics', path=...)` of SQLAdmin's templates names a file of its statics.
ADMIN_ASSETS_PROBE = """
import pathlib, re, sys, sqladmin, PACKAGE.admin as admin
package = pathlib.Path(admin.__file__).parent
assert "site-packages" in package.parts, package
assert (package / "templates" / "sqladmin" / "base.html").is_file(), package
root = pathlib.Path(sqladmin.__file__).parent
linked = {
    path
    for page in (root / "templates").rglob("*.html")
    for path in re.findall(r"statics', path='([^']+)'", page.read_text())
}
missing = sorted(path for path in linked if not (root / "statics" / path).is_file())
assert len(linked) > 5 and not missing, (sorted(linked), missing)
print("ok")
"""


def assert_ready(project: Project, url: str, box: Container) -> dict[str, Any]:
    """/health/ready answers 200 with every dependency of the answers `ok`."""
    deadline = time.monotonic() + 20
    while True:
        ready = httpx.get(f"{url}/health/ready", timeout=10)
        if ready.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ready.status_code == 200, f"{ready.text}\n{box.logs()}"
    body: dict[str, Any] = ready.json()
    checks = body["checks"]
    assert body["status"] == "ok" and set(checks.values()) <= {"ok"}, body
    assert ("database" in checks) == project.facts.has_database, checks
    assert ("broker" in checks) == project.facts.has_worker, checks
    return body


# --------------------------------------------------------------------------------------------
# The base images made here behave like the official ones where the Dockerfile relies on it
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("version", sorted(containers.DEBIAN_SUITES))
def test_local_python_images_stand_in_for_the_official_ones(
    engine: dict[str, str], version: str
) -> None:
    image = containers.python_image(version)
    script = (
        'printf "%s\\n" "$PATH" "$LANG";'
        " python3 -c 'import sys, sqlite3, ssl; print(\"%d.%d\" % sys.version_info[:2])';"
        " python -c 'import sys; print(sys.executable)';"
        " for tool in groupadd useradd find apt-get; do command -v $tool; done"
    )
    result = podman("run", "--rm", image, "sh", "-c", script)
    lines = result.stdout.split()
    assert lines[:3] == [containers.OFFICIAL_PATH, "C.UTF-8", version], result.stdout
    # /usr/local/bin/python in the official image; the Dockerfile names no interpreter path
    assert lines[3] in {"/usr/bin/python", "/usr/local/bin/python"}, result.stdout
    assert len(lines) == 8, result.stdout
    template = containers.dockerfile_template()
    assert "/usr/local/bin/python" not in template and "/usr/bin/python" not in template


def test_local_uv_image_is_the_wheels_binaries(engine: dict[str, str]) -> None:
    image = containers.uv_image()
    tag = image.rsplit(":", 1)[1]
    version = podman("run", "--rm", image, "/uv", "--version")
    assert version.stdout.startswith(f"uv {tag}."), version.stdout
    created = podman("create", image, "/uv").stdout.strip()
    try:
        exported = subprocess.run(
            ["podman", "export", created],
            env={**os.environ, **containers.engine_env()},
            capture_output=True,
            check=True,
        ).stdout
    finally:
        podman("rm", created, check=False)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        files = {member.name for member in archive.getmembers() if member.isfile()}
    assert files == {"uv", "uvx"}, files  # nothing else, as the official image


# --------------------------------------------------------------------------------------------
# Every image of the chosen set
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("project", docker_sets("has_docker"), indirect=True)
class TestImage:
    def test_make_image_builds_the_unchanged_dockerfile(self, built: Built) -> None:
        rendered = (built.project.path / "Dockerfile").read_text()
        assert (built.path / "Dockerfile").read_text() == rendered
        assert "Successfully tagged" in built.output, built.output
        inspected = built.inspect()
        config = inspected["Config"]
        assert config["User"] == "10001:10001"
        # Docker's image format (the Makefile exports BUILDAH_FORMAT): podman keeps HEALTHCHECK
        assert inspected["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"
        assert "/health/live" in " ".join(inspected["Healthcheck"]["Test"])
        assert config["Cmd"] == ["gunicorn", "--config", "gunicorn.conf.py"]
        env = dict(item.split("=", 1) for item in config["Env"])
        expected = "staging" if built.project.facts.is_sqlite else "production"
        assert env["ENVIRONMENT"] == expected
        if built.project.facts.is_sqlite:
            assert env["DATABASE_URL"] == "sqlite+aiosqlite:////data/app.db"

    def test_runtime_holds_no_build_or_reload_only_tools(self, built: Built) -> None:
        probe = (
            "import importlib.util as u, shutil\n"
            "print([m for m in ('watchfiles', 'yaml', 'pip') if u.find_spec(m)])\n"
            "print([t for t in ('uv', 'strip', 'gcc') if shutil.which(t)])\n"
            "import uvloop, httptools\n"
        )
        result = run_once(built.image, ["python", "-c", probe], env={})
        assert result.returncode == 0, result.stderr
        assert result.stdout.split("\n")[:2] == ["[]", "[]"], result.stdout

    def test_the_admin_pages_and_assets_are_in_the_image(self, built: Built) -> None:
        """admin=true: the project's page override came in its wheel (installed, not the
        source tree), and every asset SQLAdmin's pages link is in the installed sqladmin."""
        if not built.project.facts.has_admin:
            pytest.skip("admin=false")
        probe = ADMIN_ASSETS_PROBE.replace("PACKAGE", built.project.package)
        result = run_once(built.image, ["python", "-c", probe], env={})
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.split("\n")[0] == "ok", result.stdout

    def test_size_stays_within_its_budget(self, built: Built) -> None:
        layers = json.loads(podman("history", "--format", "json", built.image).stdout)
        size = built.size()
        base_image = containers.python_image(str(built.project.answers["python_version"]))
        base = int(json.loads(podman("image", "inspect", base_image).stdout)[0]["Size"])
        venv = max(int(layer["size"]) for layer in layers[:-1])  # newest first: the base last
        record(
            built.project.name,
            size_mb=round(size / MB, 1),
            base_mb=round(base / MB, 1),
            dependencies_layer_mb=round(venv / MB, 1),
        )
        budget = SIZE_BUDGET_MB[built.project.name]
        assert size <= budget * MB, (
            f"{built.image} is {size / MB:.1f} MB (base {base / MB:.1f} MB, dependencies "
            f"{venv / MB:.1f} MB): over its budget of {budget} MB"
        )

    def test_migrates_serves_runs_a_job_and_stops_gracefully(self, built: Built) -> None:
        """A deployment's life: the migration step, the API (and with Celery the worker), as
        user 10001 on a read-only root filesystem; then SIGTERM with a request in flight."""
        project = built.project
        grace = 10
        with deployment(project, GRACEFUL_TIMEOUT=str(grace)) as target:
            migrate(built, target)
            with contextlib.ExitStack() as stack:
                api = stack.enter_context(
                    container(built.image, env=target.env, volumes=target.volumes)
                )
                worker = (
                    stack.enter_context(worker_container(built, target))
                    if project.facts.has_worker
                    else None
                )
                record(project.name, start_s=round(wait_until_live(api, target.url), 1))
                assert_ready(project, target.url, api)
                check_user_and_filesystem(api)
                check_healthcheck(api)
                item = check_login_and_read(project, target.url, api)
                if worker is not None:
                    check_worker(project, target.url, worker)
                stop_with_a_request_in_flight(built, target, api, grace)
                if worker is not None:
                    code, seconds = worker.stop(40)  # Celery's warm shutdown
                    assert code == 0, worker.logs()
                    record(project.name, worker_stop_s=round(seconds, 1))
            if item is not None and project.facts.is_sqlite:
                # the database is on the volume: a new container reads what the first wrote
                with container(built.image, env=target.env, volumes=target.volumes) as again:
                    wait_until_live(again, target.url)
                    with httpx.Client(base_url=target.url, timeout=10) as client:
                        headers = auth_headers(project, client)
                        read = client.get(f"/api/v1/items/{item}", headers=headers)
                    assert read.status_code == 200, f"{read.text}\n{again.logs()}"

    def test_a_source_change_rebuilds_without_reinstalling(self, built: Built) -> None:
        before = built.layers()
        init = built.path / "src" / built.project.package / "__init__.py"
        marker = f"# rebuilt {secrets.token_hex(4)}"
        original = init.read_text()
        init.write_text(f"{original}{marker}\n")
        image = f"{built.image}-source"
        try:
            output, seconds = make(built.path, "image", f"IMAGE={image}")
        finally:
            init.write_text(original)
        after = json.loads(podman("image", "inspect", image).stdout)[0]["RootFS"]["Layers"]
        assert step_used_cache(output, "uv sync"), output
        assert not step_used_cache(output, "uv pip install"), output
        # every layer up to the dependencies is the same; only the project's layers differ
        shared = next(i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b)
        history = json.loads(podman("history", "--format", "json", image).stdout)
        sizes = [int(layer["size"]) for layer in reversed(history) if int(layer["size"]) > 0]
        assert max(sizes) in sizes[:shared], sizes  # the dependencies (the biggest layer) kept
        changed = sum(sizes[shared:])
        assert changed < 2 * MB, f"a source change ships {changed / MB:.1f} MB"
        package = f"/app/.venv/lib/python{built.project.answers['python_version']}/site-packages"
        shown = run_once(
            image, ["grep", "-c", marker, f"{package}/{built.project.package}/__init__.py"], env={}
        )
        assert shown.stdout.strip() == "1", shown
        record(
            built.project.name,
            source_rebuild_s=round(seconds, 1),
            source_change_layers_kb=round(changed / 1000),
        )
        podman("rmi", image, check=False)


def stop_with_a_request_in_flight(
    built: Built, target: Deployment, api: Container, grace: int
) -> None:
    """SIGTERM while a request's body is still arriving: the request is answered, then the
    container exits 0 within the grace period (GRACEFUL_TIMEOUT)."""
    wait_until_live(api, target.url)
    body = json.dumps({"recipient": "ada@example.com", "message": "x" * 400}).encode()
    port = int(target.env["PORT"])
    result: dict[str, Any] = {}
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/notifications HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body[:100]
        )
        time.sleep(0.5)  # the request is in the app, which waits for the rest of its body
        stopper = threading.Thread(
            target=lambda: result.update(zip(("code", "seconds"), api.stop(grace + 20)))
        )
        stopper.start()
        deadline = time.monotonic() + 10
        while "Handling signal: term" not in api.logs():
            assert time.monotonic() < deadline, api.logs()
            time.sleep(0.1)
        sock.sendall(body[100:])
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    stopper.join()
    logs = api.logs()
    assert response.startswith(b"HTTP/1.1 202"), response.decode(errors="replace") + logs
    assert logs.index("Handling signal: term") < logs.index("notification_sent"), logs
    assert result["code"] == 0, logs
    assert result["seconds"] < grace, f"stopped in {result['seconds']:.1f} s\n{logs}"
    record(built.project.name, sigterm_stop_s=round(result["seconds"], 1))


def step_used_cache(output: str, command: str) -> bool:
    """Whether the build step whose RUN line holds `command` was taken from the cache.

    A step's own result is the first `-->` line after it (podman builds a stage when another
    needs it, so the lines of the waiting step can come after the other stage's)."""
    steps = re.split(r"^(?=\[\d+/\d+\] STEP )", output, flags=re.MULTILINE)
    (step,) = [s for s in steps if s.startswith("[") and command in s.split("\n", 1)[0]]
    result = next(line for line in step.splitlines() if line.startswith("-->"))
    return result.startswith("--> Using cache")


def check_user_and_filesystem(box: Container) -> None:
    uid = box.exec("id", "-u")
    assert uid.stdout.strip() == "10001", uid
    for path in ("/app/written", "/written"):
        refused = box.exec("touch", path)
        assert refused.returncode != 0 and "Read-only file system" in refused.stderr, refused
    assert box.exec("touch", "/tmp/written").returncode == 0


def check_healthcheck(box: Container) -> None:
    """`podman healthcheck run` passes; the same command fails when nothing answers."""
    passed = podman("healthcheck", "run", box.name, check=False)
    assert passed.returncode == 0, f"{passed.stdout}{passed.stderr}\n{box.logs()}"
    config = json.loads(
        podman("inspect", "--format", "{{json .Config.Healthcheck}}", box.name).stdout
    )
    command = config["Test"][1:] if config["Test"][0] == "CMD" else config["Test"]
    failed = podman("exec", "--env", "PORT=1", box.name, *command, check=False)
    assert failed.returncode != 0, failed


def check_login_and_read(project: Project, url: str, box: Container) -> str | None:
    """A login (or a token of the identity provider) and an authenticated read; the id of the
    item written, with a database."""
    with httpx.Client(base_url=url, timeout=15) as client:
        headers = auth_headers(project, client)
        info = client.get("/api/v1/info")
        assert info.status_code == 200, info.text
        expected = "staging" if project.facts.is_sqlite else "production"
        assert info.json()["environment"] == expected
        if project.facts.has_auth:
            me = client.get("/api/v1/users/me", headers=headers)
            assert me.status_code == 200, f"{me.text}\n{box.logs()}"
            if project.facts.has_users:
                assert me.json()["email"] == ADMIN_EMAIL
            assert client.get("/api/v1/users/me").status_code == 401
        if not project.facts.has_database:
            return None
        created = client.post("/api/v1/items", json={"name": "from-the-image"}, headers=headers)
        assert created.status_code == 201, f"{created.text}\n{box.logs()}"
        item = str(created.json()["id"])
        read = client.get(f"/api/v1/items/{item}", headers=headers)
        assert read.status_code == 200 and read.json()["name"] == "from-the-image", read.text
        return item


# --------------------------------------------------------------------------------------------
# The worker
# --------------------------------------------------------------------------------------------
def worker_container(
    built: Built, target: Deployment
) -> contextlib.AbstractContextManager[Container]:
    """The worker service of compose.yaml: its command, and its health check."""
    worker = compose_service(built.project, "worker")
    health = worker["healthcheck"]["test"]
    assert health[0] in {"CMD", "CMD-SHELL"}, health
    # podman takes the exec form as JSON, the shell form as its string ($$ is compose's $)
    command = json.dumps(health[1:]) if health[0] == "CMD" else health[1].replace("$$", "$")
    return container(
        built.image,
        worker["command"],
        env=target.env,
        volumes=target.volumes,
        options=["--health-cmd", command],
        kind="worker",
    )


def check_worker(project: Project, url: str, worker: Container) -> None:
    """A job queued through the API is completed by the worker container; compose.yaml's
    health check of the worker (`celery inspect ping`) passes."""
    with httpx.Client(base_url=url, timeout=15) as client:
        headers = auth_headers(project, client)
        queued = client.post("/api/v1/jobs", json={"numbers": [1, 2, 3.5]}, headers=headers)
        assert queued.status_code == 202, queued.text
        job = queued.json()["id"]
        deadline = time.monotonic() + 60
        while True:
            state = client.get(f"/api/v1/jobs/{job}", headers=headers).json()
            if state["status"] in {"success", "failure"} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert state == {"id": job, "status": "success", "result": 6.5}, worker.logs()
    passed = podman("healthcheck", "run", worker.name, check=False)
    health = podman("inspect", "--format", "{{json .State.Health}}", worker.name, check=False)
    assert passed.returncode == 0, (
        f"{passed.stdout}{passed.stderr}\nthe checks: {health.stdout}\n{worker.logs()}"
    )
    assert worker.exec("id", "-u").stdout.strip() == "10001"


# --------------------------------------------------------------------------------------------
# compose: `make up` and `make down`
# --------------------------------------------------------------------------------------------
def network_links() -> set[str]:
    return {path.name for path in Path("/sys/class/net").iterdir()}


def firewall() -> str:
    """The host's packet filter rules: the compose test must leave them as they were."""
    for tool in ("iptables-save", "nft"):
        if shutil.which(tool):
            cmd = [tool] if tool == "iptables-save" else [tool, "list", "ruleset"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False).stdout
            return "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    return ""


# Where the machine's own services listen (compose's would be reached by their service name).
MACHINE_PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
PLACEHOLDER = (
    "import signal, sys; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); signal.pause()"
)


def started_by_make_up(project: Project) -> list[str]:
    """compose.yaml's services but those of a profile (mailpit, jaeger: started on demand)."""
    return [
        service
        for service in project.facts.compose_services
        if not compose_service(project, service).get("profiles")
    ]


def compose_override(project: Project, target: Deployment, name: str) -> dict[str, Any]:
    """What `make up` needs on this machine, beside the unchanged compose.yaml: host networking
    for the app, migration and worker services, with the settings of this test's own services.
    compose's backing services (postgres:17-alpine, ...) cannot be pulled here: each becomes a
    placeholder of the app's image that stands for the machine's service (healthy when that
    answers), so that every `depends_on` of compose.yaml still holds."""
    image = f"{containers.PREFIX}-{name}:compose"
    env = {key: value for key, value in target.env.items() if key != "PORT"}
    if project.facts.is_sqlite:
        env.pop("DATABASE_URL", None)  # compose.yaml's own, on its data volume
    services: dict[str, Any] = {}
    for service in started_by_make_up(project):
        spec: dict[str, Any] = {"network_mode": "host", "image": image}
        if service in MACHINE_PORTS:
            probe = f"import socket; socket.create_connection(('127.0.0.1', {MACHINE_PORTS[service]}), 2)"
            spec |= {
                "command": ["python", "-c", PLACEHOLDER],
                # podman-compose appends lists of the same key: replace compose's own check
                "healthcheck": {"test": Override(["CMD", "python", "-c", probe]), "interval": "2s"},
                "volumes": Reset([]),
            }
        else:
            spec["environment"] = {
                **env,
                **({"PORT": target.env["PORT"]} if service == "app" else {}),
            }
        if "ports" in compose_service(project, service):
            spec["ports"] = Reset([])
        if service in {"migrate", "worker", "beat"} and "depends_on" in compose_service(
            project, service
        ):
            # they wait for compose's services only; podman 4.3 cannot start the app when what
            # it requires requires more ("generating dependency graph ... no such container")
            spec["depends_on"] = Reset({})
        services[service] = spec
    return {"name": name, "x-podman": {"in_pod": False}, "services": services}


class Reset:
    """A compose `!reset` value."""

    def __init__(self, value: Any) -> None:
        self.value = value


class Override(Reset):
    """A compose `!override` value (of scalars: podman-compose 1.6 reads no deeper)."""


def _tagged(dumper: yaml.SafeDumper, data: Reset) -> yaml.Node:
    tag = "!override" if isinstance(data, Override) else "!reset"
    if isinstance(data.value, dict):
        return dumper.represent_mapping(tag, data.value)
    return dumper.represent_sequence(tag, data.value)


yaml.SafeDumper.add_multi_representer(Reset, _tagged)


# The three shapes of compose.yaml: the app alone; the app after its migration, on a SQLite
# volume; every service, with placeholders for compose's PostgreSQL, Redis and RabbitMQ.
COMPOSE_SETS = ["docker-only", "docker-defaults", "docker-everything"]


@pytest.mark.parametrize("project", answer_set_params(COMPOSE_SETS), indirect=True)
def test_make_up_starts_the_compose_stack_that_answers_ready(built: Built, tmp_path: Path) -> None:
    project = built.project
    compose_file = (built.path / "compose.yaml").read_text()
    name = containers.unique("compose")
    rules = firewall()
    with deployment(project) as target:
        override = tmp_path / "compose.machine-services.yaml"
        override.write_text(yaml.safe_dump(compose_override(project, target, name)))
        # compose.yaml stays as it is; the override file and the project name come from the
        # environment, which docker compose and podman-compose both read
        variables = {"COMPOSE_FILE": f"compose.yaml:{override}", "COMPOSE_PROJECT_NAME": name}
        try:
            _, seconds = make(built.path, "up", env=variables)
            box = Container(f"{name}_app_1")
            wait_until_live(box, target.url)
            assert_ready(project, target.url, box)
            listed = podman("ps", "--all", "--format", "{{.Names}} {{.Status}}").stdout
            started = {line.split()[0] for line in listed.splitlines() if line.startswith(name)}
            expected = {f"{name}_{service}_1" for service in started_by_make_up(project)}
            assert started == expected, listed
            if project.facts.has_database:
                migrate_log = Container(f"{name}_migrate_1").logs()
                assert "Running upgrade" in migrate_log, migrate_log
            record(project.name, compose_up_s=round(seconds, 1))
        finally:
            make(built.path, "down", env=variables)
            for leftover in podman("volume", "ls", "--format", "{{.Name}}").stdout.split():
                if leftover.startswith(name):
                    podman("volume", "rm", "--force", leftover, check=False)
    listed = podman("ps", "--all", "--format", "{{.Names}}").stdout.split()
    assert not [n for n in listed if n.startswith(name)], listed
    assert (built.path / "compose.yaml").read_text() == compose_file
    assert firewall() == rules, "the compose stack changed the host's firewall"


# --------------------------------------------------------------------------------------------
# The dependencies' layer follows the lock (the negative control of the source-change test)
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("project", answer_set_params(["docker-defaults"]), indirect=True)
def test_a_lock_change_reinstalls_the_dependencies(built: Built) -> None:
    """The negative control of the source-change test: the dependencies' step is keyed by the
    lock's content (podman 4 would keep a bind-mounted lock's step cached). Only the `deps`
    stage is built: the rest of the image is not in question here."""

    def build_deps(tag: str) -> tuple[str, list[str]]:
        # the format of `make image` (BUILDAH_FORMAT=docker), whose cache it then finds
        result = podman(
            "build", "--format", "docker", "--target", "deps", "--tag", tag, str(built.path)
        )
        layers = json.loads(podman("image", "inspect", tag).stdout)[0]["RootFS"]["Layers"]
        return result.stdout + result.stderr, list(layers)

    tag = f"{built.image}-deps"
    output, before = build_deps(tag)
    assert step_used_cache(output, "uv sync"), output  # as built by make image
    lock = built.path / "uv.lock"
    original = lock.read_text()
    lock.write_text(f"{original}# changed {secrets.token_hex(4)}\n")
    try:
        output, after = build_deps(f"{tag}-lock")
    finally:
        lock.write_text(original)
    assert not step_used_cache(output, "uv sync"), output
    assert before[:-2] == after[:-2] and before[-2:] != after[-2:], (before, after)
    podman("rmi", tag, f"{tag}-lock", check=False)
