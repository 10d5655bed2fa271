"""Deployment files for answers whose modules are not built yet, rendered directly with Jinja.

Copier refuses an unsupported answer (database=postgresql, worker=celery, ...) until its module
lands, but the deployment files are driven only by the derived facts. Rendering those files
straight from the template with the same Jinja settings as copier lets the schema checks cover
every service combination now: compose with a migration step, a worker and every backing
service, the Kubernetes migration Job and worker Deployment, CI service containers.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from tests.answers import MINIMAL, QUESTIONS
from tests.conftest import BIN, clean_env, run
from tests.facts import facts
from tests.paths import TEMPLATE

COMBINATIONS: dict[str, dict[str, Any]] = {
    "postgresql-celery-rabbitmq-redis": {
        "database": "postgresql",
        "worker": "celery",
        "broker": "rabbitmq",
        "cache": "redis",
        "auth": "password",
    },
    "sqlite-celery-redis": {"database": "sqlite", "worker": "celery", "broker": "redis"},
    "postgresql-only": {"database": "postgresql", "auth": "jwt"},
}

# The template files of the deployment module.
FILES = [
    "{% if has_docker %}Dockerfile{% endif %}.jinja",
    "{% if has_docker %}compose.yaml{% endif %}.jinja",
    "{% if has_ci %}.github{% endif %}/workflows/ci.yml.jinja",
    "{% if has_ci %}.github{% endif %}/dependabot.yml.jinja",
    "{% if has_ci %}.github{% endif %}/workflows/template-update.yml.jinja",
]
KUBERNETES = "{% if has_kubernetes %}deploy{% endif %}/kubernetes"


def render_deployment(name: str, dest: Path) -> Any:
    answers: dict[str, Any] = {
        key: spec["default"] for key, spec in QUESTIONS.items() if "{{" not in str(spec["default"])
    }
    answers.update(MINIMAL)
    answers.update(docker=True, kubernetes=True, ci="github", metrics=True)
    answers.update(COMBINATIONS[name])
    answers.update(project_slug="combo-service", package_name="combo_service")
    derived = facts.derive(answers)
    context = {**answers, **asdict(derived)}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    sources = [*FILES]
    sources += [
        p.relative_to(TEMPLATE).as_posix() for p in (TEMPLATE / KUBERNETES).rglob("*.jinja")
    ]
    for source in sources:
        parts = [env.from_string(part).render(context) for part in Path(source).parts]
        parts[-1] = parts[-1].removesuffix(".jinja")
        if not all(parts):
            continue  # a conditional path name that is off for these answers
        out = dest.joinpath(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(env.get_template(source).render(context))
    return derived


@pytest.mark.parametrize("name", sorted(COMBINATIONS))
def test_deployment_files_validate_for_every_service_combination(name: str, tmp_path: Path) -> None:
    derived = render_deployment(name, tmp_path)

    run([str(BIN / "hadolint"), "Dockerfile"], tmp_path, clean_env())
    dockerfile = (tmp_path / "Dockerfile").read_text()
    assert "COPY alembic.ini ./" in dockerfile
    assert "COPY migrations ./migrations" in dockerfile

    schema = [str(BIN / "check-jsonschema"), "--builtin-schema"]
    run([*schema, "vendor.compose-spec", "compose.yaml"], tmp_path, clean_env())
    run([*schema, "vendor.github-workflows", ".github/workflows/ci.yml"], tmp_path, clean_env())
    update = ".github/workflows/template-update.yml"
    run([*schema, "vendor.github-workflows", update], tmp_path, clean_env())
    run([*schema, "vendor.dependabot", ".github/dependabot.yml"], tmp_path, clean_env())
    run([str(BIN / "zizmor"), "--offline", ".github"], tmp_path, clean_env())

    compose = yaml.safe_load((tmp_path / "compose.yaml").read_text())
    assert tuple(compose["services"]) == derived.compose_services
    assert compose["services"]["migrate"]["command"] == ["alembic", "upgrade", "head"]
    if derived.has_worker:
        assert compose["services"]["worker"]["command"] == [
            "celery",
            "--app",
            "combo_service.worker:celery_app",
            "worker",
            "--loglevel=INFO",
        ]
    for service in ("app", "worker") if derived.has_worker else ("app",):
        depends = compose["services"][service]["depends_on"]
        for backing in derived.compose_backing:
            assert depends[backing] == {"condition": "service_healthy"}
    assert compose["services"]["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }

    workflow = yaml.safe_load((tmp_path / ".github/workflows/ci.yml").read_text())
    containers = workflow["jobs"]["test"].get("services", {})
    assert {spec["image"] for spec in containers.values()} == set(derived.images.values())
    assert workflow["jobs"]["test"].get("env", {}) == dict(derived.ci_environment)

    base = tmp_path / "deploy/kubernetes/base"
    manifests = sorted(str(p) for p in base.glob("*.yaml") if p.name != "kustomization.yaml")
    run([str(BIN / "kubernetes-validate"), "--strict", *manifests], tmp_path, clean_env())
    overlay = "deploy/kubernetes/overlays/production"
    built = run([str(BIN / "kubectl"), "kustomize", overlay], tmp_path, clean_env())
    (tmp_path / "built.yaml").write_text(built)
    run([str(BIN / "kubernetes-validate"), "--strict", "built.yaml"], tmp_path, clean_env())
    docs = [doc for doc in yaml.safe_load_all(built) if doc]
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    assert ("Job", "combo-service-migrate") in kinds
    assert (("Deployment", "combo-service-worker") in kinds) == derived.has_worker
    job = next(doc for doc in docs if doc["kind"] == "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "alembic",
        "upgrade",
        "head",
    ]
    secret = next(doc for doc in docs if doc["kind"] == "Secret")
    assert set(secret["stringData"]) == set(derived.secret_variables)  # kustomize sorts keys
