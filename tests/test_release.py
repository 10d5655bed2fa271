"""Releases: CHANGELOG.md's dated sections, this repository's annotated PEP 440 tags, and a
template tagged the documented way (docs/development.md, "Making a release") rendering as that
release."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.version import InvalidVersion, Version

from tests.conftest import BIN, clean_env, run, template_source
from tests.paths import ROOT

SECTION = re.compile(r"^## (?P<version>\S+) \((?P<date>\d{4}-\d{2}-\d{2})\)$", re.MULTILINE)


def git(cwd: Path, *args: str) -> str:
    identity = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t.t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t.t",
    }
    return run(["git", *args], cwd, clean_env(**identity))


def changelog_releases() -> list[tuple[Version, datetime.date]]:
    text = (ROOT / "CHANGELOG.md").read_text()
    return [
        (Version(m["version"]), datetime.date.fromisoformat(m["date"]))
        for m in SECTION.finditer(text)
    ]


def release_tags() -> list[Version]:
    listed = subprocess.run(
        ["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    tags = []
    for tag in listed:
        try:
            tags.append(Version(tag))
        except InvalidVersion:
            continue
    return sorted(tags)


def test_changelog_sections_are_dated_and_newest_first() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## .*$", text, re.MULTILINE)
    assert headings[0] == "## Unreleased", headings
    assert all(SECTION.match(h) for h in headings[1:]), headings
    releases = changelog_releases()
    assert releases, "no release section"
    versions = [version for version, _ in releases]
    dates = [date for _, date in releases]
    assert versions == sorted(versions, reverse=True)
    assert dates == sorted(dates, reverse=True)
    assert all(str(v) == h.split()[1] for v, h in zip(versions, headings[1:], strict=True))


def test_the_newest_tag_is_the_changelogs_newest_release() -> None:
    tags = release_tags()
    if not tags:
        pytest.skip("this clone has no release tags yet")
    newest = changelog_releases()[0][0]
    assert tags[-1] == newest, f"newest tag {tags[-1]}, newest CHANGELOG section {newest}"
    for tag in tags:
        kind = subprocess.run(
            ["git", "cat-file", "-t", str(tag)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert kind == "tag", f"{tag} is a lightweight tag: make it with git tag -a"
        at_tag = subprocess.run(
            ["git", "show", f"{tag}:CHANGELOG.md"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.search(rf"^## {re.escape(str(tag))} \(", at_tag, re.MULTILINE), tag


def test_a_release_made_as_documented_renders_as_that_release(tmp_path: Path) -> None:
    """The procedure of docs/development.md on a copy of this repository: the tag named by the
    CHANGELOG's newest section, annotated; `copier copy` then stamps that version."""
    repo = tmp_path / "template"
    shutil.copytree(template_source(), repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release")
    version = str(changelog_releases()[0][0])
    git(repo, "tag", "-a", version, "-m", f"{version}: the first release")
    dest = tmp_path / "project"
    result = subprocess.run(
        [str(BIN / "copier"), "copy", "--trust", "--defaults", str(repo), str(dest)],
        env=clean_env(COPIER_SETTINGS_PATH=os.environ["COPIER_SETTINGS_PATH"]),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "No git tags found" not in result.stderr
    assert f"Copying from template version {version}\n" in result.stderr
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["_commit"] == version
    assert git(repo, "describe", "--exact-match").strip() == version
