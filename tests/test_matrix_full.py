"""Tier 1 of the answer matrix (`make test-full`): every valid combination of the functional
answers, plus every value of each other answer. Each one renders with no Jinja left, compiles,
passes ruff, and passes a fast type check: pyrefly, reading the rendered project's own
`[tool.mypy]` settings (strict), about a second per project where mypy --strict takes ten.
mypy --strict itself runs on the 3-wise array of tier 2 (`make test`).
"""

from __future__ import annotations

import compileall
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.conftest import BIN, clean_env, render, run

pytestmark = pytest.mark.full
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#")


@pytest.mark.parametrize(
    "answers", [pytest.param(a, id=matrix.name_of(a)) for a in matrix.full_matrix()]
)
def test_every_combination(answers: dict[str, Any], tmp_path: Path) -> None:
    project = render(tmp_path / "project", matrix.data_of(answers))
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
        [str(BIN / "pyrefly"), "check", "--python-interpreter-path", sys.executable],
        project,
        clean_env(),
    )
