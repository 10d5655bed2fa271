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

# The contract (CONTRACT.md) as this template extends it: hand-written, kept here so that the
# generated page carries it.
CONTRACT_EXTENSION = """
## Contract extension: hostile input

What every rendered project promises beyond CONTRACT.md about bad and hostile requests; the
rendered README's Security section and configuration table say the same for one project.

| variable | when | default | meaning |
|---|---|---|---|
| `MAX_REQUEST_BODY_BYTES` | always | `1048576` (1 MiB) | a request body above it is refused with 413 |
| `HSTS_MAX_AGE` | always | `0` | `Strict-Transport-Security: max-age=<n>` on every response when `ENVIRONMENT=production` and n > 0 |
| `RATE_LIMIT_LOGIN` | auth = password, rate_limit != none | `5/minute` | login attempts per client address |
| `RATE_LIMIT_LOGIN_ACCOUNT` | auth = password, rate_limit != none | `10/hour` | failed login attempts per account, from every address |

| rule | when | behaviour |
|---|---|---|
| body limit | always | `Content-Length` above `MAX_REQUEST_BODY_BYTES`: 413 at once, the body unread; a body without a length (chunked) is counted as it arrives and cut with 413 at the limit. The answer is the error shape with `code: payload_too_large` |
| security headers | always | every HTTP response: `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Content-Security-Policy: frame-ancestors 'none'`, `Referrer-Policy: no-referrer`; no `server` header from `serve`, gunicorn's workers, `make run` and the image |
| token responses | auth = password | `POST /api/v1/auth/token` and `/auth/refresh`: `Cache-Control: no-store`, `Pragma: no-cache` |
| bounded ids | database != none | every id in a path is 1..2147483647 (`integer` columns), `offset` 0..2147483647, `limit` 1..100, on every route (one shared type, `db/params.py`); outside them 422 `validation_error`, the bounds are in the OpenAPI schema; never a 500 |
| owner or admin | auth != none, database != none | `PATCH` (and `DELETE` without rbac) of an item by another user is **403** `forbidden`, not 404: every authenticated caller can read every item, so a 404 would hide nothing while it would lie about the item. With rbac an admin may change any item; `DELETE` needs the admin role as before. With `auth=jwt` the owner is the token's `sub`, in the item's `owner` field |
| login limits | auth = password, rate_limit != none | the login's own window counts by client address alone (a bearer token on the login request does not change the key); a second window counts attempts at the attempted username (lower-cased, stripped, hashed) from every address; a successful login clears it. Both refuse with 429 and `Retry-After`; an unknown account is counted like a real one |
| log redaction | always | `token=`, `access_token=`, `refresh_token=`, `password=`, `secret=`, `api_key=` values, bearer credentials and JWT-shaped strings are `[redacted]` in every log line (uvicorn's, gunicorn workers', the app's, tracebacks); SQL errors carry no bound parameters (`hide_parameters=True`) |
| error shapes in OpenAPI | always | every route documents `4XX` (and 500) with the error shape, which is what a 422 really looks like (not FastAPI's `HTTPValidationError`) |
"""

FOOTER = """
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
    return (
        HEADER
        + "\n".join(rows)
        + "\n"
        + CONTRACT_EXTENSION
        + FOOTER.format(unsupported=unsupported)
    )


if __name__ == "__main__":
    REFERENCE.write_text(generate())
