"""The supply chain of the rendered projects (ci=github): audits, pins, dependency automation.

zizmor runs offline on every rendered workflow of every answer set with ci=github and reports
nothing; every action is pinned by commit from the one table (extensions/facts.py ACTIONS); the
audit job's commands (pip-audit against the lock, the CycloneDX SBOM of the image's packages)
run here on a locked project, with the same tools at the same versions, pip-audit in dry-run
(its advisory databases are not reachable from the suite).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, Project, clean_env, run
from tests.facts import facts
from tests.paths import TEMPLATE
from tests.test_deploy import sets_where, tool_fails

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
    # Offline, from the uv cache `make venv` filled: the union environment holds every package
    run([str(BIN / "uv"), "lock", "--offline", "--quiet"], path, env)
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
# The one table of pins
# --------------------------------------------------------------------------------------------
def template_files() -> list[Path]:
    return [p for p in TEMPLATE.rglob("*") if p.is_file()]


def test_no_template_file_pins_an_action_outside_the_table() -> None:
    literal = re.compile(r"uses:\s*[\w.-]+/[\w.-]+@")
    for path in template_files():
        text = path.read_text()
        assert not literal.search(text), f"{path}: take the pin from facts.ACTIONS"
    used = "\n".join(p.read_text() for p in template_files())
    for name in facts.ACTIONS:
        assert f'actions["{name}"]' in used, f"{name} is pinned but no template uses it"


def test_the_table_pins_commits_with_their_release() -> None:
    for name, value in facts.action_pins().items():
        match = PINNED.match(value)
        assert match and match["name"] == name, value
