"""Generates docs/reference.md from copier.yml and extensions/facts.py.

    python -m tests.reference        # rewrite docs/reference.md
tests/test_reference.py fails when the committed file drifts from copier.yml.
"""

from __future__ import annotations

from typing import Any

from tests.answers import QUESTIONS
from tests.facts import facts
from tests.paths import ROOT

REFERENCE = ROOT / "docs" / "reference.md"

HEADER = """# Questions

Generated from `copier.yml` by `python -m tests.reference`; do not edit by hand.
Keys, choices and defaults follow the contract (CONTRACT.md). Pass answers with
`copier copy --data key=value`, or answer the prompts.

| key | type | choices | default | asked when | what it switches on |
|---|---|---|---|---|---|
"""

FOOTER = """
## Not built yet

A choice listed here is refused by its validator with "not supported yet" rather than rendered
as a stub. The list shrinks as modules land.

{unsupported}
"""

# The HTTP surface that CONTRACT.md leaves to the template, fixed here (not generated).
HTTP = """
## List pagination (database != none)

Every list route (`GET /api/v1/items`; `GET /api/v1/users` with auth = password and rbac) answers
`{"items": [...], "total": n, "limit": l, "offset": o, "next_cursor": c}`.

| parameter | default | meaning |
|---|---|---|
| `limit` | 50 | rows per page, 1 to 100 (else 422) |
| `cursor` | none | the `next_cursor` of the previous page: the rows after it (keyset pagination, the default way to walk a list; each page costs the same at any depth) |
| `offset` | 0 | rows to skip (offset pagination, kept for compatibility; its cost grows with the offset); 0 to 2^31 - 1 |
| `include_total` | true | false skips the count: `total` is `null` |
| `sort` (items) | `id` | `id` (oldest first) or `-id` (newest first) |
| `name` (items) | none | case-insensitive part of the name |
| `owner_id` (items, auth = password) | none | only this user's items |

- `next_cursor` is `null` on the last page and a string on every other page, offset pages
  included (a client may switch from offset to cursor at any page). Walking the cursors visits
  every row once, in order, also while rows are inserted or deleted: a row inserted ahead of
  the cursor is visited, one inserted behind it is not, a deleted row is not.
- `cursor` and a non-zero `offset` together: 422 (`errors[0].loc == ["query", "offset"]`). With
  a cursor, the response's `offset` is 0.
- A cursor is opaque and signed (`CURSOR_SECRET_KEY`; with auth = password, derived from
  `SECRET_KEY` when unset) over the list, the sort and the filters: a malformed, edited or
  foreign cursor (another list, sort, filter or key) is a 422 in the error envelope
  (`code: "validation_error"`, `errors[0].loc == ["query", "cursor"]`), never a 500.
- `total` counts the rows matching the filters on every page unless `include_total=false`.
"""


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _when(spec: dict[str, Any]) -> str:
    when = spec.get("when")
    if when is None:
        return "always"
    return "`" + str(when).replace("{{", "").replace("}}", "").strip() + "`"


def generate() -> str:
    rows = []
    for key, spec in QUESTIONS.items():
        choices = ", ".join(_show(c) for c in spec.get("choices", [])) or ""
        default = spec.get("default", "")
        default_text = "derived" if "{{" in str(default) else _show(default)
        help_text = str(spec.get("help", "")).replace("|", "\\|")
        rows.append(
            f"| `{key}` | {spec['type']} | {choices} | {default_text} | {_when(spec)} | {help_text} |"
        )
    missing = []
    for key, supported in facts.SUPPORTED.items():
        values = QUESTIONS[key].get("choices", [True, False])
        absent = [v for v in values if v not in supported]
        if absent:
            missing.append(f"- `{key}`: " + ", ".join(_show(v) for v in absent))
    unsupported = "\n".join(missing) or "Every choice is built."
    return HEADER + "\n".join(rows) + "\n" + HTTP + FOOTER.format(unsupported=unsupported)


if __name__ == "__main__":
    REFERENCE.write_text(generate())
