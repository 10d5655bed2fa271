"""Every bad answer is refused by copier, with a message that says what to change, and nothing
is written."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.answers import MINIMAL, QUESTIONS
from tests.conftest import BIN
from tests.facts import facts
from tests.paths import ROOT


def _built(key: str, value: Any) -> Any:
    """Marks a case that needs a module not built yet: its own validator refuses it first."""
    return pytest.mark.skipif(
        value not in facts.SUPPORTED[key], reason=f"{key}={value} is not built yet"
    )


BAD_ANSWERS: list[tuple[dict[str, Any], str] | Any] = [
    ({"project_name": " "}, "project_name must not be empty"),
    ({"project_slug": "My Service"}, "is not kebab-case"),
    ({"project_slug": "9lives"}, "is not kebab-case"),
    ({"package_name": "class"}, "is a Python keyword"),
    ({"package_name": "json"}, "would shadow the standard library"),
    ({"package_name": "fastapi"}, "would shadow the dependency"),
    ({"package_name": "Billing-API"}, "is not a valid Python package name"),
    ({"author_email": "team-at-example"}, "is not an e-mail address"),
    pytest.param(
        {"auth": "password", "database": "none"},
        "auth=password stores users in a database",
        marks=_built("auth", "password"),
        id="auth=password-database=none",
    ),
    ({"docker": False, "kubernetes": True}, "kubernetes=true deploys the Docker image"),
    pytest.param(
        {"auth": "jwt", "email": "smtp"},
        "email=smtp sends the account e-mails of auth=password",
        marks=_built("email", "smtp"),
        id="email=smtp-auth=jwt",
    ),
    ({"auth": "jwt", "database": "sqlite", "admin": True}, "admin=true logs in the users"),
    ({"python_version": "3.10"}, "3.10"),
]


def _unsupported() -> list[tuple[dict[str, Any], str]]:
    cases = []
    for key, supported in facts.SUPPORTED.items():
        for value in QUESTIONS[key].get("choices", [True, False]):
            if value not in supported:
                data = {key: value}
                if key == "broker":
                    data["worker"] = "celery"
                if key == "kubernetes":
                    data["docker"] = True
                cases.append((data, "not supported yet"))
    return cases


def _case_id(data: dict[str, Any]) -> str:
    return "-".join(f"{key}={_arg(value)}" for key, value in data.items())


def _arg(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def copier_copy(dest: Path, data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "copier"), "copy", "--trust", "--defaults", "--vcs-ref", "HEAD"]
    for key, value in {**MINIMAL, **data}.items():
        cmd += ["--data", f"{key}={_arg(value)}"]
    return subprocess.run(
        [*cmd, str(ROOT), str(dest)], capture_output=True, text=True, check=False, timeout=120
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        case if hasattr(case, "marks") else pytest.param(*case, id=_case_id(case[0]))
        for case in BAD_ANSWERS + _unsupported()
    ],
)
def test_bad_answer_is_refused_before_anything_is_written(
    tmp_path: Path, data: dict[str, Any], message: str
) -> None:
    dest = tmp_path / "project"
    result = copier_copy(dest, data)
    assert result.returncode != 0, result.stdout
    assert message in result.stderr + result.stdout
    # One line that says what to change, never a traceback (copier's own warnings aside).
    assert "Traceback" not in result.stderr, result.stderr
    refusal = [line for line in result.stderr.splitlines() if message in line]
    assert len(refusal) == 1, result.stderr
    assert refusal[0].startswith(("Validation error for question", "Invalid choice for")), refusal
    assert not dest.exists() or not any(dest.iterdir())


def test_good_answers_render(tmp_path: Path) -> None:
    result = copier_copy(tmp_path / "project", {})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "project" / "pyproject.toml").exists()


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "presets").glob("*.yml")))
def test_preset_renders_with_copier_data_file(tmp_path: Path, preset: str) -> None:
    """Exactly the documented command: `copier copy --trust --defaults --data-file ...`."""
    dest = tmp_path / "project"
    result = subprocess.run(
        [
            str(BIN / "copier"),
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "--data-file",
            str(ROOT / "presets" / f"{preset}.yml"),
            str(ROOT),
            str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    for key, value in yaml.safe_load((ROOT / "presets" / f"{preset}.yml").read_text()).items():
        assert answers[key] == value, key
