"""Rendering helpers shared by the template's tests.

Renders go through copier's Python API with `vcs_ref="HEAD"`, which includes uncommitted changes
of this repository. The user's own copier settings never leak in: COPIER_SETTINGS_PATH points at
an empty settings file for the whole session.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.answers import ANSWER_SETS, answers, effective
from tests.facts import facts
from tests.paths import ROOT

_SETTINGS = (
    Path(os.environ.get("PYTEST_COPIER_SETTINGS_DIR", "/tmp"))
    / "fastapi-template-copier-settings.yml"
)
_SETTINGS.write_text("{}\n")
os.environ["COPIER_SETTINGS_PATH"] = str(_SETTINGS)
BIN = Path(sys.executable).parent
# What `make test` makes before the tests (.ci/wheelhouse, at install time, from PyPI): the uv
# wheel and a uv cache from which the tests that install a rendered project as its user does
# (tests/test_bare_machine.py, the audit of tests/test_supply.py) run offline.
WHEELHOUSE = Path(os.environ.get("TEMPLATE_WHEELHOUSE", BIN.parent / "wheelhouse"))


def offline_installs() -> dict[str, str]:
    """pip and uv from the wheelhouse only: nothing downloads at test time."""
    if not (WHEELHOUSE / "uv-cache").is_dir() or not list((WHEELHOUSE / "pip").glob("uv-*.whl")):
        pytest.fail(
            f"no wheelhouse at {WHEELHOUSE}: `make wheelhouse` (part of `make test`) makes it"
        )
    return {
        "UV_OFFLINE": "1",
        "UV_CACHE_DIR": str(WHEELHOUSE / "uv-cache"),
        "UV_PYTHON_DOWNLOADS": "never",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


@functools.cache
def template_source() -> Path:
    """A plain copy of this repository's working tree (uncommitted changes included), made once
    per process: copier renders a plain directory without cloning it, which is much faster."""
    dest = Path(tempfile.mkdtemp(prefix="fastapi-template-src-"))
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return dest


def render(dest: Path, data: dict[str, Any]) -> Path:
    import copier

    copier.run_copy(str(template_source()), dest, data=data, defaults=True, unsafe=True, quiet=True)
    return dest


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: int = 600,
    context: str = "",
) -> str:
    """Run a command; fail the test with its output (and `context`) when it exits non-zero."""
    result = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(cmd)} exited {result.returncode}\n{context}\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a rendered project's commands: nothing of ours leaks in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    # Shared renders stay as rendered: no __pycache__ directories left behind.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Project:
    name: str  # of the answer set
    path: Path
    answers: dict[str, Any]  # effective answers, defaults filled in
    facts: Any  # extensions/facts.py:Facts

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])


_RENDERED: dict[str, Project] = {}


@pytest.fixture
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project rendered from the answer set named by the test's parameter.

    Rendered once per xdist worker and shared by every test of that set (the tests of one set
    run in one worker: `xdist_group`); tests must not modify it.
    """
    name: str = request.param
    if name not in _RENDERED:
        path = render(tmp_path_factory.mktemp(name) / "project", answers(name))
        full = effective(name)
        _RENDERED[name] = Project(name, path, full, facts.derive(full))
    return _RENDERED[name]


def answer_set_params(names: list[str] | None = None) -> list[Any]:
    return [
        pytest.param(name, id=name, marks=pytest.mark.xdist_group(name))
        for name in (names or list(ANSWER_SETS))
    ]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` on pytest 9.2: pytest-xdist 3.8 marks a test's group by setting
    `item._nodeid`, which pytest 9.2 no longer reads (a node id is `item._id` now), so the tests
    of one answer set were spread over both workers and each rendered (and the container tier
    built) the set again. Give the id its `@group` suffix the way pytest 9.2 stores it."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId

    for item in items:
        groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
        if groups and "@" not in item.nodeid.rsplit("]", 1)[-1]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests import matrix

    terminalreporter.write_line(
        "answer matrix: "
        f"tier 1 (every functional combination, make test-full) {len(matrix.full_matrix())}; "
        f"tier 2 (3-wise) {len(matrix.covering_array(3))}; "
        f"tier 3 (pairwise + defaults + everything-on) {len(matrix.tier3())}"
    )
    from tests.load import FIGURES

    for figure in FIGURES:  # measured by the fault tier (tests/test_faults.py)
        terminalreporter.write_line(f"fault tier: {figure}")
