"""The supply chain of the rendered projects (ci=github): audits, pins, dependency automation.

zizmor runs offline on every rendered workflow and Dependabot config of every answer set with
ci=github and reports nothing; every action is pinned by commit from the one place of pins
(pins/, read by extensions/facts.py); the audit job's commands (pip-audit against the lock, the
CycloneDX SBOM of the image's packages) run here on a locked project with the suite's copies of
the tools, offline (the lock from the wheelhouse of `make test`, pip-audit in dry-run: its
advisory databases are not reachable from the suite, the generated CI queries them); the
template-update workflow's conflict steps run for real.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import BIN, Project, clean_env, offline_installs, run
from tests.facts import facts
from tests.paths import ROOT, TEMPLATE, is_text
from tests.test_deploy import sets_where, tool_fails
from tests.test_update import git

WORKFLOWS = ".github/workflows"
USES = re.compile(r"^\s*-?\s*uses:\s*(?P<value>.+?)\s*$", re.MULTILINE)
PINNED = re.compile(
    r"^(?P<name>[\w.-]+/[\w.-]+)@(?P<commit>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)$"
)


def workflow_files(root: Path) -> list[Path]:
    return sorted((root / WORKFLOWS).glob("*.yml"))


def zizmor(path: Path) -> list[str]:
    return [str(BIN / "zizmor"), "--offline", "--no-progress", str(path)]


@pytest.mark.parametrize("project", sets_where("has_ci"), indirect=True)
class TestWorkflowAudits:
    def test_zizmor_reports_nothing(self, project: Project) -> None:
        files = workflow_files(project.path)
        assert files
        output = run(zizmor(project.path / ".github"), project.path, clean_env())
        assert "No findings to report" in output, output

    def test_zizmor_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / WORKFLOWS
        shutil.copytree(project.path / WORKFLOWS, bad)
        ci = bad / "ci.yml"
        pinned = facts.action_pins()["actions/checkout"]
        ci.write_text(ci.read_text().replace(pinned, "actions/checkout@v5"))
        assert tool_fails(zizmor(bad), tmp_path)

    def test_every_action_is_pinned_by_commit_from_the_table(self, project: Project) -> None:
        pins = facts.action_pins()
        for path in workflow_files(project.path):
            values = USES.findall(path.read_text())
            assert values, path
            for value in values:
                match = PINNED.match(value)
                assert match, f"{path.name}: {value} is not pinned by commit"
                assert value == pins[match["name"]], path.name

    def test_audit_job_runs_pip_audit_and_zizmor(self, project: Project) -> None:
        workflow = yaml.safe_load((project.path / WORKFLOWS / "ci.yml").read_text())
        steps = " ".join(step.get("run", "") for step in workflow["jobs"]["audit"]["steps"])
        tools = facts.CI_TOOLS
        assert "uv export --frozen" in steps
        assert f"uvx pip-audit@{tools['pip-audit']} --strict --disable-pip" in steps
        assert f"uvx zizmor@{tools['zizmor']} --format github .github" in steps
        image = workflow["jobs"].get("image")
        if not project.facts.has_docker:
            assert image is None
            return
        runs = " ".join(step.get("run", "") for step in image["steps"])
        assert f"cyclonedx-bom=={tools['cyclonedx-bom']} cyclonedx-py requirements" in runs
        uploads = [s["with"] for s in image["steps"] if "upload-artifact" in s.get("uses", "")]
        assert uploads == [{"name": "sbom", "path": "sbom.cdx.json"}]


DEPENDABOT = ".github/dependabot.yml"


@pytest.mark.parametrize("project", sets_where("has_ci"), indirect=True)
class TestDependabot:
    def test_validates_against_the_dependabot_schema(self, project: Project) -> None:
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot"]
        run([*cmd, DEPENDABOT], project.path, clean_env())

    def test_schema_check_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / "dependabot.yml"
        text = (project.path / DEPENDABOT).read_text()
        bad.write_text(text.replace("interval: weekly", "interval: fortnightly"))
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot"]
        assert tool_fails([*cmd, str(bad)], tmp_path)

    def test_zizmor_refuses_updates_without_cooldown(
        self, project: Project, tmp_path: Path
    ) -> None:
        bad = tmp_path / ".github"
        shutil.copytree(project.path / ".github", bad)
        config = bad / "dependabot.yml"
        config.write_text(re.sub(r"\n\s+cooldown:\n\s+default-days: 7", "", config.read_text()))
        assert "default-days" not in config.read_text()
        assert tool_fails(zizmor(bad), tmp_path)

    def test_ecosystems_and_groups_follow_the_answers(self, project: Project) -> None:
        config = yaml.safe_load((project.path / DEPENDABOT).read_text())
        assert config["version"] == 2
        updates = {update["package-ecosystem"]: update for update in config["updates"]}
        expected = {"uv", "github-actions"}
        expected |= {"docker", "docker-compose"} if project.facts.has_docker else set()
        assert set(updates) == expected
        assert len(config["updates"]) == len(updates)
        for ecosystem, update in updates.items():
            assert update["directory"] == "/", ecosystem
            assert update["schedule"] == {"interval": "weekly", "day": "monday"}, ecosystem
            assert update["cooldown"]["default-days"] >= 7, ecosystem
            # Every version update of the ecosystem falls in a group: one pull request a week
            groups = update["groups"].values()
            assert any(
                g["patterns"] == ["*"] and "security-updates" != g.get("applies-to") for g in groups
            ), ecosystem
        uv = updates["uv"]["groups"]
        assert uv["python"]["update-types"] == ["minor", "patch"]
        assert uv["python-security"]["applies-to"] == "security-updates"
        # A handful of pull requests a week: one per group, majors of uv aside
        assert sum(len(update["groups"]) for update in updates.values()) <= 6


def step_command(workflow: Path, job: str, name_start: str) -> str:
    steps = yaml.safe_load(workflow.read_text())["jobs"][job]["steps"]
    (command,) = [s["run"] for s in steps if s.get("name", "").startswith(name_start)]
    return str(command)


@pytest.mark.parametrize("project", ["preset-everything"], indirect=True)
def test_audit_and_sbom_commands_run_on_the_lock(project: Project, tmp_path: Path) -> None:
    """The workflow's own command lines, with the suite's copies of the uvx tools."""
    path = tmp_path / "locked"
    shutil.copytree(project.path, path)
    env = clean_env()
    # `uv lock`, as `make lock` does, offline from the wheelhouse `make test` makes beforehand
    # (.ci/wheelhouse locks this preset once, so its cache holds every candidate's metadata)
    run([str(BIN / "uv"), "lock", "--quiet"], path, {**env, **offline_installs()})
    workflow = path / WORKFLOWS / "ci.yml"
    tools = facts.CI_TOOLS

    audit = step_command(workflow, "audit", "Known vulnerabilities")
    uvx = f"uvx pip-audit@{tools['pip-audit']}"
    assert uvx in audit
    audit = audit.replace(uvx, f"{BIN / 'pip-audit'} --dry-run")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", audit],
        cwd=path,
        env={**env, "PATH": f"{BIN}:{env['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    audited = re.search(r"would have audited (\d+) packages", output)
    assert audited and int(audited[1]) > 20, output

    sbom = step_command(workflow, "image", "Software bill of materials")
    uvx = f"uvx --from cyclonedx-bom=={tools['cyclonedx-bom']} cyclonedx-py"
    assert uvx in sbom
    sbom = sbom.replace(uvx, str(BIN / "cyclonedx-py"))
    run(["bash", "-euo", "pipefail", "-c", sbom], path, {**env, "PATH": f"{BIN}:{env['PATH']}"})
    document = json.loads((path / "sbom.cdx.json").read_text())
    assert document["bomFormat"] == "CycloneDX"
    names = {component["name"] for component in document["components"]}
    assert {"fastapi", "sqlalchemy", "celery"} <= {name.lower() for name in names}
    assert "pytest" not in names  # the image's packages: runtime only
    assert document["metadata"]["component"]["name"] == project.answers["project_slug"]


# --------------------------------------------------------------------------------------------
# Every pin in one place: pins/, in the formats the template repository's Dependabot updates
# --------------------------------------------------------------------------------------------
def template_files() -> list[Path]:
    return [p for p in TEMPLATE.rglob("*") if is_text(p)]


# A pin written in a template file instead of taken from pins/ (through extensions/facts.py)
LITERAL_PINS = {
    "action": re.compile(r"uses:\s*[\w.-]+/[\w.-]+@"),
    "image": re.compile(r"^\s*image:\s*(?!\{\{)\S+:\S+", re.MULTILINE),
    "base image": re.compile(
        r"^FROM (?!\{\{|python:\$\{PYTHON_VERSION\}-slim |builder )", re.MULTILINE
    ),
    "uvx tool": re.compile(r"uvx (?:--from )?[\w.-]+(?:@|==)\d"),
    "pre-commit rev": re.compile(r"^\s*rev:\s*\S", re.MULTILINE),
}


def test_no_template_file_writes_a_pin_of_its_own() -> None:
    found = [
        f"{path.relative_to(TEMPLATE)}: {kind}"
        for path in template_files()
        for kind, pattern in LITERAL_PINS.items()
        if pattern.search(path.read_text())
    ]
    assert found == [], "take these from pins/ (extensions/facts.py)"


def test_the_literal_pin_check_can_fail() -> None:
    for kind, text in {
        "action": "      - uses: actions/checkout@v5\n",
        "image": "    image: postgres:17-alpine\n",
        "base image": "FROM ghcr.io/astral-sh/uv:0.13 AS uv\n",
        "uvx tool": "run: uvx zizmor@1.33.1 .github\n",
        "pre-commit rev": "    rev: v0.6.0\n",
    }.items():
        assert LITERAL_PINS[kind].search(text), kind


def test_every_pin_is_used_and_well_formed() -> None:
    used = "\n".join(p.read_text() for p in template_files())
    for name in facts.ACTIONS:
        assert f'actions["{name}"]' in used, f"{name} is pinned but no template uses it"
    for name in facts.CI_TOOLS:
        assert f'ci_tools["{name}"]' in used, f"{name} is pinned but no template uses it"
    for name, value in facts.action_pins().items():
        match = PINNED.match(value)
        assert match and match["name"] == name, value
    # The pins files hold nothing the loader skipped (a malformed line would vanish silently)
    for name, table in (
        ("action.yml", facts.ACTIONS),
        ("Dockerfile", facts.IMAGES),
        ("requirements.txt", facts.CI_TOOLS),
    ):
        text = (ROOT / "pins" / name).read_text()
        lines = [
            line for line in text.splitlines() if re.match(r"^\s*(- uses:|FROM |[\w-]+==)", line)
        ]
        assert len(lines) == len(table) > 0, name
    assert set(facts.IMAGES) == {"uv", "mail-catcher", "tracing-ui", *facts.SERVICE_IMAGES}


def test_the_template_repository_dependabot_updates_every_pins_file() -> None:
    path = ROOT / ".github" / "dependabot.yml"
    cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)]
    run(cmd, ROOT, clean_env())
    assert "No findings to report" in run(zizmor(ROOT / "pins"), ROOT, clean_env())
    config = yaml.safe_load(path.read_text())
    ecosystems = {
        (u["package-ecosystem"], directory)
        for u in config["updates"]
        for directory in u.get("directories", [u.get("directory")])
    }
    assert ecosystems == {
        ("github-actions", "/pins"),
        ("github-actions", "/"),  # this repository's own workflows, in the same group
        ("docker", "/pins"),
        ("pip", "/pins"),
        ("pip", "/"),  # pyproject.toml: the template's tools and the rendered union
    }
    for update in config["updates"]:
        assert update["cooldown"]["default-days"] >= 7
        assert update["schedule"]["interval"] == "weekly"
        # One pull request a week per entry: every update falls in its one group
        (group,) = update["groups"].values()
        assert group["patterns"] == ["*"]


# --------------------------------------------------------------------------------------------
# The template repository's own CI (.github/workflows/), for the template's users who fork it
# --------------------------------------------------------------------------------------------
TEMPLATE_WORKFLOWS = sorted((ROOT / WORKFLOWS).glob("*.yml"))
IMAGE = re.compile(r"^\s*image:\s*(?P<value>\S+)\s*$", re.MULTILINE)
# The service containers of the template's CI: the backing services of pins/Dockerfile
SERVICE_OF_CONTAINER = {"postgres": "postgresql", "redis": "redis", "rabbitmq": "rabbitmq"}


def test_the_template_repository_workflows_validate_and_zizmor_finds_nothing() -> None:
    assert [path.name for path in TEMPLATE_WORKFLOWS] == ["ci.yml"]
    cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    run([*cmd, *map(str, TEMPLATE_WORKFLOWS)], ROOT, clean_env())
    output = run(zizmor(ROOT / ".github"), ROOT, clean_env())
    assert "No findings to report" in output, output


def test_the_template_repository_workflow_checks_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / ".github"
    shutil.copytree(ROOT / ".github", bad)
    ci = bad / "workflows" / "ci.yml"
    pinned = facts.action_pins()["actions/checkout"]
    assert pinned in ci.read_text()
    ci.write_text(ci.read_text().replace(pinned, "actions/checkout@v5"))
    assert tool_fails(zizmor(bad), tmp_path)
    ci.write_text(ci.read_text().replace("runs-on:", "runs_on:"))
    cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    assert tool_fails([*cmd, str(ci)], tmp_path)


def test_the_template_repository_workflow_takes_every_pin_from_pins() -> None:
    """The one place: the actions' commits of pins/action.yml, the images of pins/Dockerfile."""
    pins = facts.action_pins()
    for path in TEMPLATE_WORKFLOWS:
        text = path.read_text()
        values = USES.findall(text)
        assert values, path
        for value in values:
            match = PINNED.match(value)
            assert match, f"{path.name}: {value} is not pinned by commit"
            assert value == pins[match["name"]], f"{path.name}: {value} is not pins/action.yml's"
        workflow = yaml.safe_load(text)
        for job in workflow["jobs"].values():
            for container, service in job.get("services", {}).items():
                expected = facts.SERVICE_IMAGES[SERVICE_OF_CONTAINER[container]]
                assert service["image"] == expected, f"{path.name}: {container}"
        images = IMAGE.findall(text)
        assert set(images) <= set(facts.IMAGES.values()), images


def test_the_template_repository_workflow_runs_the_suite_on_its_services() -> None:
    workflow = yaml.safe_load((ROOT / WORKFLOWS / "ci.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    assert {"push", "pull_request", "workflow_dispatch"} <= set(workflow[True])
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    # The suite's services on 127.0.0.1 (PostgreSQL's user postgres without a password)
    ports = {name: service["ports"] for name, service in job["services"].items()}
    assert ports == {"postgres": ["5432:5432"], "redis": ["6379:6379"], "rabbitmq": ["5672:5672"]}
    assert job["services"]["postgres"]["env"] == {"POSTGRES_HOST_AUTH_METHOD": "trust"}
    checkout = job["steps"][0]
    assert checkout["uses"] == facts.action_pins()["actions/checkout"].split(" # ")[0]
    assert checkout["with"]["persist-credentials"] is False
    assert checkout["with"]["fetch-depth"] == 0  # the release tags the update tests render from
    assert job["steps"][-1]["run"] == "bash .ci/run"


# --------------------------------------------------------------------------------------------
# The template-update workflow
# --------------------------------------------------------------------------------------------
UPDATE_WORKFLOW = ".github/workflows/template-update.yml"


def steps_of(workflow: Path) -> list[dict[str, Any]]:
    (job,) = yaml.safe_load(workflow.read_text())["jobs"].values()
    return list(job["steps"])


def step_named(workflow: Path, name_start: str) -> dict[str, Any]:
    (step,) = [s for s in steps_of(workflow) if s.get("name", "").startswith(name_start)]
    return step


@pytest.mark.parametrize("project", sets_where("has_ci"), indirect=True)
class TestTemplateUpdateWorkflow:
    def test_validates_against_the_workflow_schema(self, project: Project) -> None:
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        run([*cmd, UPDATE_WORKFLOW], project.path, clean_env())

    def test_schema_check_can_fail(self, project: Project, tmp_path: Path) -> None:
        bad = tmp_path / "template-update.yml"
        text = (project.path / UPDATE_WORKFLOW).read_text()
        bad.write_text(text.replace("workflow_dispatch:", "workflow_dispatched:"))
        cmd = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
        assert tool_fails([*cmd, str(bad)], tmp_path)

    def test_triggers_permissions_and_steps(self, project: Project) -> None:
        path = project.path / UPDATE_WORKFLOW
        workflow = yaml.safe_load(path.read_text())
        triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
        assert set(triggers) == {"schedule", "workflow_dispatch"}
        assert triggers["schedule"][0]["cron"]
        assert workflow["permissions"] == {}
        (job,) = workflow["jobs"].values()
        assert job["permissions"] == {
            "contents": "write",
            "pull-requests": "write",
            "actions": "write",
        }
        copier = step_named(path, "copier update")["run"]
        tools = facts.CI_TOOLS
        assert f"copier=={tools['copier']}" in copier
        assert f"copier-template-extensions=={tools['copier-template-extensions']}" in copier
        assert copier.endswith("copier update --defaults --trust")
        pull_request = step_named(path, "Open or refresh the pull request")
        pin = facts.action_pins()["peter-evans/create-pull-request"]
        assert pull_request["uses"] == pin.split(" # ")[0]  # YAML drops the comment
        assert pull_request["with"]["branch"] == "template-update"
        assert "gh workflow run ci.yml" in step_named(path, "Run CI on")["run"]
        failing = step_named(path, "Fail on conflicts")
        assert "steps.conflicts.outputs.found == 'true'" in failing["if"]
        # The pull request's CI: ci.yml runs on workflow_dispatch and refuses conflicts itself
        ci = yaml.safe_load((project.path / WORKFLOWS / "ci.yml").read_text())
        assert "workflow_dispatch" in ci[True]
        lint = [s.get("run", "") for s in ci["jobs"]["lint"]["steps"]]
        assert any(facts.CONFLICT_LISTING in command for command in lint)


def bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=cwd,
        env={**clean_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("project", ["preset-defaults"], indirect=True)
def test_conflicts_are_listed_and_fail(project: Project, tmp_path: Path) -> None:
    """The workflows' own conflict steps, on a clean project and on one copier left conflicts in."""
    path = tmp_path / "project"
    shutil.copytree(project.path, path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "rendered")
    lint = yaml.safe_load((path / WORKFLOWS / "ci.yml").read_text())["jobs"]["lint"]["steps"]
    (ci_lint,) = [s["run"] for s in lint if s.get("name", "").startswith("No conflict left")]
    listing = step_named(path / UPDATE_WORKFLOW, "Conflicts left")["run"]
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    output = runner_temp / "output"
    output.touch()
    paths = {"RUNNER_TEMP": str(runner_temp), "GITHUB_OUTPUT": str(output)}

    assert bash(ci_lint, path).returncode == 0
    assert bash(listing, path, **paths).returncode == 0
    assert output.read_text() == ""
    assert (runner_temp / "conflicts.txt").read_text().strip() == ""

    readme = path / "README.md"
    readme.write_text(
        readme.read_text()
        + "<<<<<<< before updating\nmine\n=======\ntheirs\n>>>>>>> after updating\n"
    )
    (path / "NEW.md").write_text("<<<<<<< before updating\nx\n")  # a file the update added
    (path / "pyproject.toml.rej").write_text("@@ -1 +1 @@\n")

    failed = bash(ci_lint, path)
    assert failed.returncode != 0
    for line in ("README.md:", "NEW.md:1:<<<<<<<", "pyproject.toml.rej: rejected hunks"):
        assert line in failed.stdout, failed.stdout
    assert bash(listing, path, **paths).returncode == 0
    assert output.read_text() == "found=true\n"
    listed = (runner_temp / "conflicts.txt").read_text().splitlines()
    assert len(listed) == 4, listed  # two markers in README.md, one in NEW.md, the .rej
