"""Answer migrations on a real older answers file: `.copier-answers.yml` as release 0.1.0 wrote
it, updated to a release that renames one question and removes another.

No release of the template has renamed or removed a question yet (0.1.0 and 0.2.0 ask the
same questions, 0.2.0 only adds some), so the rename is made here, in a temporary clone of this
repository: on top of this working tree, the next release (tagged there only) renames
`author_name` to `maintainer_name` and removes `author_email`, with the entries a maintainer
adds to `ANSWER_CHANGES` in extensions/migrations.py (docs/updating.md, "Renamed or removed
answers"). The project is rendered from the real tag 0.1.0 of the clone, not from a copy made
to look old. A second release, the same change without the entries, shows what the migration
prevents: the renamed answer's value is lost for the question's default.

About two minutes (a clone, two releases, two renders from the tag, two updates): marker
`full`, run by `make test-update-history` (part of `make test-full`).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from tests.paths import ROOT
from tests.test_update import MARKER, _snapshot, copier, git

pytestmark = pytest.mark.full

OLD = "0.1.0"
NAME, EMAIL = "Ada Lovelace", "ada@example.org"
TABLE = "ANSWER_CHANGES: tuple[tuple[str, str, str | None], ...] = ()"
QUESTION = re.compile(r"^author_email:\n(?:  .*\n)+\n", re.MULTILINE)


@dataclass(frozen=True)
class Clone:
    repo: Path
    with_migration: str  # the next release (tagged in the clone only)
    without_migration: str  # its release candidate, the same change without the entries


def _rename_and_remove(repo: Path, release: str | None) -> None:
    """The next release: `author_name` renamed `maintainer_name`, `author_email` removed."""
    copier_yml = repo / "copier.yml"
    text = copier_yml.read_text()
    assert QUESTION.search(text), "copier.yml has no author_email question"
    copier_yml.write_text(QUESTION.sub("", text).replace("author_name:", "maintainer_name:"))
    pyproject = repo / "template" / "pyproject.toml.jinja"
    authors = 'authors = [{ name = "{{ author_name }}", email = "{{ author_email }}" }]'
    assert authors in pyproject.read_text()
    pyproject.write_text(
        pyproject.read_text().replace(authors, 'authors = [{ name = "{{ maintainer_name }}" }]')
    )
    leftover = subprocess.run(
        ["grep", "-rlE", "author_(name|email)", "copier.yml", "template"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert leftover == "", leftover
    if release is not None:
        migrations = repo / "extensions" / "migrations.py"
        assert TABLE in migrations.read_text(), "ANSWER_CHANGES is no longer empty: use it"
        migrations.write_text(
            migrations.read_text().replace(
                TABLE,
                "ANSWER_CHANGES: tuple[tuple[str, str, str | None], ...] = (\n"
                f'    ("{release}", "author_name", "maintainer_name"),\n'
                f'    ("{release}", "author_email", None),\n'
                ")",
            )
        )


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Clone:
    repo = tmp_path_factory.mktemp("migrations") / "repo"
    git(ROOT, "clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo))
    tags = git(repo, "tag", "--list").split()
    assert OLD in tags
    newest = max(Version(tag) for tag in tags if re.fullmatch(r"\d+\.\d+\.\d+", tag))
    with_migration = f"{newest.major}.{newest.minor + 1}.0"
    without_migration = f"{with_migration}rc1"  # `copier update` skips it unless named
    listed = set(
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    )
    for release, entries in ((without_migration, False), (with_migration, True)):
        git(repo, "checkout", "--quiet", "--detach", OLD)
        git(repo, "checkout", "--quiet", "-b", f"release-{release}")
        for tracked in git(repo, "ls-files").splitlines():
            if tracked not in listed:  # deleted in this working tree
                (repo / tracked).unlink()
        _snapshot(repo)
        _rename_and_remove(repo, release if entries else None)
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", f"release {release}")
        git(repo, "tag", release)
    return Clone(repo, with_migration, without_migration)


def rendered_at_old_release(clone: Clone, dest: Path) -> Path:
    copier(
        dest.parent,
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        OLD,
        "--data-file",
        str(ROOT / "presets" / "minimal.yml"),
        "--data",
        f"author_name={NAME}",
        "--data",
        f"author_email={EMAIL}",
        str(clone.repo),
        str(dest),
    )
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    # The answers file 0.1.0 writes, with the keys the next release renames and removes
    assert answers["_commit"] == OLD
    assert answers["author_name"] == NAME and answers["author_email"] == EMAIL
    git(dest, "init", "-q", "-b", "main")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", f"rendered at {OLD}")
    return dest


def leftovers(project: Path) -> list[str]:
    return [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and ".git" not in path.relative_to(project).parts
        and (path.suffix == ".rej" or MARKER.search(path.read_text(errors="replace")))
    ]


@pytest.mark.xdist_group("answer-migrations")
def test_update_from_0_1_0_carries_the_renamed_answer_and_drops_the_removed(
    clone: Clone, tmp_path: Path
) -> None:
    project = rendered_at_old_release(clone, tmp_path / "service")

    result = copier(project, "update", "--defaults", "--trust")  # to the newest tag

    said = result.stdout + result.stderr
    assert "migrated answer author_name -> maintainer_name" in said, said
    assert "migrated answer author_email -> (removed)" in said, said
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == clone.with_migration
    assert answers["maintainer_name"] == NAME
    assert "author_name" not in answers and "author_email" not in answers
    pyproject = (project / "pyproject.toml").read_text()
    assert f'authors = [{{ name = "{NAME}" }}]' in pyproject
    assert EMAIL not in pyproject
    assert leftovers(project) == []


@pytest.mark.xdist_group("answer-migrations")
def test_without_the_migration_the_renamed_answer_is_lost(clone: Clone, tmp_path: Path) -> None:
    """The same update to a release that lacks the ANSWER_CHANGES entries: copier asks the
    renamed question anew and `--defaults` answers it with the default."""
    project = rendered_at_old_release(clone, tmp_path / "service")

    result = copier(
        project, "update", "--defaults", "--trust", "--vcs-ref", clone.without_migration
    )

    assert "migrated answer" not in result.stdout + result.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == clone.without_migration
    assert answers["maintainer_name"] == "Your Team"
    assert f'name = "{NAME}"' not in (project / "pyproject.toml").read_text()
