"""Unit tests of extensions/facts.py: derived facts, validator messages, filters."""

from __future__ import annotations

import importlib.metadata
import itertools
import tomllib
from typing import Any

import pytest

from tests.answers import MINIMAL, QUESTIONS
from tests.facts import facts
from tests.paths import ROOT

DEFAULTS: dict[str, Any] = {
    key: spec["default"] for key, spec in QUESTIONS.items() if "{{" not in str(spec["default"])
}


def derive(**overrides: Any) -> Any:
    return facts.derive({**DEFAULTS, **MINIMAL, **overrides})


def test_facts_derive_from_questions_of_copier_yml() -> None:
    assert set(facts.DERIVED_FROM) <= set(QUESTIONS)


def test_supported_table_covers_every_choice_question() -> None:
    assert set(facts.SUPPORTED) <= set(QUESTIONS)
    for key, values in facts.SUPPORTED.items():
        allowed = QUESTIONS[key].get("choices", [True, False])
        assert set(values) <= set(allowed), key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My Service", "my-service"),
        ("  Billing API v2 ", "billing-api-v2"),
        ("42 Things!", "things"),
    ],
)
def test_kebab(text: str, expected: str) -> None:
    assert facts.kebab(text) == expected


def test_snake() -> None:
    assert facts.snake("billing-api-v2") == "billing_api_v2"


@pytest.mark.parametrize(
    ("overrides", "checks"),
    [
        ({}, ()),
        ({"database": "sqlite", "cache": "memory"}, ("database", "cache")),
        ({"websockets": "memory"}, ()),
        (
            {"worker": "celery", "broker": "redis", "websockets": "redis", "rate_limit": "redis"},
            ("broker", "websockets", "rate_limit"),
        ),
    ],
)
def test_readiness_checks(overrides: dict[str, Any], checks: tuple[str, ...]) -> None:
    assert derive(**overrides).readiness_checks == checks


@pytest.mark.parametrize(
    ("overrides", "services"),
    [
        ({}, ()),
        ({"database": "postgresql"}, ("postgresql",)),
        ({"cache": "redis"}, ("redis",)),
        ({"rate_limit": "redis"}, ("redis",)),
        ({"websockets": "redis"}, ("redis",)),
        ({"worker": "celery", "broker": "redis"}, ("redis",)),
        ({"worker": "celery", "broker": "rabbitmq"}, ("rabbitmq",)),
        # A broker answer without a worker is hidden by `when` but still in the context.
        ({"worker": "none", "broker": "rabbitmq"}, ()),
        (
            {"database": "postgresql", "cache": "redis", "worker": "celery", "broker": "rabbitmq"},
            ("postgresql", "redis", "rabbitmq"),
        ),
    ],
)
def test_services(overrides: dict[str, Any], services: tuple[str, ...]) -> None:
    derived = derive(**overrides)
    assert derived.services == services
    assert derived.needs_services == bool(services)
    assert derived.needs_redis == ("redis" in services)
    assert derived.needs_rabbitmq == ("rabbitmq" in services)


def test_hidden_answers_do_not_switch_modules_on() -> None:
    derived = derive(auth="none", rbac=True, docker=False, kubernetes=True)
    assert not derived.has_rbac
    assert not derived.has_kubernetes
    assert derived.broker == ""


def test_effective_module_flags() -> None:
    derived = derive(auth="password", rbac=True, database="sqlite", docker=True, kubernetes=True)
    assert derived.has_auth and derived.has_rbac and derived.has_users
    assert not derived.has_identity_provider
    jwt = derive(auth="jwt", rbac=False)
    assert jwt.has_auth and jwt.has_identity_provider and not jwt.has_users and not jwt.has_rbac
    assert derived.has_database and derived.is_sqlite and not derived.is_postgresql
    assert derived.has_kubernetes


def test_base_dependencies() -> None:
    names = {facts.requirement_name(r) for r in derive().dependencies}
    assert names == {
        "fastapi",
        "fastapi-offline",
        "orjson",
        "pydantic",
        "pydantic-settings",
        "structlog",
        "uvicorn",
        "uvloop",
        "httptools",
    }
    # uvicorn[standard] would bring watchfiles (reload only) into every image.
    assert "watchfiles" in {facts.requirement_name(r) for r in derive().dev_dependencies}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"rate_limit": "memory"}, {"limits"}),
        ({"cache": "memory"}, {"cashews"}),
        ({"rate_limit": "redis"}, {"limits", "redis", "hiredis"}),
        ({"cache": "redis", "rate_limit": "memory"}, {"limits", "redis", "hiredis"}),
    ],
)
def test_cache_and_rate_limit_dependencies(overrides: dict[str, Any], expected: set[str]) -> None:
    names = {facts.requirement_name(r) for r in derive(**overrides).dependencies}
    base = {facts.requirement_name(r) for r in derive().dependencies}
    assert names - base >= expected
    assert ("redis" in names) == ("redis" in (overrides.get("rate_limit"), overrides.get("cache")))
    # hiredis is imported by redis_client.py, which exists where the cache or limiter is Redis's.
    assert ("hiredis" in names) == derive(**overrides).needs_redis_client
    # cashews is the memory backend only: the Redis cache speaks redis-py itself.
    assert ("cashews" in names) == (overrides.get("cache") == "memory")


def test_what_the_tests_need() -> None:
    """The rendered tests need Redis for the Redis cache, limiter and rooms, not for Celery's
    broker (they run Celery in memory); their default services are the local ones."""
    assert not derive().tests_need_redis
    assert not derive(worker="celery", broker="redis").tests_need_redis
    assert derive(worker="celery", broker="redis").needs_redis
    for key in ("cache", "rate_limit", "websockets"):
        assert derive(**{key: "redis"}).tests_need_redis, key
    assert derive().test_redis_url == "redis://127.0.0.1:6379/15"
    assert derive().min_python == "3.11"


def test_redis_backend_facts() -> None:
    derived = derive(cache="redis", rate_limit="memory")
    assert derived.has_cache and derived.has_redis_cache
    assert derived.has_rate_limit and not derived.has_redis_rate_limit
    assert derived.needs_redis_client
    derived = derive(cache="none", rate_limit="redis")
    assert not derived.has_cache and not derived.has_redis_cache
    assert derived.has_redis_rate_limit and derived.needs_redis_client
    assert not derive(cache="memory", rate_limit="memory").needs_redis_client
    assert derive(cache="memory", database="sqlite").caches_items
    assert not derive(cache="memory", database="none").caches_items
    assert not derive(cache="none", database="sqlite").caches_items


@pytest.mark.parametrize(
    ("overrides", "store"),
    [
        ({"database": "sqlite"}, "database"),
        ({"database": "postgresql", "cache": "memory", "rate_limit": "memory"}, "database"),
        ({"database": "sqlite", "cache": "redis"}, "redis"),
        ({"database": "postgresql", "rate_limit": "redis"}, "redis"),
        ({"worker": "celery", "broker": "redis", "cache": "redis"}, "redis"),
        # Redis for the WebSockets or the broker only: no Redis client of the project's own
        ({"worker": "celery", "broker": "redis", "database": "sqlite"}, "database"),
        # a job queue alone, no shared store: the API process's memory
        ({"worker": "celery", "broker": "rabbitmq"}, "memory"),
        ({"worker": "celery", "broker": "redis", "websockets": "redis"}, "memory"),
        # neither POST route exists
        ({"cache": "redis"}, ""),
        ({}, ""),
    ],
)
def test_idempotency_store(overrides: dict[str, Any], store: str) -> None:
    derived = derive(**overrides)
    assert derived.idempotency_store == store
    assert derived.has_idempotency == (store != "")
    assert derived.idempotency_in_database == (store == "database")
    assert ("0004" in derived.down_revisions) == (store == "database")


@pytest.mark.parametrize(
    ("overrides", "runtime", "dev"),
    [
        ({"worker": "celery", "broker": "redis"}, {"celery[redis]>=5.5"}, {"celery-types>=0.23"}),
        ({"worker": "celery", "broker": "rabbitmq"}, {"celery>=5.5"}, {"celery-types>=0.23"}),
        # broker hidden by `when`: no Celery at all
        ({"worker": "none", "broker": "redis"}, set(), set()),
        # uvicorn serves WebSockets with the websockets package: a runtime dependency
        ({"websockets": "memory"}, {"anyio>=4.6", "websockets>=15.0"}, {"httpx2>=2.16"}),
        (
            {"websockets": "redis"},
            {"anyio>=4.6", "redis[hiredis]>=6.4", "websockets>=15.0"},
            {"httpx2>=2.16"},
        ),
    ],
)
def test_worker_and_websockets_dependencies(
    overrides: dict[str, Any], runtime: set[str], dev: set[str]
) -> None:
    base, derived = derive(), derive(**overrides)
    assert set(derived.dependencies) - set(base.dependencies) == runtime
    assert set(derived.dev_dependencies) - set(base.dev_dependencies) == dev


def test_websockets_facts() -> None:
    assert not derive().has_websockets
    memory, redis = derive(websockets="memory"), derive(websockets="redis")
    assert memory.has_websockets and not memory.has_redis_websockets
    assert redis.has_websockets and redis.has_redis_websockets and redis.needs_redis


def _all_requirements() -> set[str]:
    tables = (facts.RUNTIME_DEPENDENCIES, facts.DEV_DEPENDENCIES)
    return {req for table in tables for req, _ in table}


@pytest.mark.parametrize("requirement", sorted(_all_requirements()))
def test_union_environment_covers_every_dependency(requirement: str) -> None:
    """The shared test virtualenv installs every dependency any rendered project declares."""
    name = facts.requirement_name(requirement)
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    listed = {facts.requirement_name(r) for group in groups.values() for r in group}
    assert name in listed
    importlib.metadata.version(name)


@pytest.mark.parametrize(
    ("auth", "runtime", "dev"),
    [
        ("none", set(), set()),
        ("jwt", {"pyjwt", "httpx"}, {"cryptography"}),
        ("password", {"pyjwt", "pwdlib", "python-multipart"}, {"cryptography"}),
    ],
)
def test_auth_dependencies(auth: str, runtime: set[str], dev: set[str]) -> None:
    database = "sqlite" if auth == "password" else "none"
    base = derive(database=database)
    derived = derive(auth=auth, database=database)

    def names(requirements: tuple[str, ...]) -> set[str]:
        return {facts.requirement_name(r) for r in requirements}

    assert names(derived.dependencies) - names(base.dependencies) == runtime
    assert names(derived.dev_dependencies) - names(base.dev_dependencies) == dev


def test_dependency_lists_are_sorted_and_unique() -> None:
    for combo in itertools.product(["none", "sqlite", "postgresql"], ["none", "memory", "redis"]):
        deps = derive(database=combo[0], cache=combo[1]).dependencies
        assert list(deps) == sorted(set(deps))


class TestValidatorMessages:
    def test_slug(self) -> None:
        assert facts.slug_error("my-service") == ""
        for bad in ("My Service", "1service", "service-", "a--b", "x" * 41):
            assert "project_slug" in facts.slug_error(bad)

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("class", "keyword"),
            ("match", "keyword"),
            ("json", "standard library"),
            ("logging", "standard library"),
            ("fastapi", "dependency"),
            ("sqlalchemy", "dependency"),
            ("My-Pkg", "not a valid Python package name"),
            ("1pkg", "not a valid Python package name"),
        ],
    )
    def test_package_name(self, name: str, reason: str) -> None:
        assert reason in facts.package_name_error(name)

    def test_package_name_accepts_a_plain_name(self) -> None:
        assert facts.package_name_error("billing") == ""

    def test_email(self) -> None:
        assert facts.email_error("ada@example.com") == ""
        assert "author_email" in facts.email_error("ada@")
        assert "author_email" in facts.email_error("not an email")

    def test_text(self) -> None:
        assert facts.text_error("project_name", "Billing") == ""
        assert "empty" in facts.text_error("project_name", "  ")
        assert "50" in facts.text_error("project_name", "x" * 51)
        assert "one line" in facts.text_error("description", 'say "hi"')

    def test_combinations(self) -> None:
        assert "database=sqlite" in facts.combination_error("database", "none", auth="password")
        assert facts.combination_error("database", "none", auth="jwt") == ""
        assert "docker=true" in facts.combination_error("kubernetes", True, docker=False)
        assert facts.combination_error("kubernetes", True, docker=True) == ""
        assert "worker=celery" in facts.combination_error("broker", "redis", worker="none")

    def test_unsupported(self) -> None:
        for key, values in facts.SUPPORTED.items():
            for value in values:
                assert facts.unsupported_error(key, value) == ""
        for key, spec in QUESTIONS.items():
            if key not in facts.SUPPORTED:
                continue
            for value in spec.get("choices", [True, False]):
                if value not in facts.SUPPORTED[key]:
                    assert "not supported yet" in facts.unsupported_error(key, value)


# --------------------------------------------------------------------------------------------
# Deployment facts: compose services, the variables that reach the services, secrets
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "compose"),
    [
        ({}, ("app",)),
        ({"database": "sqlite"}, ("app", "migrate")),
        ({"database": "postgresql"}, ("app", "migrate", "postgres")),
        ({"cache": "redis"}, ("app", "redis")),
        ({"worker": "celery", "broker": "redis"}, ("app", "worker", "beat", "redis")),
        (
            {"database": "postgresql", "worker": "celery", "broker": "rabbitmq", "cache": "redis"},
            ("app", "migrate", "worker", "beat", "postgres", "redis", "rabbitmq"),
        ),
        # A hidden broker answer adds no service.
        ({"worker": "none", "broker": "rabbitmq"}, ("app",)),
    ],
)
def test_compose_services(overrides: dict[str, Any], compose: tuple[str, ...]) -> None:
    derived = derive(**overrides)
    assert derived.compose_services == compose
    assert derived.compose_backing == tuple(
        s for s in compose if s not in {"app", "migrate", "worker", "beat"}
    )
    assert set(derived.images) == set(derived.services)


TEST_NAMES = {"DATABASE_URL": "TEST_DATABASE_URL", "REDIS_URL": "TEST_REDIS_URL"}


def test_service_environment_of_every_service() -> None:
    derived = derive(database="postgresql", cache="redis", worker="celery", broker="rabbitmq")
    compose = dict(derived.compose_environment)
    assert compose == {
        "DATABASE_URL": "postgresql+asyncpg://postgres:postgres@postgres:5432/app",
        "REDIS_URL": "redis://redis:6379/0",
        "CELERY_BROKER_URL": "amqp://guest:guest@rabbitmq:5672//",
        "CELERY_RESULT_BACKEND": "rpc://",
    }
    ci = dict(derived.ci_environment)
    # The tests read their services from TEST_DATABASE_URL and TEST_REDIS_URL.
    assert set(ci) == {TEST_NAMES.get(name, name) for name in compose}
    assert ci["TEST_DATABASE_URL"] == "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/app"
    assert ci["TEST_REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert ci["CELERY_BROKER_URL"] == "amqp://guest:guest@127.0.0.1:5672//"


def test_celery_on_redis_uses_its_own_databases() -> None:
    env = dict(derive(worker="celery", broker="redis").compose_environment)
    assert env == {
        "REDIS_URL": "redis://redis:6379/0",
        "CELERY_BROKER_URL": "redis://redis:6379/1",
        "CELERY_RESULT_BACKEND": "redis://redis:6379/2",
    }


def test_sqlite_lives_on_the_compose_volume() -> None:
    assert dict(derive(database="sqlite").compose_environment) == {
        "DATABASE_URL": "sqlite+aiosqlite:////data/app.db"
    }
    assert derive().compose_environment == ()


def test_secret_variables() -> None:
    assert derive().secret_variables == ()
    assert derive(database="postgresql", auth="password").secret_variables == (
        "DATABASE_URL",
        "SECRET_KEY",
    )
    assert derive(cache="redis", worker="celery", broker="redis").secret_variables == (
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "CELERY_RESULT_BACKEND",
    )


@pytest.mark.parametrize(
    ("overrides", "present", "absent"),
    [
        ({"docker": True}, {"gunicorn", "uvicorn-worker"}, {"prometheus-client"}),
        ({"metrics": True}, {"prometheus-client"}, {"gunicorn", "uvicorn-worker"}),
        ({}, set(), {"gunicorn", "uvicorn-worker", "prometheus-client"}),
    ],
)
def test_deployment_dependencies(
    overrides: dict[str, Any], present: set[str], absent: set[str]
) -> None:
    names = {facts.requirement_name(r) for r in derive(**overrides).dependencies}
    assert present <= names
    assert not absent & names


class TestAnswerMigrations:
    """extensions/migrations.py, run by copier before an update."""

    def test_rename_applies_between_versions(self) -> None:
        from tests.facts import load_extension

        migrations = load_extension("migrations")
        changes = (("0.2.0", "author", "author_name"), ("0.4.0", "legacy", None))
        assert migrations.applicable(changes, "0.1.0", "0.2.0") == [("author", "author_name")]
        assert migrations.applicable(changes, "0.2.0", "0.3.0") == []
        assert migrations.applicable(changes, "0.1.0", "0.4.1") == [
            ("author", "author_name"),
            ("legacy", None),
        ]

    def test_migrate_rewrites_keys_only(self) -> None:
        from tests.facts import load_extension

        migrations = load_extension("migrations")
        text = "_commit: 0.1.0\nauthor: Ada\nauthor_email: a@b.cd\nlegacy: x\n"
        out = migrations.migrate(text, [("author", "author_name"), ("legacy", None)])
        assert out == "_commit: 0.1.0\nauthor_name: Ada\nauthor_email: a@b.cd\n"

    def test_stale_old_key_is_dropped_when_new_one_exists(self) -> None:
        from tests.facts import load_extension

        migrations = load_extension("migrations")
        out = migrations.migrate("author: Old\nauthor_name: New\n", [("author", "author_name")])
        assert out == "author_name: New\n"


@pytest.mark.parametrize(
    ("database", "runtime", "dev"),
    [
        ("none", set(), set()),
        ("sqlite", {"sqlalchemy", "alembic", "aiosqlite"}, {"asyncpg", "hypothesis"}),
        ("postgresql", {"sqlalchemy", "alembic", "asyncpg"}, {"aiosqlite", "hypothesis"}),
    ],
)
def test_database_dependencies(database: str, runtime: set[str], dev: set[str]) -> None:
    """The chosen driver runs the service; the other one lets the tests run on both databases
    (and Hypothesis walks the list cursors)."""
    derived = derive(database=database)
    base_runtime = {facts.requirement_name(r) for r in derive().dependencies}
    base_dev = {facts.requirement_name(r) for r in derive().dev_dependencies}
    names = {facts.requirement_name(r) for r in derived.dependencies}
    dev_names = {facts.requirement_name(r) for r in derived.dev_dependencies}
    assert names - base_runtime == runtime
    assert dev_names - base_dev == dev


def test_min_copier_version_is_the_one_the_tests_run() -> None:
    """`_min_copier_version` is the lower bound of copier in the test environment."""
    from packaging.version import Version

    from tests.answers import COPIER_YML

    minimum = COPIER_YML["_min_copier_version"]
    template_group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    assert f"copier>={minimum}" in template_group["template"]
    assert Version(importlib.metadata.version("copier")) >= Version(minimum)


def test_migration_chain_is_linear_over_the_revisions_present() -> None:
    assert derive(database="none").down_revisions == {}
    chain = derive(database="sqlite").down_revisions
    assert next(iter(chain.items())) == ("0001", None)
    revisions = list(chain)
    assert revisions == sorted(revisions)
    # each revision follows the one before it, so alembic sees one head
    assert list(chain.values()) == [None, *revisions[:-1]]
    everything = derive(database="postgresql", auth="password")
    assert set(chain) <= set(everything.down_revisions)


def test_python_filter_writes_literals() -> None:
    import jinja2

    env = jinja2.Environment(extensions=[facts.FactsExtension])
    template = env.from_string("{{ a | python }} {{ b | python }}")
    # double quotes, as ruff format writes strings: the rendered revision files stay formatted
    assert template.render(a=None, b="0001") == 'None "0001"'


# --------------------------------------------------------------------------------------------
# email=smtp: account e-mails of auth=password
# --------------------------------------------------------------------------------------------
def test_email_is_on_only_with_password_auth() -> None:
    assert derive(auth="password", database="sqlite", email="smtp").has_email
    assert not derive(auth="password", database="sqlite", email="none").has_email
    # hidden by `when` (auth != password) but still in the render context: it must not count
    assert not derive(auth="jwt", email="smtp").has_email
    assert not derive(auth="none", email="smtp").has_email


def test_email_dependencies() -> None:
    base = derive(auth="password", database="sqlite")
    derived = derive(auth="password", database="sqlite", email="smtp")
    assert set(derived.dependencies) - set(base.dependencies) == {"aiosmtplib>=5.1"}
    assert set(derived.dev_dependencies) - set(base.dev_dependencies) == {"aiosmtpd>=1.4.6"}
    hidden = derive(auth="jwt", email="smtp")
    assert "aiosmtplib>=5.1" not in hidden.dependencies


def test_email_deployment_facts() -> None:
    derived = derive(auth="password", database="sqlite", email="smtp", docker=True)
    assert derived.compose_services == ("app", "migrate", "mailpit")
    assert "mailpit" not in derived.compose_backing  # under a profile: the app does not wait
    assert derived.mail_catcher_image == facts.MAIL_CATCHER_IMAGE
    compose = dict(derived.compose_environment)
    assert (compose["SMTP_HOST"], compose["SMTP_PORT"]) == ("mailpit", "1025")
    assert "SMTP_HOST" not in dict(derived.ci_environment)  # the tests run their own server
    assert derived.secret_variables[-1] == "SMTP_PASSWORD"
    without = derive(auth="password", database="sqlite", docker=True)
    assert "mailpit" not in without.compose_services
    assert without.mail_catcher_image == ""
    assert "SMTP_PASSWORD" not in without.secret_variables


def test_email_revision_follows_the_latest_earlier_one() -> None:
    chain = derive(auth="password", database="sqlite", email="smtp").down_revisions
    assert "0003" in chain
    earlier = [revision for revision in chain if revision < "0003"]
    assert chain["0003"] == earlier[-1]
    assert list(chain.values()) == [None, *list(chain)[:-1]]  # one head
    assert "0003" not in derive(auth="password", database="sqlite").down_revisions


def test_email_needs_password_auth_message() -> None:
    message = facts.combination_error("email", "smtp", auth="jwt")
    assert "auth=password" in message
    assert "email=none" in message
    assert facts.combination_error("email", "smtp", auth="password") == ""
    assert facts.combination_error("email", "none", auth="jwt") == ""


# --------------------------------------------------------------------------------------------
# admin=true: the back office at /admin, for the users of auth=password
# --------------------------------------------------------------------------------------------
def test_admin_is_on_only_with_password_auth_and_a_database() -> None:
    assert derive(auth="password", database="sqlite", admin=True).has_admin
    assert derive(auth="password", database="postgresql", admin=True).has_admin
    assert not derive(auth="password", database="sqlite", admin=False).has_admin
    # hidden by `when` (auth != password) but still in the render context: it must not count
    assert not derive(auth="jwt", database="sqlite", admin=True).has_admin
    assert not derive(auth="none", database="none", admin=True).has_admin


def test_admin_dependencies() -> None:
    base = derive(auth="password", database="sqlite")
    derived = derive(auth="password", database="sqlite", admin=True)
    assert set(derived.dependencies) - set(base.dependencies) == {
        "sqladmin>=0.32",
        "itsdangerous>=2.2",
    }
    assert set(derived.dev_dependencies) - set(base.dev_dependencies) == {"types-wtforms>=3.2"}
    assert "sqladmin>=0.32" not in derive(auth="jwt", database="sqlite", admin=True).dependencies


def test_admin_needs_password_auth_and_a_database_message() -> None:
    for others in ({"auth": "jwt", "database": "sqlite"}, {"auth": "none", "database": "none"}):
        message = facts.combination_error("admin", True, **others)
        assert "admin=true" in message and "auth=password" in message
        assert "admin=false" in message and "\n" not in message
    assert facts.combination_error("admin", True, auth="password", database="sqlite") == ""
    assert facts.combination_error("admin", False, auth="jwt", database="none") == ""


def _names(requirements: tuple[str, ...]) -> set[str]:
    return {facts.requirement_name(r) for r in requirements}


def test_tracing_is_off_by_default_and_adds_only_what_the_project_talks_through() -> None:
    assert not derive().has_tracing
    assert _names(derive().dependencies).isdisjoint(
        {"opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http"}
    )
    bare = derive(tracing="otlp")
    assert bare.has_tracing
    assert _names(bare.dependencies) - _names(derive().dependencies) == {
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
    }
    assert not bare.traces_redis
    every = derive(
        tracing="otlp",
        auth="jwt",
        database="sqlite",
        cache="redis",
        worker="celery",
        broker="rabbitmq",
    )
    assert _names(every.dependencies) - _names(
        derive(
            auth="jwt", database="sqlite", cache="redis", worker="celery", broker="rabbitmq"
        ).dependencies
    ) == {
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "opentelemetry-instrumentation-httpx",
        "opentelemetry-instrumentation-sqlalchemy",
        "opentelemetry-instrumentation-redis",
        "opentelemetry-instrumentation-celery",
    }
    assert every.traces_redis
    # Redis through the WebSocket hub only is traced too; Celery's Redis broker is not redis-py
    assert derive(tracing="otlp", websockets="redis").traces_redis
    assert not derive(tracing="otlp", worker="celery", broker="redis").traces_redis
    # without tracing, no instrumentation
    assert not derive(cache="redis").traces_redis


def test_tracing_deployment_facts() -> None:
    derived = derive(tracing="otlp", docker=True)
    assert derived.compose_services == ("app", "jaeger")
    assert dict(derived.compose_environment) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "${OTEL_EXPORTER_OTLP_ENDPOINT:-}"
    }
    assert derived.tracing_ui_image.startswith("jaegertracing/jaeger:")
    assert derive(docker=True).compose_services == ("app",)
    assert derive().tracing_ui_image == ""
