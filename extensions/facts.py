"""Derived facts of an answer set, computed once, used by copier.yml, file names and wiring.

Everything the template needs to know beyond the raw answers lives here: which modules are
effectively on (an answer hidden by ``when`` still sits in the render context, so ``rbac`` with
``auth=none`` must not count), which external services a project needs, the dependency list of a
combination, and the messages of the validators. The functions are plain Python and unit-tested
in ``tests/test_facts.py``; two small Jinja extensions at the bottom expose them to copier.
"""

from __future__ import annotations

import functools
import json
import keyword
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from copier_template_extensions import ContextHook
from jinja2 import Environment
from jinja2.ext import Extension

# --------------------------------------------------------------------------------------------
# Which choices are built. A choice outside this table is refused by a copier validator, so an
# answer file never renders a stub. Each module adds its values here when it lands.
# --------------------------------------------------------------------------------------------
SUPPORTED: dict[str, tuple[Any, ...]] = {
    "auth": ("none", "jwt", "password"),
    "database": ("none", "sqlite", "postgresql"),
    "cache": ("none", "memory", "redis"),
    "rate_limit": ("none", "memory", "redis"),
    "worker": ("none", "celery"),
    "broker": ("redis", "rabbitmq"),
    "websockets": ("none", "memory", "redis"),
    "metrics": (False, True),
    "docker": (False, True),
    "kubernetes": (False, True),
    "ci": ("none", "github"),
    "email": ("none", "smtp"),
    "admin": (False, True),
    "tracing": ("none", "otlp"),
    "error_tracking": ("none", "sentry"),
}

# The answers derive() reads; the facts exist once all of them are answered.
DERIVED_FROM = (
    "auth",
    "rbac",
    "database",
    "cache",
    "rate_limit",
    "worker",
    "broker",
    "websockets",
    "metrics",
    "docker",
    "kubernetes",
    "ci",
    "email",
    "admin",
    "tracing",
    "error_tracking",
)

# Import names a generated package must not shadow (besides the standard library and keywords).
RESERVED_PACKAGE_NAMES = frozenset(
    {
        "alembic",
        "aiosmtpd",
        "aiosmtplib",
        "aiosqlite",
        "itsdangerous",
        "asyncpg",
        "cashews",
        "celery",
        "fastapi",
        "gunicorn",
        "httpx",
        "jwt",
        "kombu",
        "limits",
        "orjson",
        "multipart",
        "mypy",
        "prometheus_client",
        "pwdlib",
        "pydantic",
        "pydantic_settings",
        "pytest",
        "opentelemetry",
        "redis",
        "ruff",
        "sqladmin",
        "sentry_sdk",
        "sqlalchemy",
        "starlette",
        "structlog",
        "tests",
        "uvicorn",
        "uvicorn_worker",
    }
)

# The oldest Python a rendered project runs on: its requires-python, ruff's target (read from
# requires-python) and mypy's python_version. `python_version` is the image's and CI's Python.
MIN_PYTHON = "3.11"

# Where the rendered tests find their services by default (TEST_DATABASE_URL, TEST_REDIS_URL):
# the local servers, and a Redis database of their own (the service's REDIS_URL is db 0).
TEST_POSTGRESQL_SERVER = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432"
TEST_REDIS_URL = "redis://127.0.0.1:6379/15"

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]*$")
PACKAGE_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


# --------------------------------------------------------------------------------------------
# Filters used by question defaults
# --------------------------------------------------------------------------------------------
def kebab(text: str) -> str:
    """``"My Service 2"`` -> ``"my-service-2"``; leading digits and symbols are dropped."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "-".join(words)
    return re.sub(r"^[^a-z]+", "", slug)


def snake(text: str) -> str:
    """``"my-service"`` -> ``"my_service"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# --------------------------------------------------------------------------------------------
# Validator messages: empty string means valid (copier's convention)
# --------------------------------------------------------------------------------------------
TEXT_LIMITS = {"project_name": 50, "description": 200}


def text_error(key: str, value: str) -> str:
    if not value.strip():
        return f"{key} must not be empty."
    if len(value) > TEXT_LIMITS[key]:
        return f"{key} is {len(value)} characters long: keep it within {TEXT_LIMITS[key]}."
    if "\n" in value or '"' in value or "\\" in value:
        return f"{key} must be one line without double quotes or backslashes."
    return ""


def slug_error(value: str) -> str:
    if not SLUG_RE.match(value):
        return (
            f"project_slug {value!r} is not kebab-case: use lowercase letters, digits and '-', "
            "starting with a letter (for example 'my-service')."
        )
    if len(value) > 40:
        return f"project_slug {value!r} is {len(value)} characters long: keep it within 40."
    if value.endswith("-") or "--" in value:
        return f"project_slug {value!r} must not end with '-' or contain '--' (for example 'my-service')."
    return ""


def package_name_error(value: str) -> str:
    if not PACKAGE_RE.match(value) or not value.isidentifier():
        return (
            f"package_name {value!r} is not a valid Python package name: use lowercase letters, "
            "digits and '_', starting with a letter (for example 'my_service')."
        )
    if len(value) > 40:
        return f"package_name {value!r} is {len(value)} characters long: keep it within 40."
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return f"package_name {value!r} is a Python keyword: choose another name (for example '{value}_service')."
    if value in sys.stdlib_module_names:
        return (
            f"package_name {value!r} would shadow the standard library module of that name: "
            f"choose another name (for example '{value}_service')."
        )
    if value in RESERVED_PACKAGE_NAMES:
        return (
            f"package_name {value!r} would shadow the dependency of that name: "
            f"choose another name (for example '{value}_service')."
        )
    return ""


def email_error(value: str) -> str:
    if not EMAIL_RE.match(value):
        return f"author_email {value!r} is not an e-mail address (for example 'team@example.com')."
    return ""


def combination_error(key: str, value: Any, **others: Any) -> str:
    """Cross-question rules. Each rule sits on the later question of the pair."""
    if key == "database" and value == "none" and others.get("auth") == "password":
        return (
            "auth=password stores users in a database: choose database=sqlite or "
            "database=postgresql, or choose auth=jwt or auth=none."
        )
    if key == "kubernetes" and value and not others.get("docker"):
        return "kubernetes=true deploys the Docker image: set docker=true, or kubernetes=false."
    if key == "broker" and others.get("worker") != "celery":
        return "broker only applies to worker=celery: set worker=celery, or leave broker out."
    if key == "email" and value != "none" and others.get("auth") != "password":
        return (
            f"email={value} sends the account e-mails of auth=password (address verification, "
            "password reset): set auth=password, or email=none."
        )
    if (
        key == "admin"
        and value
        and (others.get("auth") != "password" or others.get("database") == "none")
    ):
        return (
            "admin=true logs in the users of auth=password stored in the database: set "
            "auth=password with database=sqlite or database=postgresql, or admin=false."
        )
    return ""


def unsupported_error(key: str, value: Any) -> str:
    if value in SUPPORTED[key]:
        return ""
    built = ", ".join(_show(v) for v in SUPPORTED[key]) or "nothing yet"
    return (
        f"{key}={_show(value)} is not supported yet by this template version "
        f"(supported: {built}). Choose a supported value."
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --------------------------------------------------------------------------------------------
# Derived facts
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Facts:
    has_auth: bool
    has_rbac: bool
    has_users: bool
    has_identity_provider: bool  # auth=jwt: tokens issued elsewhere, verified here
    has_database: bool
    is_sqlite: bool
    is_postgresql: bool
    has_cache: bool
    has_redis_cache: bool  # the cache is shared through Redis
    has_rate_limit: bool
    has_redis_rate_limit: bool  # the rate limit counters are shared through Redis
    needs_redis_client: bool  # the project's own code imports redis-py
    caches_items: bool  # GET /api/v1/items/{id} is cached
    # Idempotency-Key on POST /api/v1/items and /api/v1/jobs (idempotency/): where the keys can
    # be shared by every process, in Redis (the project's Redis client) else in the database
    has_idempotency: bool
    idempotency_store: str  # "redis", "database", "memory" (a job queue alone), "" without
    idempotency_in_database: bool  # table idempotency_keys (migration 0004)
    has_worker: bool
    broker: str  # "" without a worker
    has_websockets: bool
    has_redis_websockets: bool  # rooms fan out through Redis pub/sub
    has_metrics: bool
    has_docker: bool
    has_kubernetes: bool
    has_ci: bool
    has_email: bool  # account e-mails over SMTP (verification, password reset): auth=password
    has_admin: bool  # the back office at /admin (SQLAdmin): auth=password with a database
    has_tracing: bool  # OpenTelemetry traces over OTLP/HTTP (tracing.py)
    has_error_tracking: bool  # errors reported to Sentry (error_tracking/)
    traces_redis: bool  # with tracing, the project's Redis clients are instrumented
    tracing_ui_image: str  # Jaeger's image (README, compose profile `observability`), "" without
    min_python: str  # requires-python, ruff's and mypy's target (MIN_PYTHON)
    needs_redis: bool
    tests_need_redis: bool  # the rendered tests talk to Redis (TEST_REDIS_URL); Celery's do not
    test_postgresql_server: str  # TEST_DATABASE_URL's default, without the database name
    test_redis_url: str  # TEST_REDIS_URL's default
    needs_rabbitmq: bool
    services: tuple[str, ...]  # external services the running project needs
    needs_services: bool
    dependencies: tuple[str, ...]
    dev_dependencies: tuple[str, ...]
    # Deployment: (variable, value) pairs of the settings that point the app at its services
    compose_environment: tuple[tuple[str, str], ...]  # service names of compose.yaml as hosts
    ci_environment: tuple[tuple[str, str], ...]  # CI's service containers, as the tests read them
    compose_services: tuple[str, ...]  # every service of compose.yaml, in order
    compose_backing: tuple[str, ...]  # the backing services among them (postgres, redis, ...)
    images: dict[str, str]  # image of each backing service (compose and CI use the same)
    # Supply chain (ci=github): `uses:` value of each action, pinned by commit (ACTIONS), and
    # the version of each tool the workflows run with uvx (CI_TOOLS)
    actions: dict[str, str]
    ci_tools: dict[str, str]
    conflict_listing: str  # shell: lists copier's conflict markers and .rej files, one a line
    uv_image: str  # the Dockerfile's uv stage (pins/Dockerfile)
    mail_catcher_image: str  # compose.yaml's mailpit (profile `mail`), "" without e-mail
    secret_variables: tuple[str, ...]  # settings a Kubernetes Secret carries (credentials)
    # Alembic revisions present, each with the revision it follows (None for the first)
    down_revisions: dict[str, str | None]
    # The checks of /health/ready, in the order the lifespan registers them
    readiness_checks: tuple[str, ...]


def derive(answers: dict[str, Any]) -> Facts:
    auth = answers["auth"]
    database = answers["database"]
    worker = answers["worker"]
    has_worker = worker == "celery"
    broker = answers["broker"] if has_worker else ""
    has_docker = bool(answers["docker"])
    needs_redis = "redis" in (
        answers["cache"],
        answers["rate_limit"],
        answers["websockets"],
        broker,
    )
    needs_rabbitmq = broker == "rabbitmq"
    has_email = auth == "password" and answers["email"] == "smtp"
    has_admin = auth == "password" and database != "none" and bool(answers["admin"])
    services = tuple(
        name
        for name, needed in (
            ("postgresql", database == "postgresql"),
            ("redis", needs_redis),
            ("rabbitmq", needs_rabbitmq),
        )
        if needed
    )
    partial = {
        "auth": auth,
        "database": database,
        "cache": answers["cache"],
        "rate_limit": answers["rate_limit"],
        "worker": worker,
        "broker": broker,
        "websockets": answers["websockets"],
        "metrics": bool(answers["metrics"]),
        "docker": has_docker,
        "needs_redis": needs_redis,
        "email": "smtp" if has_email else "none",
        "admin": has_admin,
        "tracing": answers["tracing"],
        "error_tracking": answers["error_tracking"],
    }
    return Facts(
        has_auth=auth != "none",
        has_rbac=auth != "none" and bool(answers["rbac"]),
        has_users=auth == "password",
        has_identity_provider=auth == "jwt",
        has_database=database != "none",
        is_sqlite=database == "sqlite",
        is_postgresql=database == "postgresql",
        has_cache=answers["cache"] != "none",
        has_redis_cache=answers["cache"] == "redis",
        has_rate_limit=answers["rate_limit"] != "none",
        has_redis_rate_limit=answers["rate_limit"] == "redis",
        needs_redis_client=_needs_redis_client(partial),
        caches_items=answers["cache"] != "none" and database != "none",
        has_idempotency=_idempotency_store(partial) != "",
        idempotency_store=_idempotency_store(partial),
        idempotency_in_database=_idempotency_store(partial) == "database",
        has_worker=has_worker,
        broker=broker,
        has_websockets=answers["websockets"] != "none",
        has_redis_websockets=answers["websockets"] == "redis",
        has_metrics=bool(answers["metrics"]),
        has_docker=has_docker,
        has_kubernetes=has_docker and bool(answers["kubernetes"]),
        has_ci=answers["ci"] != "none",
        has_email=has_email,
        has_admin=has_admin,
        has_tracing=answers["tracing"] == "otlp",
        has_error_tracking=answers["error_tracking"] == "sentry",
        traces_redis=_tracing(partial) and _uses_redis_py(partial),
        tracing_ui_image=TRACING_UI_IMAGE if _tracing(partial) else "",
        min_python=MIN_PYTHON,
        needs_redis=needs_redis,
        tests_need_redis="redis"
        in (answers["cache"], answers["rate_limit"], answers["websockets"]),
        test_postgresql_server=TEST_POSTGRESQL_SERVER,
        test_redis_url=TEST_REDIS_URL,
        needs_rabbitmq=needs_rabbitmq,
        services=services,
        needs_services=bool(services),
        dependencies=_select(RUNTIME_DEPENDENCIES, partial),
        dev_dependencies=_select(DEV_DEPENDENCIES, partial),
        compose_environment=(
            service_environment(partial, services, COMPOSE_HOSTS, SQLITE_URL)
            + (MAIL_CATCHER_ENVIRONMENT if has_email else ())
            + (TRACING_ENVIRONMENT if _tracing(partial) else ())
        ),
        ci_environment=tuple(
            (TEST_VARIABLES.get(name, name), value)
            for name, value in service_environment(partial, services, LOCAL_HOSTS)
        ),
        compose_services=compose_services(partial, services),
        compose_backing=tuple(COMPOSE_HOSTS[service] for service in services),
        images={service: SERVICE_IMAGES[service] for service in services},
        actions=action_pins(),
        ci_tools=dict(CI_TOOLS),
        conflict_listing=CONFLICT_LISTING,
        uv_image=UV_IMAGE,
        mail_catcher_image=MAIL_CATCHER_IMAGE if has_email else "",
        secret_variables=secret_variables(partial, services),
        down_revisions=down_revisions(partial),
        readiness_checks=tuple(
            name
            for name, registered in (
                ("broker", has_worker),
                ("websockets", answers["websockets"] == "redis"),
                ("database", database != "none"),
                ("cache", answers["cache"] != "none"),
                ("rate_limit", answers["rate_limit"] != "none"),
            )
            if registered
        ),
    )


# --------------------------------------------------------------------------------------------
# Supply chain: the actions and tools of the generated workflows (ci=github)
# --------------------------------------------------------------------------------------------
# Every pin of a rendered project lives in pins/ at the template's root, in the formats
# Dependabot updates (the template repository's .github/dependabot.yml): pins/action.yml the
# actions, each pinned to the commit of a release with the release in the comment (a moved tag
# cannot change what runs; zizmor's unpinned-uses); pins/Dockerfile the images; pins/
# requirements.txt the tools the workflows run with `uvx` (they audit the project and are not
# its dependencies). tests/test_supply.py refuses a pin written in a template file instead.
PINS = Path(__file__).resolve().parent.parent / "pins"


def _read_pins(name: str, pattern: str) -> list[tuple[str, ...]]:
    text = (PINS / name).read_text()
    return [m.groups() for m in re.finditer(pattern, text, re.MULTILINE)]


ACTIONS: dict[str, tuple[str, str]] = {
    name: (commit, version)
    for name, commit, version in _read_pins(
        "action.yml", r"^\s+- uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$"
    )
}
IMAGES: dict[str, str] = {
    stage: image for image, stage in _read_pins("Dockerfile", r"^FROM (\S+) AS (\S+)$")
}
CI_TOOLS: dict[str, str] = dict(_read_pins("requirements.txt", r"^([\w.-]+)==(\S+)$"))
UV_IMAGE = IMAGES["uv"]  # the Dockerfile's uv stage


def action_pins() -> dict[str, str]:
    """The `uses:` value of each action: ``owner/name@<commit> # <release>``."""
    return {name: f"{name}@{commit} # {version}" for name, (commit, version) in ACTIONS.items()}


# What a `copier update` left to resolve, one line each (`path:line:marker`, `path: .rej`):
# the markers copier writes inline (`<<<<<<< before updating`, `>>>>>>> after updating`), in
# tracked and new files, and the `.rej` files of `--conflict rej`. Prints nothing when clean;
# always exits 0 (the callers decide). ci.yml's `lint` job and the template-update workflow
# run it.
CONFLICT_LISTING = (
    "{ git grep --untracked --no-color -n -I -E '^(<{7}|>{7})( |$)' -- . || true;"
    " find . -name '*.rej' -not -path './.git/*' -printf '%P: rejected hunks (.rej)\\n'; }"
)


# --------------------------------------------------------------------------------------------
# Deployment: the services of compose.yaml, Kubernetes and CI, and the variables that reach them
# --------------------------------------------------------------------------------------------
# Images of the backing services (pins/Dockerfile; compose and CI use the same ones).
SERVICE_IMAGES = {service: IMAGES[service] for service in ("postgresql", "redis", "rabbitmq")}
COMPOSE_HOSTS = {"postgresql": "postgres", "redis": "redis", "rabbitmq": "rabbitmq"}
LOCAL_HOSTS = {"postgresql": "127.0.0.1", "redis": "127.0.0.1", "rabbitmq": "127.0.0.1"}
# Local-only credentials of the service containers; real deployments take theirs from secrets.
POSTGRES_USER = POSTGRES_PASSWORD = "postgres"
POSTGRES_DB = "app"
SQLITE_URL = "sqlite+aiosqlite:////data/app.db"  # on the compose volume mounted at /data
# email=smtp: compose.yaml's mail catcher (profile `mail`) catches every message in development;
# its web UI shows them on http://127.0.0.1:8025 (pins/Dockerfile).
MAIL_CATCHER_IMAGE = IMAGES["mail-catcher"]
# tracing=otlp: Jaeger, a trace UI that takes OTLP/HTTP on 4318 (UI on 16686): compose.yaml's
# `jaeger` service (profile `observability`) and the README's `docker run` (pins/Dockerfile).
TRACING_UI_IMAGE = IMAGES["tracing-ui"]
# compose.yaml's tracing endpoint, from the shell: unset, no export; http://jaeger:4318 with
# the profile `observability`. (The service name defaults to the slug in tracing.py.)
TRACING_ENVIRONMENT = (("OTEL_EXPORTER_OTLP_ENDPOINT", "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"),)
MAIL_CATCHER_ENVIRONMENT = (("SMTP_HOST", "mailpit"), ("SMTP_PORT", "1025"))
# The rendered tests take their services from these (tests/services.py), not from the service's
# own variables.
TEST_VARIABLES = {"DATABASE_URL": "TEST_DATABASE_URL", "REDIS_URL": "TEST_REDIS_URL"}


def service_environment(
    answers: dict[str, Any],
    services: tuple[str, ...],
    hosts: dict[str, str],
    sqlite_url: str | None = None,
) -> tuple[tuple[str, str], ...]:
    """The settings that connect the app (and its worker) to its services on ``hosts``.

    ``sqlite_url`` is where a SQLite database lives (the compose volume); CI leaves it out, as
    the tests make their own databases.
    """
    env: list[tuple[str, str]] = []
    if "postgresql" in services:
        env.append(
            (
                "DATABASE_URL",
                (
                    f"postgresql+asyncpg://{POSTGRES_USER}:{POSTGRES_PASSWORD}"
                    f"@{hosts['postgresql']}:5432/{POSTGRES_DB}"
                ),
            )
        )
    elif answers["database"] == "sqlite" and sqlite_url is not None:
        env.append(("DATABASE_URL", sqlite_url))
    if answers["needs_redis"]:
        env.append(("REDIS_URL", f"redis://{hosts['redis']}:6379/0"))
    if answers["broker"] == "redis":
        env.append(("CELERY_BROKER_URL", f"redis://{hosts['redis']}:6379/1"))
        env.append(("CELERY_RESULT_BACKEND", f"redis://{hosts['redis']}:6379/2"))
    elif answers["broker"] == "rabbitmq":
        env.append(("CELERY_BROKER_URL", f"amqp://guest:guest@{hosts['rabbitmq']}:5672//"))
        env.append(("CELERY_RESULT_BACKEND", "rpc://"))
    return tuple(env)


def secret_variables(answers: dict[str, Any], services: tuple[str, ...]) -> tuple[str, ...]:
    """Variables that hold credentials: service URLs, and the signing key of password auth."""
    names = [name for name, _ in service_environment(answers, services, LOCAL_HOSTS, SQLITE_URL)]
    if answers["auth"] == "password":
        names.append("SECRET_KEY")
    if answers["email"] != "none":
        names.append("SMTP_PASSWORD")
    return tuple(names)


def compose_services(answers: dict[str, Any], services: tuple[str, ...]) -> tuple[str, ...]:
    """``app``, then ``migrate`` with a database, ``worker`` and ``beat`` with Celery, then the
    services, then ``mailpit`` with e-mail and ``jaeger`` with tracing (each under a profile: not
    a service the app waits for)."""
    names = ["app"]
    if answers["database"] != "none":
        names.append("migrate")
    if answers["worker"] == "celery":
        names.extend(("worker", "beat"))
    names.extend(COMPOSE_HOSTS[service] for service in services)
    if answers["email"] != "none":
        names.append("mailpit")
    if answers["tracing"] == "otlp":
        names.append("jaeger")
    return tuple(names)


# --------------------------------------------------------------------------------------------
# Dependencies: (requirement, condition over the effective answers). Lower bounds are the
# releases current when the module was written; tests/test_facts.py checks that the template's
# shared test environment installs every one of them.
# --------------------------------------------------------------------------------------------
def _always(_: dict[str, Any]) -> bool:
    return True


def _has_auth(answers: dict[str, Any]) -> bool:
    return bool(answers["auth"] != "none")


def _auth_is(value: str) -> Any:
    return lambda answers: answers["auth"] == value


def _sqlite(answers: dict[str, Any]) -> bool:
    return bool(answers["database"] == "sqlite")


def _postgresql(answers: dict[str, Any]) -> bool:
    return bool(answers["database"] == "postgresql")


def _database(answers: dict[str, Any]) -> bool:
    return bool(answers["database"] != "none")


def _docker(answers: dict[str, Any]) -> bool:
    return bool(answers["docker"])


def _metrics(answers: dict[str, Any]) -> bool:
    return bool(answers["metrics"])


def _email(answers: dict[str, Any]) -> bool:
    return bool(answers["email"] != "none")


def _admin(answers: dict[str, Any]) -> bool:
    return bool(answers["admin"])


def _tracing(answers: dict[str, Any]) -> bool:
    return bool(answers["tracing"] == "otlp")


def _error_tracking(answers: dict[str, Any]) -> bool:
    return bool(answers["error_tracking"] == "sentry")


def _uses_redis_py(answers: dict[str, Any]) -> bool:
    """redis-py is imported by the cache, the limiter or the WebSocket hub."""
    return "redis" in (answers["cache"], answers["rate_limit"], answers["websockets"])


def _needs_redis_client(answers: dict[str, Any]) -> bool:
    """redis-py is used by the Redis cache or limiter (and their tests' clean-up)."""
    return "redis" in (answers["cache"], answers["rate_limit"])


def _idempotency_store(answers: dict[str, Any]) -> str:
    """Where the Idempotency-Key records live ("" where neither POST route exists).

    Redis where the project has its Redis client, else the database, both shared by every
    process; a project with neither (a job queue alone) keeps them in the API process's memory:
    the contract gives POST /api/v1/jobs the header. On RabbitMQ its `rpc://` job results
    already answer only the process that sent the job; on either broker a retry that reaches
    another API process runs again, which its docs say, with the remedy (a Redis cache or rate
    limit, or a database, moves the keys there).
    """
    if answers["database"] == "none" and answers["worker"] != "celery":
        return ""  # neither POST /api/v1/items nor POST /api/v1/jobs
    if _needs_redis_client(answers):
        return "redis"
    if _database(answers):
        return "database"
    return "memory"


RUNTIME_DEPENDENCIES: tuple[tuple[str, Any], ...] = (
    # Depends(..., scope="function") closes the session before the response is sent;
    # fastapi.routing.iter_route_contexts gives the metrics their route templates.
    ("fastapi>=0.165", _always),
    ("fastapi-offline>=1.7", _always),
    ("httpx>=0.28", _auth_is("jwt")),  # fetches the identity provider's JWKS
    ("pwdlib[argon2]>=0.3", _auth_is("password")),
    # `crypto` (cryptography, 16 MB) verifies RS256 tokens of an identity provider; password
    # mode signs and verifies HS256 with SECRET_KEY, which PyJWT does on its own.
    ("pyjwt>=2.10", _auth_is("password")),
    ("pyjwt[crypto]>=2.10", _auth_is("jwt")),
    ("python-multipart>=0.0.20", _auth_is("password")),  # the OAuth2 password form
    ("gunicorn>=25.1", _docker),
    ("prometheus-client>=0.23", _metrics),
    ("uvicorn-worker>=0.4", _docker),
    ("pydantic[email]>=2.12", _always),
    ("pydantic-settings>=2.12", _always),
    ("structlog>=25.5", _always),
    ("orjson>=3.10", _always),  # the JSON log renderer: a third of each access log line's cost
    # uvicorn with its C event loop and HTTP parser, not uvicorn[standard]: the servers never use
    # its watchfiles (--reload, a dev dependency), PyYAML (YAML log configs) or python-dotenv.
    ("uvicorn>=0.38", _always),
    ("uvloop>=0.21; sys_platform != 'win32'", _always),
    ("httptools>=0.6", _always),
    # uvicorn's WebSocket implementation (and the tests' client across server processes).
    ("websockets>=15.0", lambda a: a["websockets"] != "none"),
    ("celery[redis]>=5.5", lambda a: a["broker"] == "redis"),
    ("celery>=5.5", lambda a: a["broker"] == "rabbitmq"),
    # Structured concurrency for each connection's send and receive tasks (Starlette's own).
    ("anyio>=4.6", lambda a: a["websockets"] != "none"),
    ("sqlalchemy[asyncio]>=2.0.44", _database),
    ("alembic>=1.17", _database),
    ("aiosqlite>=0.21", _sqlite),
    ("asyncpg>=0.30", _postgresql),
    ("limits>=5.6", lambda a: a["rate_limit"] != "none"),
    ("cashews>=7.4", lambda a: a["cache"] == "memory"),
    # redis-py, imported by the cache, the limiter and the WebSocket hub (Celery reaches Redis
    # through celery[redis]); hiredis parses its replies in C (4 % of a cached read).
    ("redis[hiredis]>=6.4", lambda a: "redis" in (a["cache"], a["rate_limit"], a["websockets"])),
    # Imported by redis_client.py: the cache's and the limiter's connections pack commands with
    # it (5 % of a cached read).
    ("hiredis>=3.2", _needs_redis_client),
    # The account e-mails' SMTP client: asyncio-native (no thread per message), STARTTLS/TLS,
    # AUTH, a timeout per command.
    ("aiosmtplib>=5.1", _email),
    # The back office at /admin: SQLAdmin (its WTForms, Jinja2 and static assets come with it);
    # itsdangerous signs the session cookie of Starlette's SessionMiddleware.
    ("sqladmin>=0.32", _admin),
    ("itsdangerous>=2.2", _admin),
    # tracing=otlp: the OpenTelemetry SDK and its OTLP/HTTP (protobuf) exporter; FastAPI makes
    # the server spans itself. One instrumentation per library the service talks through.
    ("opentelemetry-sdk>=1.45", _tracing),
    ("opentelemetry-exporter-otlp-proto-http>=1.45", _tracing),
    # httpx is a runtime dependency of auth=jwt only (the JWKS client).
    ("opentelemetry-instrumentation-httpx>=0.66b2", lambda a: _tracing(a) and a["auth"] == "jwt"),
    ("opentelemetry-instrumentation-sqlalchemy>=0.66b2", lambda a: _tracing(a) and _database(a)),
    ("opentelemetry-instrumentation-redis>=0.66b2", lambda a: _tracing(a) and _uses_redis_py(a)),
    (
        "opentelemetry-instrumentation-celery>=0.66b2",
        lambda a: _tracing(a) and a["worker"] == "celery",
    ),
    # error_tracking=sentry: the Sentry SDK (its FastAPI and Starlette integrations included).
    ("sentry-sdk>=3.0", _error_tracking),
)

DEV_DEPENDENCIES: tuple[tuple[str, Any], ...] = (
    ("cryptography>=44", _has_auth),  # RSA keys for the token tests
    ("httpx>=0.28", _always),
    ("mypy>=1.18", _always),
    ("pre-commit>=4.3", _always),
    ("pytest>=8.4", _always),
    ("pytest-asyncio>=1.2", _always),
    # `make test` runs the tests in a process per core (`pytest -n auto`).
    ("pytest-xdist>=3.8", _always),
    ("ruff>=0.14", _always),
    ("celery-types>=0.23", lambda a: a["worker"] == "celery"),
    # `make run` and `serve --reload` restart on changes with it (uvicorn polls without it).
    ("watchfiles>=1.0", _always),
    # Starlette's TestClient (the in-process WebSocket tests) speaks httpx2; with httpx it warns
    # StarletteDeprecationWarning, an error under the tests' filterwarnings.
    ("httpx2>=2.16", lambda a: a["websockets"] != "none"),
    # The rendered tests run on SQLite and on PostgreSQL whichever the project chose.
    ("aiosqlite>=0.21", _postgresql),
    ("asyncpg>=0.30", _sqlite),
    # A real SMTP server on 127.0.0.1 for the account e-mail tests (and `python -m aiosmtpd`
    # prints every message in development).
    ("aiosmtpd>=1.4.6", _email),
    # Property-based tests of the list cursors (walks under concurrent inserts and deletes).
    ("hypothesis>=6.140", _database),
    # The admin's model views declare WTForms fields; WTForms ships no type hints of its own.
    ("types-wtforms>=3.2", _admin),
)


# --------------------------------------------------------------------------------------------
# Migrations: the Alembic revisions of a rendered project, oldest first, each with the condition
# under which its module (and so the revision file) exists. A revision follows the latest one
# before it that exists, so a module's revision is rendered only with the module and the chain
# stays linear for every answer set. A module that changes the schema adds its row at the end
# and writes `down_revision = {{ down_revisions["<id>"] | python }}` in its revision file.
# --------------------------------------------------------------------------------------------
MIGRATIONS: tuple[tuple[str, Any], ...] = (
    ("0001", _database),
    ("0002", _database),  # list indexes: items (owner_id, id), the trigram name search
    ("0003", _email),  # account tokens, users.email_verified_at
    ("0004", lambda a: _idempotency_store(a) == "database"),  # idempotency_keys
)


def down_revisions(answers: dict[str, Any]) -> dict[str, str | None]:
    present = [revision for revision, condition in MIGRATIONS if condition(answers)]
    return dict(zip(present, [None, *present], strict=False))


def _select(table: tuple[tuple[str, Any], ...], answers: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(req for req, condition in table if condition(answers)))


def python_literal(value: Any) -> str:
    """A Python literal as ruff format writes it: ``None``, ``"text"``, ``3``."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def requirement_name(requirement: str) -> str:
    """``"uvicorn[standard]>=0.38"`` -> ``"uvicorn"``; ``"uvloop>=0.21; sys_platform != 'win32'"``
    -> ``"uvloop"``."""
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower()


# --------------------------------------------------------------------------------------------
# Jinja glue
# --------------------------------------------------------------------------------------------
def refusals_as_user_errors() -> None:
    """Make copier refuse an answer given with ``--data``/``--data-file`` in one line.

    copier 9 raises a bare ``ValueError`` when such an answer fails its validator or picks a
    disabled choice, and its command line prints that as a traceback. Re-raised as copier's own
    ``UserMessageError`` (also a ``ValueError``, so the interactive prompt, which shows the
    message under the question and asks again, is unchanged), the command line prints the
    message alone and exits 1. Applied once per process; without copier's internals (another
    copier version) the refusal still happens, with copier's traceback
    (tests/test_validators.py fails then).
    """
    try:
        from copier._user_data import Question
        from copier.errors import UserMessageError
    except ImportError:  # pragma: no cover - another copier layout
        return
    if getattr(Question, "_refusals_as_user_errors", False):
        return

    class AnswerRefused(UserMessageError, ValueError):
        """A refused answer: copier's command line prints the message alone."""

    def refusing(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except AnswerRefused:
                raise
            except ValueError as error:
                raise AnswerRefused(str(error)) from None

        return wrapper

    Question.parse_answer = refusing(Question.parse_answer)  # type: ignore[method-assign]
    Question.validate_answer = refusing(Question.validate_answer)  # type: ignore[method-assign]
    Question._refusals_as_user_errors = True  # type: ignore[attr-defined]


class FactsExtension(Extension):
    """Filters for question defaults and globals for validators."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        refusals_as_user_errors()
        environment.filters["kebab"] = kebab
        environment.filters["snake"] = snake
        environment.filters["python"] = python_literal
        environment.globals.update(
            text_error=text_error,
            slug_error=slug_error,
            package_name_error=package_name_error,
            email_error=email_error,
            combination_error=combination_error,
            unsupported_error=unsupported_error,
        )


class FactsHook(ContextHook):
    """Adds the derived facts to the render context once every question is answered."""

    def hook(self, context: dict[str, Any]) -> None:
        if all(key in context for key in DERIVED_FROM):
            context.update(facts_context(tuple(context[key] for key in DERIVED_FROM)))


@functools.lru_cache(maxsize=64)
def facts_context(answers: tuple[Any, ...]) -> dict[str, Any]:
    """The facts as context entries, for answers given in DERIVED_FROM's order.

    Copier makes a new Jinja context for every path part and file it renders, a thousand per
    project: deriving the facts once per answer set keeps the hook off a render's profile.
    The caller only reads the dict (context.update copies the entries).
    """
    return asdict(derive(dict(zip(DERIVED_FROM, answers, strict=True))))
