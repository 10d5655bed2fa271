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
`database=none` is a disabled choice after `auth=password` in the interactive prompt (its
reason shown); given with `--data`, the combination is refused in one line.

## Authentication of the HTTP surface

In the contract's terms (CONTRACT.md, "HTTP surface"), with `auth` other than `none`:

- `/api/v1/items` and `/api/v1/jobs` (`worker=celery`): every route needs a valid bearer
  token: 401 with `WWW-Authenticate: Bearer` otherwise. With `rbac`, `DELETE /api/v1/items/{{id}}`
  needs the role `admin`, and `POST /api/v1/jobs` and `GET /api/v1/jobs/{{id}}` need `user` or
  `admin` (403 otherwise). Anonymous jobs exist only with `auth=none`.
- `WS /ws/{{room}}` (`websockets` other than `none`): `?token=<access token>` is checked before
  the handshake is accepted. A missing, malformed, expired or forged token is refused with the
  contract's first option: the handshake is denied with HTTP 403 (the app closes the socket with
  1008 before accepting it, which the server answers with 403; an in-process test client such as
  Starlette's reports that 1008). No message is ever received or sent.

## Not built yet

A choice listed here is refused by its validator with "not supported yet" rather than rendered
as a stub. The list shrinks as modules land.

{unsupported}
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
    return HEADER + "\n".join(rows) + "\n" + FOOTER.format(unsupported=unsupported)


if __name__ == "__main__":
    REFERENCE.write_text(generate())
