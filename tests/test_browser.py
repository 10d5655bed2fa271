"""Swagger UI works offline in a real browser: headless Chromium (Debian's, no download) opens
`/docs` of a rendered `auth=password` project served by uvicorn, authorizes with the OAuth2
password flow, and runs "Try it out" on `GET /api/v1/users/me`, which shows 200.

The screenshot is kept in `test-artifacts/swagger-users-me.png`.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.answers import MINIMAL
from tests.conftest import clean_env, render, run
from tests.paths import ROOT

pytestmark = pytest.mark.xdist_group("browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "a-long-admin-password-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_swagger_ui_password_flow_in_chromium(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    from playwright.sync_api import sync_playwright

    answers = {**MINIMAL, "auth": "password", "rbac": True, "database": "sqlite"}
    project = render(tmp_path / "project", answers)
    env = clean_env(
        PYTHONPATH="src",
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        FIRST_ADMIN_EMAIL=ADMIN_EMAIL,
        FIRST_ADMIN_PASSWORD=ADMIN_PASSWORD,
        SECRET_KEY="a-secret-key-of-at-least-thirty-two-bytes!",
    )
    run([sys.executable, "-m", "alembic", "upgrade", "head"], project, env)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"{answers.get('package_name', 'my_service')}.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, "uvicorn exited"
            assert time.monotonic() < deadline, "uvicorn did not become ready"
            time.sleep(0.3)

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
            page.wait_for_selector(".auth-btn-wrapper .logout", timeout=15_000)
            page.click(".btn-done")

            operation = page.locator(".opblock-get", has_text="/api/v1/users/me").first
            operation.locator(".opblock-summary").click()
            operation.locator(".try-out__btn").click()
            operation.locator(".execute").click()
            status = operation.locator(".live-responses-table .response-col_status").first
            status.wait_for(timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "swagger-users-me.png"), full_page=True)
            assert status.inner_text().strip().startswith("200")
            assert ADMIN_EMAIL in operation.locator(".live-responses-table").inner_text()
            browser.close()
        assert outside == [], f"the page loaded assets from outside the app: {outside}"
    finally:
        server.terminate()
        server.wait(timeout=20)
