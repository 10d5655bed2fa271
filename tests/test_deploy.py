"""Deployment files of rendered projects, checked statically and by running gunicorn.

No Docker engine or cluster is needed: the Dockerfile goes through hadolint, the manifests
through kubernetes-validate (its bundled schemas) after `kubectl kustomize` builds the overlay
offline, compose.yaml and the workflow through check-jsonschema's vendored schemas. Gunicorn
itself runs for real with two uvicorn workers on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.answers import ANSWER_SETS, effective
from tests.auth import auth_env, auth_headers
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.facts import facts
from tests.servers import servers, silent_websocket
from tests.services import postgres_database


def sets_where(*names: str) -> list[Any]:
    """The named answer sets whose derived facts hold every one of `names`."""
    return answer_set_params(
        [
            name
            for name in ANSWER_SETS
            if all(getattr(facts.derive(effective(name)), fact) for fact in names)
        ]
    )


def tool_fails(cmd: list[str], cwd: Path) -> bool:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, check=False).returncode != 0


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


# --------------------------------------------------------------------------------------------
# Docker
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("project", sets_where("has_docker"), indirect=True)
class TestDocker:
    def test_hadolint_passes(self, project: Project) -> None:
        run([str(BIN / "hadolint"), "Dockerfile"], project.path, clean_env())

    def test_hadolint_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / "Dockerfile"
        bad.write_text((project.path / "Dockerfile").read_text().replace("-slim AS", " AS", 1))
        bad.write_text(bad.read_text() + "RUN cd /tmp && apt-get install curl\n")
        assert tool_fails([str(BIN / "hadolint"), str(bad)], tmp_path)

    def test_image_is_frozen_non_root_and_checks_health_without_curl(
        self, project: Project
    ) -> None:
        text = (project.path / "Dockerfile").read_text()
        assert f"ARG PYTHON_VERSION={project.answers['python_version']}\n" in text
        assert "FROM python:${PYTHON_VERSION}-slim AS runtime" in text
        # the dependencies exactly as locked, in a layer of their own; the project without them
        assert "uv sync --frozen --no-dev --no-editable --no-install-project" in text
        assert "uv pip install --quiet --python /app/.venv/bin/python --no-deps ." in text
        assert re.search(r"^USER 10001", text, re.MULTILINE)
        assert "curl" not in text.split("HEALTHCHECK", 1)[1]
        assert "/health/live" in text.split("HEALTHCHECK", 1)[1]
        assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py"]' in text
        assert ("COPY alembic.ini" in text) == project.facts.has_database
        assert ("COPY migrations" in text) == project.facts.has_database

    def test_builds_offline_on_docker_and_podman(self, project: Project) -> None:
        """The defects an offline podman build met (docs/deployment.md, "The image")."""
        text = (project.path / "Dockerfile").read_text()
        # BuildKit would fetch a frontend image from a registry
        assert not re.search(r"^# *syntax *=", text, re.MULTILINE | re.IGNORECASE)
        targets = re.findall(r"target=([^,\s]+)", text)
        assert targets and all(t.startswith("/") for t in targets), targets  # podman: absolute
        # podman 4 reuses a cached RUN step whatever its bind mounts hold: COPY instead
        assert "type=bind" not in text
        makefile = (project.path / "Makefile").read_text()
        assert "CONTAINER_ENGINE ?= docker\n" in makefile
        assert "\t$(CONTAINER_ENGINE) build --tag $(IMAGE) .\n" in makefile

    def test_build_context_holds_what_the_dockerfile_copies(self, project: Project) -> None:
        ignored = {
            line.strip()
            for line in (project.path / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        }
        text = (project.path / "Dockerfile").read_text()
        sources = [
            source
            for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE)
            for source in line.split()[:-1]
        ]
        assert "uv.lock" in sources  # the lock file strategy: the image installs from it
        for source in sources:
            assert source not in ignored
            if source != "uv.lock":  # created by `make install` / `make lock`
                assert (project.path / source).exists(), source

    def test_lock_file_is_not_ignored_by_git(self, project: Project) -> None:
        patterns = (project.path / ".gitignore").read_text().splitlines()
        assert not any(p.strip() in {"uv.lock", "*.lock"} for p in patterns)
        assert "make lock" in (project.path / "README.md").read_text()

    def test_gunicorn_runtime_dependencies(self, project: Project) -> None:
        names = {facts.requirement_name(r) for r in project.facts.dependencies}
        assert {"gunicorn", "uvicorn-worker"} <= names


@pytest.mark.parametrize("project", sets_where("has_docker"), indirect=True)
class TestCompose:
    def test_validates_against_the_compose_spec(self, project: Project) -> None:
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
        run([*cmd, "compose.yaml"], project.path, clean_env())

    def test_schema_check_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / "compose.yaml"
        bad.write_text((project.path / "compose.yaml").read_text() + "nonsense_key: 1\n")
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec"]
        assert tool_fails([*cmd, str(bad)], tmp_path)

    def test_services_are_exactly_those_of_the_answers(self, project: Project) -> None:
        compose = yaml.safe_load((project.path / "compose.yaml").read_text())
        services = compose["services"]
        assert tuple(services) == project.facts.compose_services
        for name in project.facts.compose_backing:
            assert "healthcheck" in services[name]
            assert services["app"]["depends_on"][name] == {"condition": "service_healthy"}
        if project.facts.has_database:
            assert services["migrate"]["command"] == ["alembic", "upgrade", "head"]
            assert services["app"]["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }
        if project.facts.has_worker:
            command = services["worker"]["command"]
            assert command[:3] == ["celery", "--app", f"{project.package}.worker:celery_app"]
            assert services["beat"]["command"] == ["python", "-m", project.package, "beat"]
            assert "deploy" not in services["beat"]  # one beat: never replicated

    def test_app_environment_points_at_the_services(self, project: Project) -> None:
        compose = yaml.safe_load((project.path / "compose.yaml").read_text())
        for name in project.facts.compose_services:
            if name in {"app", "migrate", "worker", "beat"}:
                env = compose["services"][name]["environment"]
                assert env == {
                    "ENVIRONMENT": "development",
                    **dict(project.facts.compose_environment),
                }
        if project.facts.is_postgresql:
            postgres = compose["services"]["postgres"]["environment"]
            url = dict(project.facts.compose_environment)["DATABASE_URL"]
            expected = (
                f"postgresql+asyncpg://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
                f"@postgres:5432/{postgres['POSTGRES_DB']}"
            )
            assert url == expected


# --------------------------------------------------------------------------------------------
# Gunicorn: two uvicorn workers, readiness, and metrics summed over every worker process
# --------------------------------------------------------------------------------------------
GUNICORN = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]


def get_across_recycling(url: str) -> httpx.Response:
    """GET, again when a recycling worker closed the connection before reading the request.

    Such a request never reached the app, so it was not counted: retrying keeps counts exact.
    (The connection is closed, or reset when the request was already in the socket's buffer.)
    A request that arrives while both workers are being replaced waits for a new worker to start
    (the everything-on app's start took more than 10 s on a loaded 2-core machine).
    """
    for attempt in range(3):
        try:
            return httpx.get(url, timeout=30)
        except (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError):
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


@pytest.mark.parametrize("project", sets_where("has_docker"), indirect=True)
def test_gunicorn_serves_with_two_workers(project: Project, tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        database: dict[str, str] = {}
        if project.facts.is_postgresql:
            database["DATABASE_URL"] = stack.enter_context(postgres_database("tpl_deploy"))
        elif project.facts.is_sqlite:
            database["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        env = {**database, **redis_isolation(project)}
        if project.facts.has_database:
            # The migration step of compose.yaml and the Kubernetes Job, from the project root.
            migrate = [sys.executable, "-m", "alembic", "upgrade", "head"]
            run(migrate, project.path, clean_env(PYTHONPATH="src", **env))
        serve_and_check(project, tmp_path, env)


@pytest.mark.parametrize("project", sets_where("has_docker", "has_websockets"), indirect=True)
def test_gunicorn_workers_keep_the_websocket_heartbeat(project: Project, tmp_path: Path) -> None:
    """WS_PING_INTERVAL and WS_PING_TIMEOUT reach the uvicorn workers: a silent client is dropped
    within seconds (with uvicorn's default, 20 s + 20 s, it would still be connected)."""
    with contextlib.ExitStack() as stack:
        database: dict[str, str] = {}
        if project.facts.is_postgresql:
            database["DATABASE_URL"] = stack.enter_context(postgres_database("tpl_deploy"))
        env = {
            "WORKERS": "1",
            "MAX_REQUESTS": "0",
            "WS_PING_INTERVAL": "0.5",
            "WS_PING_TIMEOUT": "0.5",
            **database,
            **redis_isolation(project),
            **auth_env(project),
        }
        if project.facts.has_database:
            migrate = [sys.executable, "-m", "alembic", "upgrade", "head"]
            run(migrate, project.path, clean_env(PYTHONPATH="src", **env))
        (server,) = stack.enter_context(
            servers(project.path, GUNICORN, tmp_path, env, ready="/health/ready")
        )
        with httpx.Client(base_url=server.url, timeout=10) as client:
            token = auth_headers(project, client).get("Authorization", "").removeprefix("Bearer ")
        path = f"/ws/quiet?token={token}" if token else "/ws/quiet"
        with silent_websocket(server.port, path):
            deadline = time.monotonic() + 10
            while "websocket_left" not in server.output():
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.1)


def redis_isolation(project: Project) -> dict[str, str]:
    """Redis keys of this run only: counters of an earlier run must not limit this one."""
    if not project.facts.needs_redis:
        return {}
    prefix = f"tpl-deploy-{uuid.uuid4().hex[:12]}"
    return {
        "REDIS_URL": "redis://127.0.0.1:6379/7",
        "RATE_LIMIT_KEY_PREFIX": f"{prefix}:ratelimit",
        "CACHE_KEY_PREFIX": f"{prefix}:cache:",
        "WS_REDIS_CHANNEL_PREFIX": f"{prefix}:ws:",
    }


def serve_and_check(project: Project, tmp_path: Path, env: dict[str, str]) -> None:
    metrics_dir = tmp_path / "prometheus"
    env = {
        **env,
        "WORKERS": "2",
        # Recycle each worker after 5 requests: the samples of exited workers must still count.
        "MAX_REQUESTS": "5",
        "MAX_REQUESTS_JITTER": "0",
        "GRACEFUL_TIMEOUT": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    with servers(project.path, GUNICORN, tmp_path, env, ready="/health/ready") as (server,):
        deadline = time.monotonic() + 60
        while len(re.findall(r"Booting worker with pid", server.output())) < 2:
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.2)
        assert re.search(r"Using worker: .*UvicornWorker", server.output())

        ready = httpx.get(f"{server.url}/health/ready", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["status"] == "ok"
        if project.facts.has_database:
            assert ready.json()["checks"]["database"] == "ok"

        if project.facts.has_metrics:
            check_metrics_across_workers(project, server.url, metrics_dir)
    assert server.popen.returncode == 0, server.output()


def requests_total(text: str, route: str) -> list[float]:
    pattern = (
        rf'^http_requests_total\{{method="GET",route="{re.escape(route)}",status="200"\}} (\S+)$'
    )
    return [float(count) for count in re.findall(pattern, text, re.MULTILINE)]


def check_metrics_across_workers(project: Project, base: str, metrics_dir: Path) -> None:
    total = 20
    for _ in range(total):  # a new connection each time: any worker may answer
        assert get_across_recycling(f"{base}/api/v1/info").status_code == 200
    item_template = None
    raw_label = ""
    if project.facts.has_database and not project.facts.has_auth:
        created = httpx.post(f"{base}/api/v1/items", json={"name": "deploy-check"}, timeout=10)
        assert created.status_code == 201, created.text
        raw_label = f'route="/api/v1/items/{created.json()["id"]}"'
        for _ in range(3):
            item = get_across_recycling(f"{base}/api/v1/items/{created.json()['id']}")
            assert item.status_code == 200
        item_template = next(
            iter(
                re.findall(
                    r'route="(/api/v1/items/\{\w+\})"', get_across_recycling(f"{base}/metrics").text
                )
            ),
            None,
        )
        assert item_template is not None
    # Each scrape is answered by whichever worker; each must see the sum of every process.
    for _ in range(3):
        scrape = get_across_recycling(f"{base}/metrics")
        assert scrape.status_code == 200
        assert requests_total(scrape.text, "/api/v1/info") == [float(total)], scrape.text
        if item_template is not None:
            assert requests_total(scrape.text, item_template) == [3.0], scrape.text
            assert raw_label not in scrape.text  # never the raw path
    pids = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 3, pids  # 20 requests at 5 per worker: several processes


# --------------------------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------------------------
def kustomize_build(project: Project) -> list[dict[str, Any]]:
    overlay = "deploy/kubernetes/overlays/production"
    out = run([str(BIN / "kubectl"), "kustomize", overlay], project.path, clean_env())
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.mark.parametrize("project", sets_where("has_kubernetes"), indirect=True)
class TestKubernetes:
    def test_base_manifests_validate(self, project: Project) -> None:
        base = project.path / "deploy/kubernetes/base"
        files = sorted(str(p) for p in base.glob("*.yaml") if p.name != "kustomization.yaml")
        run([str(BIN / "kubernetes-validate"), "--strict", *files], project.path, clean_env())

    def test_overlay_builds_and_validates(self, project: Project, tmp_path: Path) -> None:
        docs = kustomize_build(project)
        built = tmp_path / "built.yaml"
        built.write_text(yaml.safe_dump_all(docs))
        run([str(BIN / "kubernetes-validate"), "--strict", str(built)], tmp_path, clean_env())
        assert {doc["metadata"]["namespace"] for doc in docs} == {project.answers["project_slug"]}

    def test_validation_can_fail(self, project: Project, tmp_path: Path) -> None:
        text = (project.path / "deploy/kubernetes/base/deployment.yaml").read_text()
        bad = tmp_path / "deployment.yaml"
        bad.write_text(text.replace("readOnlyRootFilesystem: true", "readOnlyRootFs: true"))
        cmd = [str(BIN / "kubernetes-validate"), "--strict", str(bad)]
        assert tool_fails(cmd, tmp_path)

    def test_resources_follow_the_answers(self, project: Project) -> None:
        slug = project.answers["project_slug"]
        kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in kustomize_build(project)}
        expected = {
            ("Deployment", slug),
            ("Service", slug),
            ("ConfigMap", f"{slug}-config"),
            ("Secret", f"{slug}-secrets"),
            ("HorizontalPodAutoscaler", slug),
            ("PodDisruptionBudget", slug),
        }
        if project.facts.has_database:
            expected.add(("Job", f"{slug}-migrate"))
        if project.facts.has_worker:
            expected.add(("Deployment", f"{slug}-worker"))
            expected.add(("Deployment", f"{slug}-beat"))
        assert kinds == expected

    def test_one_beat_replaced_not_rolled(self, project: Project) -> None:
        """A rolling update would run the old and the new beat side by side."""
        if not project.facts.has_worker:
            pytest.skip("no worker")
        slug = project.answers["project_slug"]
        docs = kustomize_build(project)
        beat = next(d for d in docs if d["metadata"]["name"] == f"{slug}-beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        (container,) = beat["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", project.package, "beat"]
        worker = next(d for d in docs if d["metadata"]["name"] == f"{slug}-worker")
        (worker_container,) = worker["spec"]["template"]["spec"]["containers"]
        assert worker_container["readinessProbe"]["exec"]["command"] == [
            "test",
            "-f",
            "/tmp/celery-worker-ready",
        ]
        assert "celery@$HOSTNAME" in worker_container["livenessProbe"]["exec"]["command"][-1]

    def test_api_deployment_probes_and_hardening(self, project: Project) -> None:
        slug = project.answers["project_slug"]
        docs = kustomize_build(project)
        deployment = next(
            d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == slug
        )
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"registry.example.com/{slug}:0.1.0"
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert {"requests", "limits"} <= set(container["resources"])
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert "/tmp" in mounts  # the only writable place (gunicorn, Prometheus files)

    def test_secret_carries_the_credentials(self, project: Project) -> None:
        secret = next(d for d in kustomize_build(project) if d["kind"] == "Secret")
        assert set(secret.get("stringData", {})) == set(project.facts.secret_variables)


# --------------------------------------------------------------------------------------------
# GitHub Actions
# --------------------------------------------------------------------------------------------
WORKFLOW = ".github/workflows/ci.yml"


@pytest.mark.parametrize("project", sets_where("has_ci"), indirect=True)
class TestWorkflow:
    def test_validates_against_the_workflow_schema(self, project: Project) -> None:
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        run([*cmd, WORKFLOW], project.path, clean_env())

    def test_schema_check_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / "ci.yml"
        bad.write_text((project.path / WORKFLOW).read_text().replace("runs-on:", "run-on:"))
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        assert tool_fails([*cmd, str(bad)], tmp_path)

    def test_jobs_and_service_containers_follow_the_answers(self, project: Project) -> None:
        workflow = yaml.safe_load((project.path / WORKFLOW).read_text())
        jobs = workflow["jobs"]
        expected_jobs = {"lint", "typecheck", "test", "audit"}
        expected_jobs |= {"image"} if project.facts.has_docker else set()
        expected_jobs |= {"kustomize"} if project.facts.has_kubernetes else set()
        assert set(jobs) == expected_jobs
        assert workflow["env"]["UV_PYTHON"] == project.answers["python_version"]
        test = jobs["test"]
        containers = test.get("services", {})
        images = {spec["image"] for spec in containers.values()}
        assert images == {facts.SERVICE_IMAGES[s] for s in project.facts.services}
        assert test.get("env", {}) == dict(project.facts.ci_environment)
        steps = [step.get("run", "") for job in jobs.values() for step in job["steps"]]
        assert "uv lock --check" in steps
        assert "uv run pytest -n auto" in steps  # a process per core, as `make test`
        assert "uv run mypy" in steps
        if project.facts.has_docker:
            assert f"make image IMAGE={project.answers['project_slug']}:ci" in steps
        if project.facts.has_kubernetes:
            assert any(
                "kubectl kustomize deploy/kubernetes/overlays/production" in s for s in steps
            )
