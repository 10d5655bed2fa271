"""Tiers 2 and 3 of the answer matrix (tests/matrix.py derives them from copier.yml).

Tier 2, a 3-wise covering array: mypy --strict, the app imports and `/health/live` answers.
Tier 3, a pairwise covering array plus the defaults and everything-on: the rendered project's
own tests, against the real PostgreSQL, Redis and RabbitMQ.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests import matrix
from tests.conftest import clean_env, render, run
from tests.services import service_env


def _params(sets: list[dict[str, Any]] | tuple[dict[str, Any], ...], tier: str) -> list[Any]:
    return [
        pytest.param(
            answers, id=matrix.name_of(answers), marks=pytest.mark.xdist_group(f"{tier}-{i}")
        )
        for i, answers in enumerate(sets)
    ]


@pytest.mark.parametrize("answers", _params(matrix.covering_array(3), "tier2"))
def test_tier2_strict_types_and_liveness(
    answers: dict[str, Any], tmp_path: Path, worker_id: str
) -> None:
    project = render(tmp_path / "project", matrix.data_of(answers))
    run(
        [sys.executable, "-m", "mypy", "--cache-dir", f"{tmp_path.parent.parent}/mypy-{worker_id}"],
        project,
        clean_env(),
    )
    script = (
        "from fastapi.testclient import TestClient\n"
        f"from {answers['package_name']}.main import create_app\n"
        "with TestClient(create_app()) as client:\n"
        "    response = client.get('/health/live')\n"
        "    assert response.status_code == 200, response.text\n"
    )
    run([sys.executable, "-c", script], project, clean_env(PYTHONPATH="src"))


@pytest.mark.parametrize("answers", _params(matrix.tier3(), "tier3"))
def test_tier3_rendered_tests_on_real_services(answers: dict[str, Any], tmp_path: Path) -> None:
    project = render(tmp_path / "project", matrix.data_of(answers))
    with service_env(answers) as env:
        out = run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
            project,
            clean_env(**env),
        )
    assert " passed" in out


def test_matrix_honours_copier_yml() -> None:
    """Every derived set passes copier.yml's validators; hidden questions keep their defaults."""
    for answers in [*matrix.full_matrix(), *matrix.covering_array(3), *matrix.tier3()]:
        assert matrix.is_valid(answers), answers
        if answers["auth"] == "none":
            assert answers["rbac"] is True  # hidden: left at its default
        if answers["worker"] == "none":
            assert answers["broker"] == "redis"
        if answers["auth"] != "password":
            assert answers["email"] == "none"  # hidden by `when`: at its default
