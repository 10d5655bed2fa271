"""The interactive prompt, driven as a person drives it: copier under a pseudo-terminal
(pexpect), arrow keys and Enter.

copier runs a question's validator on typed answers, not on a choice picked from the list: a
combination the template cannot render must be a disabled choice (copier's per-choice
`validator`), which the arrow keys skip and the list shows with the reason.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import pexpect
import pytest
import yaml

from tests import matrix
from tests.answers import QUESTIONS
from tests.conftest import BIN, clean_env, run, template_source

UP, ENTER = "\x1b[A", "\r"
REFUSED = "auth=password stores users in a database"


def _prompt_of(key: str) -> str:
    """The start of the question as copier prints it (its help), as a pattern."""
    return re.escape(str(QUESTIONS[key]["help"])[:30])


def drive(
    dest: Path, picks: dict[str, tuple[str, Any]], seen: dict[str, str] | None = None
) -> dict[str, Any]:
    """Answer every question copier asks. `picks[key] = (keys, value)`: `keys` are typed, then
    Enter, and `value` is the answer they pick (later questions' `when` depend on it); every
    other question gets Enter, its default. `seen[key]` must show before the keys are typed.
    Returns the answers file of the rendered project."""
    child = pexpect.spawn(
        str(BIN / "copier"),
        ["copy", "--trust", str(template_source()), str(dest)],
        env=clean_env(
            COPIER_SETTINGS_PATH=os.environ["COPIER_SETTINGS_PATH"],
            TERM="xterm",
            PROMPT_TOOLKIT_NO_CPR="1",
        ),
        encoding="utf-8",
        dimensions=(50, 400),
        timeout=60,
    )
    screen: list[str] = []
    try:
        answers: dict[str, Any] = {}
        for key in QUESTIONS:
            if not matrix.asked(key, answers):
                answers[key] = matrix.default(key, answers)
                continue
            child.expect(_prompt_of(key))
            screen.append(child.before + child.after)
            if seen and key in seen:
                child.expect(re.escape(seen[key]))
                screen.append(child.before + child.after)
            keys, value = picks.get(key, ("", matrix.default(key, answers)))
            child.send(keys + ENTER)
            answers[key] = value
        child.expect(pexpect.EOF, timeout=180)
        screen.append(child.before)
    finally:
        child.close()
    assert child.exitstatus == 0, "".join(screen)
    data: dict[str, Any] = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    for key, (_, value) in picks.items():
        assert data[key] == value, (key, "".join(screen))
    return data


def test_password_auth_cannot_pick_no_database(tmp_path: Path) -> None:
    """auth=password (Enter on the default), then Up from the default `sqlite`: `none` is shown
    disabled with the reason, the arrow skips it, and the project renders with a database."""
    answers = drive(
        tmp_path / "project", {"database": (UP, "postgresql")}, seen={"database": REFUSED}
    )
    assert answers["auth"] == "password"
    assert answers["database"] == "postgresql"  # Up from sqlite skipped the disabled `none`
    project = tmp_path / "project"
    package = answers["package_name"]
    assert (project / "src" / package / "db").is_dir()
    run(
        [sys.executable, "-c", f"from {package}.main import create_app; create_app()"],
        project,
        clean_env(PYTHONPATH="src"),
    )


def test_no_database_stays_a_choice_without_password_auth(tmp_path: Path) -> None:
    """auth=jwt (Up from `password`): `none` is enabled, Up from `sqlite` picks it."""
    answers = drive(tmp_path / "project", {"auth": (UP, "jwt"), "database": (UP, "none")})
    assert answers["auth"] == "jwt"
    assert answers["database"] == "none"
    assert not (tmp_path / "project" / "src" / answers["package_name"] / "db").exists()


@pytest.mark.parametrize(
    "data", [["-d", "auth=password", "-d", "database=none"], ["-d", "database=none"]]
)
def test_the_combination_given_as_data_is_refused_in_one_line(
    tmp_path: Path, data: list[str]
) -> None:
    """With --data (auth's default is password) the same choice is refused: one line that
    says what to change, no traceback, nothing written."""
    dest = tmp_path / "project"
    child = pexpect.spawn(
        str(BIN / "copier"),
        ["copy", "--trust", "--defaults", *data, str(template_source()), str(dest)],
        env=clean_env(COPIER_SETTINGS_PATH=os.environ["COPIER_SETTINGS_PATH"]),
        encoding="utf-8",
        timeout=60,
    )
    output = child.read()
    child.close()
    assert child.exitstatus == 1, output
    assert "Traceback" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert REFUSED in lines[0]
    assert "choose database=sqlite or database=postgresql" in lines[0]
    assert not dest.exists()
