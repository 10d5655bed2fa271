"""The one source of truth for the answer sets the template's tests render.

Every test that renders takes its answers from here. A set names only what differs from the
contract defaults; `answers(name)` fills in the rest.
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.paths import ROOT

COPIER_YML = yaml.safe_load((ROOT / "copier.yml").read_text())
QUESTIONS = {key: spec for key, spec in COPIER_YML.items() if not key.startswith("_")}

# The presets users pass with `copier copy --data-file presets/<name>.yml`; each is a tested set.
PRESETS: dict[str, dict[str, Any]] = {
    path.stem: yaml.safe_load(path.read_text()) for path in sorted((ROOT / "presets").glob("*.yml"))
}

# Everything off: the smallest project the template renders (presets/minimal.yml).
MINIMAL: dict[str, Any] = {**PRESETS["minimal"], "kubernetes": False}

ANSWER_SETS: dict[str, dict[str, Any]] = {
    "minimal": MINIMAL,
    "preset-defaults": PRESETS["defaults"],
    "preset-single-node-production": PRESETS["single-node-production"],
    "preset-everything": PRESETS["everything"],
    "minimal-py311": {**MINIMAL, "python_version": "3.11"},
    "minimal-py313-named": {
        **MINIMAL,
        "python_version": "3.13",
        "project_name": "Billing API",
        "project_slug": "billing-api-for-every-customer-of-a-shop",
        "package_name": "billing_api_for_every_customer_of_a_shop",
        "description": "Invoices and payments for every customer of the shop, with a "
        "description long enough to wrap over more than one line of the package docstring.",
    },
    # auth=jwt: a resource server verifying tokens of an identity provider
    "jwt": {**MINIMAL, "auth": "jwt"},
    "jwt-norbac": {**MINIMAL, "auth": "jwt", "rbac": False},
    "celery-redis": {**MINIMAL, "worker": "celery", "broker": "redis"},
    "celery-rabbitmq": {**MINIMAL, "worker": "celery", "broker": "rabbitmq"},
    "ws-memory": {**MINIMAL, "websockets": "memory"},
    "ws-redis": {**MINIMAL, "websockets": "redis"},
    # the worker and the rooms beside the database: wiring points shared by three modules
    "sqlite-celery-ws": {
        **MINIMAL,
        "database": "sqlite",
        "worker": "celery",
        "broker": "redis",
        "websockets": "redis",
    },
    "sqlite": {**MINIMAL, "database": "sqlite"},
    "postgresql": {
        **MINIMAL,
        "database": "postgresql",
        # A package name that sorts after "tests": import order must not depend on the name.
        "project_name": "Warehouse",
        "package_name": "warehouse",
    },
    "jwt-sqlite": {**MINIMAL, "auth": "jwt", "database": "sqlite"},
    # auth=password: users in the database, access and refresh tokens
    "password-sqlite": {**MINIMAL, "auth": "password", "database": "sqlite"},
    "password-postgresql": {
        **MINIMAL,
        "auth": "password",
        "database": "postgresql",
        "project_name": "Accounts",
        "package_name": "accounts",
    },
    "password-sqlite-norbac": {
        **MINIMAL,
        "auth": "password",
        "rbac": False,
        "database": "sqlite",
    },
    # email=smtp: account e-mails, sent from a BackgroundTask or by the Celery worker
    "email-sqlite": {
        **MINIMAL,
        "auth": "password",
        "database": "sqlite",
        "rate_limit": "memory",
        "email": "smtp",
    },
    "email-norbac-docker": {
        **MINIMAL,
        "auth": "password",
        "rbac": False,
        "database": "sqlite",
        "email": "smtp",
        "docker": True,
        "kubernetes": True,
    },
    "email-postgresql-celery": {
        **MINIMAL,
        "auth": "password",
        "database": "postgresql",
        "rate_limit": "redis",
        "worker": "celery",
        "broker": "redis",
        "email": "smtp",
        "project_name": "Mailroom",
        "package_name": "mailroom",
    },
    # admin=true: the back office at /admin (users and items), on SQLite and on PostgreSQL
    "admin-sqlite": {**MINIMAL, "auth": "password", "database": "sqlite", "admin": True},
    "admin-postgresql-norbac": {
        **MINIMAL,
        "auth": "password",
        "rbac": False,
        "database": "postgresql",
        "rate_limit": "memory",
        "admin": True,
        "project_name": "Backoffice",
        "package_name": "backoffice",
    },
    "cache-memory": {**MINIMAL, "cache": "memory"},
    "cache-redis": {**MINIMAL, "cache": "redis"},
    "cache-memory-sqlite": {**MINIMAL, "cache": "memory", "database": "sqlite"},
    "cache-redis-sqlite": {
        **MINIMAL,
        "cache": "redis",
        "rate_limit": "redis",
        "database": "sqlite",
    },
    "ratelimit-memory": {**MINIMAL, "rate_limit": "memory"},
    "ratelimit-redis": {**MINIMAL, "rate_limit": "redis"},
    # tracing=otlp: one trace from the API through SQLAlchemy, Redis and the Celery worker
    # (tests/test_tracing.py), on both brokers and both databases; alone, beside nothing.
    "tracing-sqlite-celery-redis": {
        **MINIMAL,
        "auth": "password",
        "database": "sqlite",
        "cache": "redis",
        "rate_limit": "redis",
        "worker": "celery",
        "broker": "redis",
        "tracing": "otlp",
    },
    "tracing-everything": {
        **PRESETS["everything"],
        "tracing": "otlp",
        "error_tracking": "sentry",
        "project_name": "Traced",
        "package_name": "traced",
    },
    "tracing-minimal": {**MINIMAL, "tracing": "otlp"},
    "tracing-jwt-ws-memory": {
        **MINIMAL,
        "auth": "jwt",
        "websockets": "memory",
        "cache": "memory",
        "tracing": "otlp",
    },
    # error_tracking=sentry: 5xx reported to a DSN on 127.0.0.1 (tests/test_error_tracking.py)
    "sentry-sqlite": {**MINIMAL, "database": "sqlite", "error_tracking": "sentry"},
    # ... and a failed job reported by the Celery worker (Redis broker; RabbitMQ: everything-on)
    "sentry-celery-redis": {
        **MINIMAL,
        "worker": "celery",
        "broker": "redis",
        "error_tracking": "sentry",
    },
    # Deployment: every deployment answer on, other modules off.
    "deploy-all": {
        **MINIMAL,
        "python_version": "3.13",
        "docker": True,
        "kubernetes": True,
        "ci": "github",
        "metrics": True,
    },
    # Docker and compose without Kubernetes, CI or metrics.
    "docker-only": {**MINIMAL, "python_version": "3.11", "docker": True},
    # Every deployment answer with PostgreSQL: migration step, service containers, metrics of
    # a route with a path parameter.
    "deploy-postgresql": {
        **MINIMAL,
        "database": "postgresql",
        "docker": True,
        "kubernetes": True,
        "ci": "github",
        "metrics": True,
    },
    # Docker with SQLite: the migration step and the data volume of compose.yaml.
    "docker-sqlite": {**MINIMAL, "database": "sqlite", "docker": True},
    # The images that tests/test_docker.py builds and runs (`make test-docker`), on the Python
    # versions a Debian suite ships (its base images are made from Debian: bookworm 3.11, trixie
    # 3.13): the defaults on SQLite, everything on PostgreSQL with Celery on RabbitMQ, Celery on
    # Redis beside SQLite, a resource server (jwt) with nothing else, and the smallest image
    # (docker-only above).
    "docker-defaults": {**PRESETS["defaults"], "python_version": "3.13"},
    "docker-everything": {**PRESETS["everything"], "python_version": "3.11"},
    "docker-celery-redis": {
        **PRESETS["defaults"],
        "worker": "celery",
        "broker": "redis",
        "python_version": "3.11",
    },
    "docker-jwt": {**MINIMAL, "auth": "jwt", "docker": True, "python_version": "3.13"},
}

# The answer sets whose images `make test-docker` builds and proves (tests/test_docker.py).
DOCKER_SETS = [
    "docker-defaults",
    "docker-everything",
    "docker-celery-redis",
    "docker-jwt",
    "docker-only",
]


# Sets that also get the expensive checks in tests/test_render_deep.py (every set gets the cheap
# ones in tests/test_render.py; the matrix tiers cover the combinations).
DEEP_SETS = [
    "preset-minimal" if "preset-minimal" in ANSWER_SETS else "minimal",
    "preset-defaults",
    "preset-single-node-production",
    "preset-everything",
    "minimal-py313-named",
]


def answers(name: str) -> dict[str, Any]:
    return dict(ANSWER_SETS[name])


def effective(name: str) -> dict[str, Any]:
    """The full answer set as the render context sees it: defaults filled in."""
    return with_defaults(ANSWER_SETS[name])


def with_defaults(given: dict[str, Any]) -> dict[str, Any]:
    """`given`, with the default of every question it does not answer (in copier.yml's order)."""
    from tests.facts import render_default

    result: dict[str, Any] = {}
    for key, spec in QUESTIONS.items():
        result[key] = given[key] if key in given else render_default(spec["default"], result)
    return result
