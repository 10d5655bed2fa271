"""The template's own Python (extensions/, tests/, bench/) passes ruff, like the code it renders."""

from __future__ import annotations

import subprocess
import sys

from tests.paths import ROOT

SOURCES = ["extensions", "tests", "bench"]


def ruff(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *arguments, *SOURCES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_finds_nothing() -> None:
    result = ruff("check", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_changes_nothing() -> None:
    result = ruff("format", "--check", "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
