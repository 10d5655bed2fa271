"""`copier update`: projects generated from an older release receive the template's changes and
keep their own edits.

Releases are made in a temporary clone of this repository (never pushed): `0.1.0` is the
current template with one answer under an older name (`author` instead of `author_name`), and
`0.2.0` is the current template plus a few improvements and the migration that renames that
answer back. Every project is a real git repository.
"""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.answers import MINIMAL
from tests.conftest import BIN, Project, clean_env, run
from tests.facts import facts
from tests.modules import MODULE_PATHS
from tests.paths import ROOT, is_text

OLD, NEW = "0.1.0", "0.2.0"
MARKER = re.compile(r"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)
HEALTH = Path("template/src/{{package_name}}/health.py.jinja")
OLD_HEALTH_LINE = "`/health/live` does no I/O: it says the process serves requests."
NEW_HEALTH_LINE = "`/health/live` does no I/O: it tells that the process serves requests."
ANSWERS = {**MINIMAL, "project_name": "Update Me", "author_name": "Ada Lovelace"}


@dataclass(frozen=True)
class Releases:
    repo: Path


def git(cwd: Path, *args: str) -> str:
    return run(
        ["git", *args],
        cwd,
        clean_env(
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@t.t",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@t.t",
        ),
    )


def _snapshot(dest: Path) -> None:
    """The working tree of this repository, uncommitted changes included."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _rename_in_files(root: Path, old: str, new: str) -> None:
    for path in [root / "copier.yml", *root.joinpath("template").rglob("*.jinja")]:
        text = path.read_text()
        if old in text:
            path.write_text(text.replace(old, new))


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    repo = tmp_path_factory.mktemp("template") / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")

    # 0.1.0: the template as it is, but with `author_name` still called `author`.
    _snapshot(repo)
    _rename_in_files(repo, "author_name", "author")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 0.1.0")
    git(repo, "tag", OLD)

    # 0.2.0: the current template, an improvement, and the migration of the renamed answer.
    _snapshot(repo)
    health = repo / HEALTH
    assert OLD_HEALTH_LINE in health.read_text()
    health.write_text(health.read_text().replace(OLD_HEALTH_LINE, NEW_HEALTH_LINE))
    (repo / "template" / "CONTRIBUTING.md").write_text("# Contributing\n\nRun `make check`.\n")
    env_example = repo / "template" / ".env.example.jinja"
    env_example.write_text(env_example.read_text() + "# a setting added in 0.2.0\n")
    migrations = repo / "extensions" / "migrations.py"
    table = "ANSWER_CHANGES: tuple[tuple[str, str, str | None], ...] = ()"
    assert table in migrations.read_text()
    migrations.write_text(
        migrations.read_text().replace(
            table,
            'ANSWER_CHANGES: tuple[tuple[str, str, str | None], ...] = (("0.2.0", "author", "author_name"),)',
        )
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 0.2.0")
    git(repo, "tag", NEW)
    return Releases(repo)


def _args(data: dict[str, Any]) -> list[str]:
    args = []
    for key, value in data.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--data", f"{key}={text}"]
    return args


def copier(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN / "copier"), *args],
        cwd=cwd,
        env=clean_env(
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@t.t",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@t.t",
            COPIER_SETTINGS_PATH=str(Path(__import__("os").environ["COPIER_SETTINGS_PATH"])),
        ),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(
            f"copier {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def render_at(releases: Releases, ref: str, dest: Path, data: dict[str, Any]) -> Path:
    copier(
        dest.parent,
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        ref,
        *_args(data),
        str(releases.repo),
        str(dest),
    )
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "rendered")
    return dest


def update(
    project: Path, ref: str = NEW, data: dict[str, Any] | None = None
) -> subprocess.CompletedProcess[str]:
    return copier(project, "update", "--trust", "--defaults", "--vcs-ref", ref, *_args(data or {}))


def old_answers() -> dict[str, Any]:
    data = {k: v for k, v in ANSWERS.items() if k != "author_name"}
    return {**data, "author": ANSWERS["author_name"]}


def tree(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.mark.xdist_group("update")
def test_update_equals_a_fresh_render(releases: Releases, tmp_path: Path) -> None:
    updated = render_at(releases, OLD, tmp_path / "updated", old_answers())
    update(updated)
    fresh = render_at(releases, NEW, tmp_path / "fresh", ANSWERS)
    # .env belongs to the user once created (test_user_owned_files_are_never_overwritten).
    ignore = {".copier-answers.yml", ".env"}
    assert tree(updated) - ignore == tree(fresh) - ignore
    different = [
        name
        for name in sorted(tree(fresh) - ignore)
        if not filecmp.cmp(updated / name, fresh / name, shallow=False)
    ]
    assert different == []
    assert "_commit: 0.2.0" in (updated / ".copier-answers.yml").read_text()


@pytest.mark.xdist_group("update")
def test_renamed_answer_is_carried_over(releases: Releases, tmp_path: Path) -> None:
    project = render_at(releases, OLD, tmp_path / "p", old_answers())
    assert "author: Ada Lovelace" in (project / ".copier-answers.yml").read_text()
    update(project)
    answers_file = (project / ".copier-answers.yml").read_text()
    assert "author_name: Ada Lovelace" in answers_file
    assert "\nauthor:" not in answers_file
    assert 'name = "Ada Lovelace"' in (project / "pyproject.toml").read_text()


@pytest.mark.xdist_group("update")
def test_user_edits_survive(releases: Releases, tmp_path: Path) -> None:
    project = render_at(releases, OLD, tmp_path / "p", old_answers())
    package = project / "src" / "update_me"
    custom = package / "custom.py"
    custom.write_text('"""The user\'s own module."""\n\nANSWER = 42\n')
    main = package / "main.py"
    main.write_text(
        main.read_text().replace("log = get_logger(__name__)", "log = get_logger(__name__)  # ours")
    )
    readme = project / "README.md"
    readme.write_text(readme.read_text() + "\n## Our runbook\n\nPage the on-call.\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our edits")

    update(project)

    assert custom.read_text() == '"""The user\'s own module."""\n\nANSWER = 42\n'
    assert "log = get_logger(__name__)  # ours" in main.read_text()
    assert readme.read_text().endswith("## Our runbook\n\nPage the on-call.\n")
    assert NEW_HEALTH_LINE in (package / "health.py").read_text()  # the template's change landed
    assert (project / "CONTRIBUTING.md").exists()


@pytest.mark.xdist_group("update")
def test_conflict_leaves_markers_and_the_hook_refuses_them(
    releases: Releases, tmp_path: Path
) -> None:
    project = render_at(releases, OLD, tmp_path / "p", old_answers())
    health = project / "src" / "update_me" / "health.py"
    health.write_text(
        health.read_text().replace(OLD_HEALTH_LINE, "`/health/live` is our liveness probe.")
    )
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "our wording")

    result = update(project)  # exits 0 even though it conflicts

    text = health.read_text()
    assert "<<<<<<<" in text and ">>>>>>>" in text
    # copier says nothing about conflicts: the template's message after the update does.
    said = result.stdout + result.stderr
    for step in ("git status", "git diff --check", "'^(<<<<<<<|>>>>>>>) '", "*.rej", "make check"):
        assert step in said, said
    # ... and the commands it gives find this conflict.
    listed = subprocess.run(
        ["bash", "-c", "grep -rlE '^(<<<<<<<|>>>>>>>) ' --exclude-dir=.git ."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert "./src/update_me/health.py" in listed.split(), listed
    run([str(BIN / "pre-commit"), "install"], project, clean_env())
    git(project, "add", "-A")
    result = subprocess.run(
        ["git", "commit", "-m", "update"],
        cwd=project,
        capture_output=True,
        text=True,
        env=clean_env(
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@t.t",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@t.t",
            PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        ),
        check=False,
    )
    assert result.returncode != 0
    assert "conflict markers" in result.stdout + result.stderr


@pytest.mark.xdist_group("update")
def test_user_owned_files_are_never_overwritten(releases: Releases, tmp_path: Path) -> None:
    project = render_at(releases, OLD, tmp_path / "p", old_answers())
    env = project / ".env"
    assert env.exists()
    env.write_text("LOG_LEVEL=DEBUG\n# ours\n")
    update(project)
    assert env.read_text() == "LOG_LEVEL=DEBUG\n# ours\n"
    assert "a setting added in 0.2.0" in (project / ".env.example").read_text()


SWITCHES: list[tuple[str, Any, Any]] = [
    ("database", "sqlite", "none"),
    ("auth", "jwt", "none"),
    ("cache", "memory", "none"),
    ("rate_limit", "redis", "none"),
    ("worker", "celery", "none"),
    ("websockets", "redis", "none"),
    ("metrics", True, False),
    ("docker", True, False),
    ("ci", "github", "none"),
]


def _switch_params() -> list[Any]:
    return [
        pytest.param(
            key,
            on,
            off,
            id=f"{key}={on}",
            marks=[
                pytest.mark.skipif(
                    on not in facts.SUPPORTED[key], reason=f"{key}={on} is not built yet"
                ),
                pytest.mark.xdist_group(f"update-{key}"),
            ],
        )
        for key, on, off in SWITCHES
    ]


@pytest.mark.parametrize(("key", "on", "off"), _switch_params())
def test_switching_a_module_on_and_off(
    releases: Releases, tmp_path: Path, key: str, on: Any, off: Any
) -> None:
    project = render_at(releases, NEW, tmp_path / "p", ANSWERS)
    update(project, data={key: on})
    _check(project, {**ANSWERS, key: on})
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"{key} on")
    update(project, data={key: off})
    _check(project, {**ANSWERS, key: off})


def _check(path: Path, data: dict[str, Any]) -> None:
    from tests.answers import QUESTIONS
    from tests.facts import render_default

    full: dict[str, Any] = {}
    for name, spec in QUESTIONS.items():
        full[name] = data[name] if name in data else render_default(spec["default"], full)
    derived = facts.derive(full)
    project = Project("update", path, full, derived)
    text = (path / "pyproject.toml").read_text()
    for requirement in derived.dependencies:
        assert f'"{requirement}"' in text
    for fact, patterns in MODULE_PATHS.items():
        for pattern in patterns:
            exists = (path / pattern.format(pkg=project.package)).exists()
            assert exists == getattr(derived, fact), pattern
    leftovers = [p.name for p in path.rglob("*") if p.suffix == ".rej" or MARKER.search(_text(p))]
    assert leftovers == []
    run([str(BIN / "ruff"), "check", "--no-cache", "."], path, clean_env())
    run(
        [str(BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        path,
        clean_env(),
    )


def _text(path: Path) -> str:
    if not is_text(path) or ".git" in path.parts:
        return ""
    return path.read_text(errors="replace")
