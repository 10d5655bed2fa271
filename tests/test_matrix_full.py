"""Tier 1 of the answer matrix (`make test-full`): every valid combination of the functional
answers, plus every value of each other answer. Each one renders with no Jinja left, compiles,
passes ruff, and passes mypy --strict through the mypy daemon.

Speed: each xdist worker renders every one of its sets into the same directory, so the mypy
daemon re-checks only the files that differ from the previous set.
"""

from __future__ import annotations

import compileall
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.conftest import BIN, clean_env, render, run

pytestmark = pytest.mark.full
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("full")
    yield path
    run([str(BIN / "dmypy"), "--status-file", str(path / "dmypy.json"), "stop"], path, clean_env())


@pytest.mark.parametrize(
    "answers", [pytest.param(a, id=matrix.name_of(a)) for a in matrix.full_matrix()]
)
def test_every_combination(answers: dict[str, Any], workdir: Path) -> None:
    project = workdir / "project"
    # Empty the directory but keep it: the dmypy daemon runs in it, and a deleted working
    # directory crashes the daemon's next run.
    project.mkdir(exist_ok=True)
    for child in project.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    render(project, matrix.data_of(answers))
    leftovers = [
        str(p)
        for p in project.rglob("*")
        if p.is_file() and JINJA_LEFTOVER.search(p.read_text(errors="replace"))
    ]
    assert leftovers == []
    assert compileall.compile_dir(project, quiet=1, force=True, legacy=False)
    run([str(BIN / "ruff"), "check", "--no-cache", "."], project, clean_env())
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], project, clean_env())
    run(
        [
            str(BIN / "dmypy"),
            "--status-file",
            str(workdir / "dmypy.json"),
            "run",
            "--",
            "--strict",
            "--python-executable",
            sys.executable,
        ],
        project,
        clean_env(),
    )
