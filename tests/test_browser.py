"""Swagger UI works offline in a real browser: headless Chromium (Debian's, no download) opens
`/docs` of a rendered `auth=password` project served by its `serve` command (uvicorn), authorizes with the OAuth2
password flow, and runs "Try it out" on `GET /api/v1/users/me`, which shows 200.

The screenshot is kept in `test-artifacts/swagger-users-me.png`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.answers import MINIMAL
from tests.conftest import clean_env, render, run
from tests.paths import ROOT
from tests.servers import servers

pytestmark = pytest.mark.xdist_group("browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "a-long-admin-password-for-tests"


def test_swagger_ui_password_flow_in_chromium(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    from playwright.sync_api import sync_playwright

    answers = {**MINIMAL, "auth": "password", "rbac": True, "database": "sqlite"}
    project = render(tmp_path / "project", answers)
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SECRET_KEY": "a-secret-key-of-at-least-thirty-two-bytes!",
    }
    run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        project,
        clean_env(PYTHONPATH="src", **env),
    )
    command = [sys.executable, "-m", str(answers.get("package_name", "my_service")), "serve"]
    with servers(project, command, tmp_path, env, ready="/health/ready") as (server,):
        base = server.url
        ARTIFACTS.mkdir(exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            page = browser.new_page()
            outside: list[str] = []
            page.on(
                "request", lambda r: outside.append(r.url) if not r.url.startswith(base) else None
            )
            page.goto(f"{base}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)

            page.click(".auth-wrapper .authorize")
            page.fill("#oauth_username", ADMIN_EMAIL)
            page.fill("#oauth_password", ADMIN_PASSWORD)
            page.click(".auth-btn-wrapper .authorize")
            page.wait_for_selector(".auth-btn-wrapper button:has-text('Logout')", timeout=15_000)
            page.click(".btn-done")

            operation = page.locator(".opblock-get", has_text="/api/v1/users/me").first
            operation.locator(".opblock-summary").click()
            operation.locator(".try-out__btn").click()
            operation.locator(".execute").click()
            status = operation.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "swagger-users-me.png"), full_page=True)
            assert status.inner_text().strip().startswith("200")
            assert ADMIN_EMAIL in operation.locator(".live-responses-table").inner_text()
            browser.close()
        assert outside == [], f"the page loaded assets from outside the app: {outside}"
