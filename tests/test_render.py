"""Every answer set renders into a project that is complete, clean, typed and tested."""

from __future__ import annotations

import re
import struct
import tomllib
import zlib

import pytest

from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.modules import BASE_PATHS, MODULE_PATHS
from tests.paths import is_runtime_template, is_text

pytestmark = pytest.mark.parametrize("project", answer_set_params(), indirect=True)

JINJA_LEFTOVER = re.compile(r"\{\{|\{%|\{#")
# GitHub Actions' own expressions, `${{ github.token }}`: the workflows' syntax, not Jinja's
ACTIONS_EXPRESSION = re.compile(r"\$\{\{ [\w.-]+(?: [=!]= '[\w-]+')? \}\}")


def test_no_jinja_left(project: Project) -> None:
    offenders = []
    for path in project.path.rglob("*"):
        if (
            is_text(path)
            and ".git" not in path.parts
            and not is_runtime_template(project.path, path)
        ):
            text = path.read_text(errors="replace")
            if path.parent.as_posix().endswith(".github/workflows"):
                text = ACTIONS_EXPRESSION.sub("", text)
            if JINJA_LEFTOVER.search(text) or JINJA_LEFTOVER.search(path.name):
                offenders.append(str(path.relative_to(project.path)))
    assert offenders == []


def test_base_files_present(project: Project) -> None:
    missing = [p for p in BASE_PATHS if not (project.path / p.format(pkg=project.package)).exists()]
    assert missing == []


@pytest.mark.parametrize("fact", sorted(MODULE_PATHS) or ["-"])
def test_module_files_follow_the_answers(project: Project, fact: str) -> None:
    if fact == "-":
        pytest.skip("no optional module has landed yet")
    chosen = getattr(project.facts, fact)
    for pattern in MODULE_PATHS[fact]:
        exists = (project.path / pattern.format(pkg=project.package)).exists()
        assert exists == chosen, f"{pattern}: exists={exists}, {fact}={chosen}"


def test_dependencies_are_exactly_those_of_the_answers(project: Project) -> None:
    pyproject = tomllib.loads((project.path / "pyproject.toml").read_text())
    assert tuple(pyproject["project"]["dependencies"]) == project.facts.dependencies
    assert tuple(pyproject["dependency-groups"]["dev"]) == project.facts.dev_dependencies
    assert pyproject["project"]["requires-python"] == ">=3.11"


def test_answers_file_records_the_answers(project: Project) -> None:
    text = (project.path / ".copier-answers.yml").read_text()
    for key in ("project_slug", "package_name", "auth", "database"):
        assert f"{key}: {project.answers[key]}" in text


def test_ruff(project: Project) -> None:
    run([str(BIN / "ruff"), "check", "--no-cache", "."], project.path, clean_env())
    run([str(BIN / "ruff"), "format", "--check", "--no-cache", "."], project.path, clean_env())


def test_declared_dependencies_cover_imports(project: Project) -> None:
    """deptry: no missing, unused or transitive dependency (instead of installing each project)."""
    run([str(BIN / "deptry"), "."], project.path, clean_env())


# Components of the README's architecture picture: label -> is it chosen?
PICTURE = {
    '"Clients"': lambda f: True,
    '"Identity provider"': lambda f: f.has_identity_provider,
    '"PostgreSQL"': lambda f: f.is_postgresql,
    '"SQLite file"': lambda f: f.is_sqlite,
    '"Redis"': lambda f: f.needs_redis,
    '"RabbitMQ"': lambda f: f.needs_rabbitmq,
    '"Celery worker"': lambda f: f.has_worker,
    '"Prometheus"': lambda f: f.has_metrics,
    "WebSocket": lambda f: f.has_websockets,
    "gunicorn": lambda f: f.has_docker,
    '"SMTP relay"': lambda f: f.has_email,
}


def test_readme_opens_with_a_picture_of_exactly_the_chosen_components(project: Project) -> None:
    readme = (project.path / "README.md").read_text()
    assert readme.index("```mermaid") < readme.index("## Routes") < readme.index("## Install")
    picture = readme.split("```mermaid", 1)[1].split("```", 1)[0]
    for label, chosen in PICTURE.items():
        assert (label in picture) == chosen(project.facts), label


# A picture the README shows: `![alt](path)`
README_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PICTURE_MAX_BYTES = 150_000


def png_size(data: bytes) -> tuple[int, int]:
    """The width and height of a well-formed PNG: its signature, every chunk's CRC, IHDR first,
    IEND last, and image data that inflates. Raises AssertionError otherwise."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    offset, kinds, image = len(PNG_SIGNATURE), [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in chunk {kind!r}"
        kinds.append(kind)
        if kind == b"IDAT":
            image += body
        offset += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND", kinds
    assert zlib.decompress(image), "no image data"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_readme_pictures_are_in_the_project_and_the_admin_one_follows_the_answer(
    project: Project,
) -> None:
    readme = (project.path / "README.md").read_text()
    local = [path for path in README_IMAGE.findall(readme) if "://" not in path]
    assert ("docs/admin-items.png" in local) == project.facts.has_admin
    for picture in local:
        path = project.path / picture
        assert path.is_file(), picture
        data = path.read_bytes()
        assert len(data) < PICTURE_MAX_BYTES, picture
        width, height = png_size(data)
        assert 400 <= width <= 2000 and 200 <= height <= 1200, (picture, width, height)


def test_readme_routes_table_lists_the_routes_that_exist(project: Project) -> None:
    readme = (project.path / "README.md").read_text()
    table = readme.split("## Routes", 1)[1].split("\n## ", 1)[0]
    assert ("/api/v1/items" in table) == project.facts.has_database
    assert ("/api/v1/auth/token" in table) == project.facts.has_users
    assert ("/api/v1/jobs" in table) == project.facts.has_worker
    assert ("/ws/{room}" in table) == project.facts.has_websockets
    assert ("/metrics" in table) == project.facts.has_metrics
    for route in ("forgot-password", "reset-password", "request-verification", "verify-email"):
        assert (f"/api/v1/auth/{route}" in table) == project.facts.has_email, route
    assert "/health/live" in table
