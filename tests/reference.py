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

EXTENSIONS_HEADER = """
## What the modules add to the contract

Environment variables and routes of the rendered projects, in the terms of CONTRACT.md.
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


# What a module adds to the contract (CONTRACT.md), in its terms: environment variables and HTTP
# routes of the rendered projects that choose it. Keyed by the question that switches it on.
CONTRACT_EXTENSIONS: dict[str, str] = {
    "email": """### `email=smtp` (with `auth=password`)

| variable | when | meaning |
|---|---|---|
| SMTP_HOST, SMTP_PORT | email = smtp | the SMTP relay (default `localhost`, `1025`: a development mail catcher); production refuses an unset or localhost host |
| SMTP_USER, SMTP_PASSWORD | email = smtp | the relay's login when set; SMTP_PASSWORD is a secret |
| SMTP_STARTTLS, SMTP_SSL | email = smtp | STARTTLS required (`true`), never (`false`) or when offered (unset); SMTP_SSL: TLS from the first byte |
| SMTP_FROM, SMTP_TIMEOUT | email = smtp | the sender (production refuses the example address); seconds to connect and per SMTP command |
| EMAIL_VERIFICATION_REQUIRED | email = smtp | `true`: unverified accounts cannot log in (403 `email_not_verified`); the first admin is verified |
| PASSWORD_RESET_URL, EMAIL_VERIFY_URL | email = smtp | frontend link templates with one `{token}` placeholder; production needs https and a non-local host |
| PASSWORD_RESET_EXPIRE_MINUTES, EMAIL_VERIFY_EXPIRE_MINUTES | email = smtp | lifetime of a link (30, 2880) |
| RATE_LIMIT_MAIL_PER_ADDRESS, RATE_LIMIT_MAIL_PER_CLIENT | email = smtp and rate_limit != none | e-mails asked for one address by every client together, and by one client for any address (`5/hour`, `20/hour`) |

| route | when | behaviour |
|---|---|---|
| POST /api/v1/auth/forgot-password | email = smtp | JSON `{"email"}` → 202 `{"detail"}`, byte-identical and as fast whether or not the address has an account; an active account gets a reset link after the response; 422 for a malformed address; 429 (per address, per client) with a rate limiter |
| POST /api/v1/auth/reset-password | email = smtp | JSON `{"token", "new_password"}` (the registration's password rules) → 204; every refresh token of the account is revoked; 400 `invalid_token` for an unknown, used, replaced, expired or voided token |
| POST /api/v1/auth/request-verification | email = smtp | JSON `{"email"}` → 202 as forgot-password; an active, unverified account gets a verification link (registration sends the first) |
| POST /api/v1/auth/verify-email | email = smtp | JSON `{"token"}` → 204, `email_verified_at` set on the account (`GET /api/v1/users/me`); 400 `invalid_token` |

Tokens are random (256 bits), stored as SHA-256, single-use, expiring; a newer request replaces
the older token. Sending never blocks a request: a BackgroundTask, or the Celery worker (retries
with backoff) when worker = celery; a failure of the relay is logged with the request id.
""",
    "worker": """### `worker=celery`

| variable | when | meaning |
|---|---|---|
| CELERY_TASK_TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT | worker = celery | seconds (300, 270): the soft limit raises `SoftTimeLimitExceeded` in the task, the hard one kills its process and fails the job; the soft one must be the lower |
| CELERY_TASK_MAX_RETRIES, CELERY_TASK_RETRY_BACKOFF_MAX | worker = celery | retries of a transient error (5), exponential backoff with full jitter of at most this many seconds (300) |
| CELERY_RESULT_EXPIRES | worker = celery | seconds a job's state is kept (86400); then `GET /api/v1/jobs/{id}` is 404 |
| CELERY_WORKER_READY_FILE | worker = celery | exists while the worker consumes (`/tmp/celery-worker-ready`): the worker's readiness probe |
| CELERY_BEAT_QUEUE_DEPTH_SECONDS | worker = celery | interval of the periodic `report-queue-depth` task (60) |
| CELERY_BEAT_PURGE_TOKENS_SECONDS | worker = celery, auth = password | interval of the periodic `purge-expired-refresh-tokens` task (3600) |

| route or command | when | behaviour |
|---|---|---|
| GET /api/v1/jobs/{id} | worker = celery | a failed job: `{"id", "status": "failure", "result": null, "error"}`, `error` a `JobFailedError`'s message, a fixed sentence for a time limit or a lost worker, else the exception's type; never a traceback or an exception's own message. Other states carry no `error` key |
| `python -m <pkg> beat` (`make beat`) | worker = celery | Celery beat with the project's schedule (`worker/schedule.py`); run one (compose `beat`, Kubernetes `<slug>-beat` with one replica and `Recreate`). A second beat does not run a tick twice: each tick is claimed on the broker first |
""",
    # Not a question of its own: on with a database or a worker.
    "database": """### `Idempotency-Key` (`database != none` or `worker=celery`)

| variable | when | meaning |
|---|---|---|
| IDEMPOTENCY_TTL_SECONDS | has_idempotency | seconds a key's first response is replayed for (86400) |
| IDEMPOTENCY_LOCK_SECONDS | has_idempotency | seconds a key stays in flight at most, when its process died (60) |
| IDEMPOTENCY_STORE_TIMEOUT | idempotency_store != memory | seconds a look-up of a key may take (2.0) |
| IDEMPOTENCY_KEY_PREFIX | idempotency_store = redis | prefix of the keys in Redis (`<slug>:idempotency:`) |

| route | when | behaviour |
|---|---|---|
| POST /api/v1/items, POST /api/v1/jobs | has_idempotency (items: database; jobs: worker) | optional header `Idempotency-Key` (1-255 visible ASCII, else 422 `validation_error`), scoped per caller and route: the same key and body (canonical JSON) within the window replay the first successful response (status, body, `Location`) with `Idempotent-Replayed: true` and no second execution; another body 422 `idempotency_key_reused`; while the first is in flight 409 `idempotency_key_in_flight` with `Retry-After`; a store that does not answer 503 with `Retry-After`; an error response frees the key |

Stored in Redis where the project has its Redis client (`needs_redis_client`), else in the
database (table `idempotency_keys`, revision 0004). A project with a worker and neither (a job
queue alone) keeps the keys in the API process's memory (`idempotency_store = memory`): they
hold within one API process; a retry that reaches another process runs again. A Redis cache or
rate limit, or a database, moves them where every process shares them.
""",
    "admin": """### `admin=true` (with `auth=password`)

| variable | when | meaning |
|---|---|---|
| ADMIN_ENABLED | admin | `true`/`false`; unset: the back office is on except with `ENVIRONMENT=production` |
| ADMIN_SESSION_IDLE_MINUTES | admin | minutes without a request before an admin session ends (30; 1 to 1440) |
| ADMIN_EMAILS | admin and not rbac | JSON list of the accounts that may log in; empty: `FIRST_ADMIN_EMAIL`'s alone (with rbac: the `admin` role) |

| route | when | behaviour |
|---|---|---|
| GET, POST /admin/login | admin | SQLAdmin's login form (e-mail, password, CSRF token): 302 to `/admin/` for an active admin, 400 for anyone else, 403 without the session's CSRF token; sets the `admin_session` cookie (signed, HttpOnly, SameSite=strict, `Path=/admin`, Secure in production) |
| /admin/... | admin | the users and items views; without a valid session a 302 to the login page; every POST and DELETE without the CSRF token (form field `csrf_token` or header `X-CSRF-Token`) 403; 404 when the admin is off |
| POST /admin/login (rate limit) | admin and rate_limit != none | 429 with `Retry-After` past `RATE_LIMIT_LOGIN` per client address (a window of the admin's own) or `RATE_LIMIT_LOGIN_ACCOUNT` failed attempts per account (shared with `POST /api/v1/auth/token`) |
| GET /admin/statics/... | admin | SQLAdmin's CSS, JavaScript and fonts from its wheel (no CDN) |
""",
}


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
    extensions = "".join(
        "\n" + text for key, text in CONTRACT_EXTENSIONS.items() if key in QUESTIONS
    )
    return (
        HEADER
        + "\n".join(rows)
        + "\n"
        + HTTP
        + CONTRACT_EXTENSION
        + (EXTENSIONS_HEADER + extensions if extensions else "")
        + FOOTER.format(unsupported=unsupported)
    )


if __name__ == "__main__":
    REFERENCE.write_text(generate())
