"""Carries answers over when a template release renames or removes a question.

Run by copier before an update (see `_migrations` in copier.yml), in the project's directory:

    python extensions/migrations.py <answers file> <version from> <version to>

Each entry applies when the project moves from a version older than the entry's version to that
version or a newer one. Renamed answers keep their value under the new key; removed answers are
dropped so copier does not warn about unknown data. Uses only the standard library: it runs under
copier's own interpreter, with no network.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# (version that made the change, old key, new key); new key None means the answer was removed.
ANSWER_CHANGES: tuple[tuple[str, str, str | None], ...] = ()


def _version(text: str) -> tuple[int, ...]:
    """PEP 440 release segment, enough for ordering this template's plain X.Y.Z tags."""
    match = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    if not match:
        raise SystemExit(f"migrations: cannot read version {text!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def applicable(
    changes: tuple[tuple[str, str, str | None], ...], version_from: str, version_to: str
) -> list[tuple[str, str | None]]:
    low, high = _version(version_from), _version(version_to)
    return [(old, new) for version, old, new in changes if low < _version(version) <= high]


def migrate(text: str, renames: list[tuple[str, str | None]]) -> str:
    """Rewrite the top-level keys of a copier answers file (flat YAML written by copier)."""
    lines = text.splitlines(keepends=True)
    for old, new in renames:
        pattern = re.compile(rf"^{re.escape(old)}:(?=\s|$)")
        if new is not None and any(line.startswith(f"{new}:") for line in lines):
            # The new key is already answered: the old one is stale.
            lines = [line for line in lines if not pattern.match(line)]
        elif new is None:
            lines = [line for line in lines if not pattern.match(line)]
        else:
            lines = [pattern.sub(f"{new}:", line) for line in lines]
    return "".join(lines)


def main(argv: list[str]) -> int:
    answers_file, version_from, version_to = argv
    path = Path(answers_file)
    renames = applicable(ANSWER_CHANGES, version_from, version_to)
    if renames and path.exists():
        path.write_text(migrate(path.read_text(), renames))
        for old, new in renames:
            print(f"migrated answer {old} -> {new or '(removed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
