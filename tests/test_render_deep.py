"""The expensive checks of a rendered project (mypy --strict, the app imports and is live, the
project's own tests) for the presets and the long-names set.

The answer matrix carries the rest: tier 2 (tests/test_matrix.py, a 3-wise covering array)
runs mypy --strict and liveness, tier 3 (pairwise, the defaults and everything-on) runs the
rendered tests against the real services; module sets run their own integration tests. Running
these checks again on every named set would double `make test` for no new combination, so a
set whose rendered tests tier 3 already runs (the defaults, everything-on) is not run here.
"""

from __future__ import annotations

import hashlib
import sys

import pytest

from tests import matrix
from tests.answers import ANSWER_SETS, DEEP_SETS
from tests.conftest import Project, answer_set_params, clean_env, run
from tests.paths import ROOT

deep = pytest.mark.parametrize("project", answer_set_params(DEEP_SETS), indirect=True)
# Tier 3 runs the rendered tests of the defaults and everything-on on the real services.
NOT_IN_TIER3 = [name for name in DEEP_SETS if not matrix.in_tier3(ANSWER_SETS[name])]


@deep
def test_mypy_strict(project: Project, worker_id: str) -> None:
    # One mypy cache per checkout and xdist worker, shared by its projects: the analysis of
    # third-party packages is reused; two checkouts or workers never write the same cache.
    checkout = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    cache = f"/tmp/fastapi-template-mypy-{checkout}-{worker_id}"
    run([sys.executable, "-m", "mypy", "--cache-dir", cache], project.path, clean_env())


@deep
def test_app_imports_and_is_live(project: Project) -> None:
    script = (
        f"from fastapi.testclient import TestClient\n"
        f"from {project.package}.main import create_app\n"
        f"with TestClient(create_app()) as client:\n"
        f"    response = client.get('/health/live')\n"
        f"    assert response.status_code == 200, response.text\n"
        f"    print(response.json()['status'])\n"
    )
    out = run([sys.executable, "-c", script], project.path, clean_env(PYTHONPATH="src"))
    assert out.strip().endswith("ok")


@pytest.mark.parametrize("project", answer_set_params(NOT_IN_TIER3), indirect=True)
def test_rendered_tests_pass(project: Project) -> None:
    out = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        project.path,
        clean_env(),
    )
    assert " passed" in out
