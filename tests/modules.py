"""Which rendered paths belong to which optional module.

A module's paths must all exist when its fact is true and none may exist when it is false.
`{pkg}` stands for the package name. Each module adds its row when it lands.
"""

MODULE_PATHS: dict[str, list[str]] = {
    # fact name -> paths owned by the module
    "has_auth": [
        "src/{pkg}/auth/__init__.py",
        "src/{pkg}/auth/dependencies.py",
        "src/{pkg}/auth/principal.py",
        "src/{pkg}/auth/tokens.py",
        "tests/tokens.py",
        "tests/test_auth_tokens.py",
    ],
    "has_identity_provider": [
        "src/{pkg}/auth/router.py",
        "tests/test_auth_jwks.py",
        "tests/test_users_me.py",
    ],
    "has_users": [
        "src/{pkg}/users/__init__.py",
        "src/{pkg}/users/dependencies.py",
        "src/{pkg}/users/models.py",
        "src/{pkg}/users/passwords.py",
        "src/{pkg}/users/router.py",
        "src/{pkg}/users/schemas.py",
        "src/{pkg}/users/service.py",
        "src/{pkg}/users/tokens.py",
        "tests/test_users.py",
        "tests/test_first_admin.py",
    ],
    "has_cache": ["src/{pkg}/cache.py", "tests/test_cache.py"],
    "caches_items": ["tests/test_items_cache.py"],
    "has_rate_limit": [
        "src/{pkg}/ratelimit/__init__.py",
        "src/{pkg}/ratelimit/client.py",
        "src/{pkg}/ratelimit/dependency.py",
        "src/{pkg}/ratelimit/limiter.py",
        "tests/test_ratelimit.py",
    ],
    "has_worker": [
        "src/{pkg}/worker/__init__.py",
        "src/{pkg}/worker/app.py",
        "src/{pkg}/worker/tasks.py",
        "src/{pkg}/jobs/__init__.py",
        "src/{pkg}/jobs/queue.py",
        "src/{pkg}/jobs/routes.py",
        "tests/test_jobs.py",
    ],
    "has_websockets": [
        "src/{pkg}/realtime/__init__.py",
        "src/{pkg}/realtime/hub.py",
        "src/{pkg}/realtime/rooms.py",
        "src/{pkg}/realtime/routes.py",
        "tests/test_realtime.py",
    ],
    "has_database": [
        "alembic.ini",
        "migrations/env.py",
        "migrations/script.py.mako",
        "migrations/versions/0001_initial.py",
        "src/{pkg}/db",
        "src/{pkg}/items",
        "tests/database.py",
        "tests/test_database.py",
        "tests/test_items.py",
    ],
    "has_docker": ["Dockerfile", ".dockerignore", "gunicorn.conf.py", "compose.yaml"],
    "has_kubernetes": ["deploy/kubernetes/base/kustomization.yaml", "deploy/kubernetes/overlays"],
    "has_ci": [".github/workflows/ci.yml"],
    "has_metrics": ["src/{pkg}/metrics.py", "tests/test_metrics.py"],
}

# Paths every project has, whatever the answers.
BASE_PATHS = [
    ".copier-answers.yml",
    ".env.example",
    ".gitignore",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "src/{pkg}/__init__.py",
    "src/{pkg}/__main__.py",
    "src/{pkg}/main.py",
    "src/{pkg}/settings.py",
    "src/{pkg}/health.py",
    "src/{pkg}/errors.py",
    "src/{pkg}/middleware.py",
    "src/{pkg}/log.py",
    "src/{pkg}/api/v1/__init__.py",
    "src/{pkg}/api/v2/__init__.py",
    "tests/conftest.py",
    "tests/test_security.py",
]
