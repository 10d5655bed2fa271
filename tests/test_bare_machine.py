"""A machine with Python, pip, git and make only: README.md's install lines and the steps
copier prints after `copier copy`, run literally, from a fresh virtualenv that has neither uv
nor copier.

Nothing downloads: pip and uv install from the wheelhouse `make test` makes beforehand
(.ci/wheelhouse: the uv wheel, and a uv cache holding copier's and the defaults project's
packages), with `pip --no-index` and `UV_OFFLINE`, as a machine behind a package mirror would.
The commands are the user's, unchanged.
`make run` and `make worker` serve until stopped: tests/test_first_contact.py runs `make run`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import offline_installs, template_source
from tests.paths import ROOT

SERVERS = ("make run", "make worker")
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]


def readme_install_lines() -> list[str]:
    """The code block under "To render your own project" in README.md."""
    text = (ROOT / "README.md").read_text()
    after = text[text.index("To render your own project") :]
    block = re.search(r"```bash\n(.*?)```", after, re.DOTALL)
    assert block, "no install block in README.md"
    return [line for line in block.group(1).splitlines() if line.strip()]


def next_steps(message: str) -> list[str]:
    """The commands under "Next steps:" of copier's message, comments dropped."""
    steps = message[message.index("Next steps:") :].splitlines()[1:]
    commands = []
    for line in steps:
        if not line.startswith("  ") or not line.strip():
            break
        command = re.sub(r"\s+# .*$", "", line.strip())
        commands.append(command)
    return commands


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=1500,
    )


def drop_databases(prefix: str) -> None:
    """The databases `make db` and the project's tests made on the machine's PostgreSQL."""
    listed = subprocess.run(
        [*PSQL, "-c", f"SELECT datname FROM pg_database WHERE datname LIKE '{prefix}%'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in listed:
        subprocess.run([*PSQL, "-c", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)


@pytest.mark.parametrize("preset", ["defaults", "everything"])
def test_readme_and_next_steps_work_from_a_bare_virtualenv(preset: str, tmp_path: Path) -> None:
    """The defaults, and every module on against the machine's PostgreSQL, Redis and RabbitMQ
    (the everything-on preset's answers as a data file; its own name, so that the database
    `make db` creates is this test's)."""
    tools = tmp_path / "uv-tools"  # where `uv tool install` puts copier (~/.local/bin by default)
    venv = tmp_path / "venv"
    python = Path(sys.base_prefix) / "bin" / "python3"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    # The packages come from the wheelhouse (the machine's settings, not a step): no index
    env = {key: value for key, value in os.environ.items() if key in ("HOME", "LANG")}
    env.update(
        {
            **offline_installs(),
            # A login shell's PATH: where uv puts tools, the system; no uv, no copier.
            "PATH": os.pathsep.join([str(tools / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
            "UV_TOOL_DIR": str(tools / "tools"),
            "UV_TOOL_BIN_DIR": str(tools / "bin"),
            "COPIER_SETTINGS_PATH": os.environ["COPIER_SETTINGS_PATH"],
            "GIT_AUTHOR_NAME": "New User",
            "GIT_AUTHOR_EMAIL": "new@example.com",
            "GIT_COMMITTER_NAME": "New User",
            "GIT_COMMITTER_EMAIL": "new@example.com",
        }
    )
    activate = f"source {venv}/bin/activate\n"
    package = f"bare_{uuid.uuid4().hex[:8]}"  # the everything-on project's package and database
    for tool in ("uv", "copier"):
        found = bash(activate + f"command -v {tool} || true", tmp_path, env).stdout.strip()
        assert found == "", f"{tool} is already there: {found}"
    assert shutil.which("uv", path=env["PATH"]) is None

    lines = readme_install_lines()
    assert lines[0] == "pip install uv", lines
    script = activate
    for line in lines:
        if line.startswith("copier copy"):
            # The one substitution: the template's path; --defaults answers as Enter would.
            line = line.replace("<this repository>", str(template_source()))
            line = line.replace("copier copy", "copier copy --defaults", 1)
            if preset == "everything":
                line = line.replace(
                    "copier copy",
                    f"copier copy --data-file {ROOT / 'presets' / 'everything.yml'}"
                    f" -d 'project_name=Bare {package[5:]}'",
                    1,
                )
        script += line + "\n"
    copied = bash(script, tmp_path, env)
    assert copied.returncode == 0, copied.stdout + copied.stderr
    message = copied.stderr[copied.stderr.index("is ready in") :]

    steps = [step for step in next_steps(message) if step not in SERVERS]
    assert steps[0].startswith("cd "), steps
    assert "make install" in steps and "make test" in steps, steps
    if preset == "everything":
        assert "make db" in steps and "make migrate" in steps, steps
    try:
        done = bash(
            activate + "\n".join(steps), tmp_path, env
        )  # the same shell, as the user goes on
    finally:
        drop_databases(package)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"\d+ passed", output), output
    project = tmp_path / "my-service"
    assert (project / "uv.lock").exists()
    assert (project / ".git" / "hooks" / "pre-commit").exists()
