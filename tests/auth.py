"""Credentials for template tests that drive a rendered project over HTTP.

With `auth=password` the project creates its first admin at start-up from the environment and
the test logs in; with `auth=jwt` the test signs its own token with the project's HS256 secret.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "template-test-admin-password"
JWT_SECRET = "template-test-jwt-secret-of-at-least-thirty-two-bytes"
JWT_ISSUER = "https://idp.template.test/"
JWT_AUDIENCE = "template-tests"


def auth_env(project: Any) -> dict[str, str]:
    """Environment variables the rendered project needs so that the test can authenticate."""
    if project.facts.has_users:
        return {"FIRST_ADMIN_EMAIL": ADMIN_EMAIL, "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD}
    if project.facts.has_identity_provider:
        return {
            "JWT_SECRET_KEY": JWT_SECRET,
            "JWT_ISSUER": JWT_ISSUER,
            "JWT_AUDIENCE": JWT_AUDIENCE,
        }
    return {}


def auth_headers(project: Any, client: httpx.Client) -> dict[str, str]:
    """An admin's bearer header for the running project (none without auth)."""
    if project.facts.has_users:
        response = client.post(
            "/api/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}
    if project.facts.has_identity_provider:
        return {"Authorization": f"Bearer {mint_admin_token()}"}
    return {}


def mint_admin_token() -> str:
    import jwt

    now = int(time.time())
    claims = {
        "sub": "template-test-admin",
        "roles": ["admin"],
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")
