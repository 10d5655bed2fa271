"""Tier 1 of the answer matrix (`make test-full`): every valid combination of the functional
answers, plus every value of each other answer. Each one renders with no Jinja left, compiles,
passes ruff, and passes a fast type check: pyrefly, reading the rendered project's own
`[tool.mypy]` settings (strict). mypy --strict itself runs on the 3-wise array of tier 2
(`make test`).

The sets are checked in batches of BATCH: pyrefly and ruff take one call per batch. Each file
still gets the settings of its own project (both tools look for the nearest pyproject.toml, and
pyrefly resolves each project's package in that project's `src/`), while the analysis of the
third-party packages every project imports is done once per batch instead of once per project:
about a third of the time. A failure names the answer sets whose projects failed.
"""

from __future__ import annotations

import compileall
import itertools
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.conftest import BIN, clean_env, render, run
from tests.paths import is_runtime_template, is_text
from tests.test_render import ACTIONS_EXPRESSION

pytestmark = pytest.mark.full
JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#")
BATCH = 16
SETS = matrix.full_matrix()
BATCHES = [SETS[start : start + BATCH] for start in range(0, len(SETS), BATCH)]


def batch_id(index: int) -> str:
    first = index * BATCH
    return f"sets-{first:04d}-{first + len(BATCHES[index]) - 1:04d}"


def _text(path: Path) -> str:
    text = path.read_text(errors="replace")
    if path.parent.as_posix().endswith(".github/workflows"):
        return ACTIONS_EXPRESSION.sub("", text)  # GitHub's own `${{ ... }}`
    return text


def check_one(project: Path) -> list[str]:
    """What a project fails of the per-file checks: leftover Jinja and compilation."""
    failures = [
        f"Jinja left in {path.relative_to(project)}"
        for path in project.rglob("*")
        if is_text(path)
        and not is_runtime_template(project, path)
        and JINJA_LEFTOVER.search(_text(path))
    ]
    if not compileall.compile_dir(project, quiet=1, force=True, legacy=False):
        failures.append("compileall failed")
    return failures


@pytest.mark.parametrize("index", range(len(BATCHES)), ids=batch_id)
def test_every_combination(index: int, tmp_path: Path) -> None:
    names: dict[str, str] = {}  # project directory -> answer set
    failures: list[str] = []
    for offset, answers in enumerate(BATCHES[index]):
        directory = f"set-{index * BATCH + offset:04d}"
        names[directory] = matrix.name_of(answers)
        project = render(tmp_path / directory, matrix.data_of(answers))
        failures += [f"{names[directory]}: {failure}" for failure in check_one(project)]
    assert failures == []
    projects = sorted(names)
    legend = "\n".join(f"{directory}: {name}" for directory, name in names.items())
    # pyrefly on one thread: the xdist workers already use every core.
    pyrefly = [str(BIN / "pyrefly"), "check", "--threads", "1"]
    pyrefly += ["--python-interpreter-path", sys.executable]
    for command in (
        [str(BIN / "ruff"), "check", "--no-cache", *projects],
        [str(BIN / "ruff"), "format", "--check", "--no-cache", *projects],
        [*pyrefly, *projects],
    ):
        run(command, tmp_path, clean_env(), context=legend)


def test_covering_arrays_cover_every_reachable_combination() -> None:
    """Every pair and every triple of values that some valid answer set holds is in the
    pairwise and in the 3-wise array: by brute force over every functional set times every
    other set (about 600,000, one pass for both strengths), not by the projections the arrays
    are built from. It takes minutes and grows with every dimension: tier 1's place."""

    def tuples(answers: dict[str, Any], strength: int) -> set[Any]:
        items = sorted((k, repr(answers[k])) for k in matrix.VARIED)
        return set(itertools.combinations(items, strength))

    valid: set[tuple[tuple[str, Any], ...]] = set()
    for f in matrix.functional_combinations():
        for o in matrix.other_combinations():
            combined = matrix.shown({**f, **{k: o[k] for k in matrix.OTHER}})
            if matrix.is_valid(combined):
                valid.add(tuple((k, combined[k]) for k in matrix.VARIED))
    reachable: dict[int, set[Any]] = {2: set(), 3: set()}
    for answers in valid:
        for strength, found in reachable.items():
            found |= tuples(dict(answers), strength)
    for strength, found in reachable.items():
        covered: set[Any] = set()
        for answers in matrix.covering_array(strength):
            covered |= tuples(answers, strength)
        assert found <= covered, strength


def test_batches_cover_every_set() -> None:
    assert sum(len(batch) for batch in BATCHES) == len(SETS)
    assert len({matrix.name_of(answers) for batch in BATCHES for answers in batch}) == len(SETS)


def test_a_batch_reports_the_failing_project(tmp_path: Path) -> None:
    """pyrefly in one call over several projects still checks each with its own settings and
    its own package: a strict error in one project is reported there, and a module that exists
    only in one project is not found from another."""
    first, second = (render(tmp_path / name, matrix.data_of(SETS[0])) for name in ("a", "b"))
    package = next(path.name for path in (first / "src").iterdir() if path.is_dir())
    (first / "src" / package / "only_here.py").write_text("VALUE: int = 1\n")
    for project in (first, second):
        (project / "src" / package / "uses.py").write_text(
            f"from {package}.only_here import VALUE\n\n\ndef double(x):  # untyped: strict refuses\n"
            "    return VALUE * x\n"
        )
    command = [str(BIN / "pyrefly"), "check", "--python-interpreter-path", sys.executable, "a", "b"]
    with pytest.raises(pytest.fail.Exception) as failed:
        run(command, tmp_path, clean_env())
    errors = [line for line in str(failed.value).splitlines() if line.lstrip().startswith("-->")]
    assert any("b/src" in line and "uses.py:1:" in line for line in errors), errors
    assert not any("a/src" in line and "uses.py:1:" in line for line in errors), errors
    assert any("a/src" in line and "uses.py:4:" in line for line in errors), errors
    assert any("b/src" in line and "uses.py:4:" in line for line in errors), errors
