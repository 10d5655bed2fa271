"""The back office in a real browser: headless Chromium (Debian's, no download) drives `/admin`
of a rendered `admin=true` project served by its `serve` command (uvicorn): the first admin
logs in, lists items, creates one and edits it, deactivates a user; a user without the admin
role is refused, and a form post without the CSRF token gets 403. Nothing loads from outside
the app (no CDN).

The screenshots are kept in `test-artifacts/admin-*.png`.
"""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.answers import answers
from tests.conftest import clean_env, render, run
from tests.servers import servers
from tests.test_browser import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.xdist_group("browser")
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "a-long-admin-password-for-tests"
USER_EMAIL, USER_PASSWORD = "user@example.com", "a-long-user-password-for-tests"


def post(url: str, data: dict[str, str], *, as_json: bool = False) -> int:
    body = json.dumps(data).encode() if as_json else urllib.parse.urlencode(data).encode()
    kind = "application/json" if as_json else "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, body, {"Content-Type": kind}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_in_chromium(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    from playwright.sync_api import sync_playwright

    given = answers("admin-sqlite")
    project = render(tmp_path / "project", given)
    env = {
        "ENVIRONMENT": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
        "FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SECRET_KEY": "a-secret-key-of-at-least-thirty-two-bytes!",
        "RATE_LIMIT_LOGIN": "1000/minute",
    }
    run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        project,
        clean_env(PYTHONPATH="src", **env),
    )
    command = [sys.executable, "-m", str(given.get("package_name", "my_service")), "serve"]
    with servers(project, command, tmp_path, env, ready="/health/ready") as (server,):
        base = server.url
        registered = post(
            f"{base}/api/v1/auth/register",
            {"email": USER_EMAIL, "password": USER_PASSWORD},
            as_json=True,
        )
        assert registered == 201
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
            outside: list[str] = []
            errors: list[str] = []

            def watch(page: object) -> None:
                page.on(  # type: ignore[attr-defined]
                    "request",
                    lambda r: outside.append(r.url) if not r.url.startswith(base) else None,
                )
                page.on("pageerror", lambda e: errors.append(str(e)))  # type: ignore[attr-defined]

            # A user without the admin role is refused at the login form.
            refused = browser.new_page()
            watch(refused)
            refused.goto(f"{base}/admin/login")
            refused.fill("input[name=username]", USER_EMAIL)
            refused.fill("input[name=password]", USER_PASSWORD)
            refused.click("button[type=submit]")
            refused.wait_for_selector("text=Invalid credentials", timeout=15_000)
            assert refused.url.endswith("/admin/login")

            page = browser.new_page()
            watch(page)
            page.goto(f"{base}/admin/login")
            page.fill("input[name=username]", ADMIN_EMAIL)
            page.fill("input[name=password]", ADMIN_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/admin/", timeout=15_000)

            # Create an item, then edit it.
            page.goto(f"{base}/admin/item/create")
            page.fill("input[name=name]", "made-in-chromium")
            page.fill("textarea[name=description]", "first")
            page.click("input[type=submit][value=Save]")
            page.wait_for_url(f"{base}/admin/item/list", timeout=15_000)
            row = page.locator("tr", has_text="made-in-chromium")
            assert row.count() == 1
            page.screenshot(path=str(ARTIFACTS / "admin-items.png"), full_page=True)
            row.locator("a[href*='/admin/item/edit/']").first.click()
            page.wait_for_selector("textarea[name=description]", timeout=15_000)
            page.fill("textarea[name=description]", "edited in chromium")
            page.click("input[type=submit][value=Save]")
            page.wait_for_url(f"{base}/admin/item/list", timeout=15_000)
            details = page.locator("tr", has_text="made-in-chromium").inner_text()
            assert "edited in chromium" in details

            # A form post without the CSRF token, with the admin's session cookie: refused.
            forged = page.request.post(
                f"{base}/admin/item/create", form={"name": "forged"}, max_redirects=0
            )
            assert forged.status == 403
            page.goto(f"{base}/admin/item/list?search=forged")
            assert page.locator("tr", has_text="forged").count() == 0

            # Deactivate the user: the API refuses their password afterwards.
            page.goto(f"{base}/admin/user/list?search={USER_EMAIL}")
            page.locator("tr", has_text=USER_EMAIL).locator(
                "a[href*='/admin/user/edit/']"
            ).first.click()
            page.wait_for_selector("input[name=is_active]", timeout=15_000)
            page.uncheck("input[name=is_active]")
            page.click("input[type=submit][value=Save]")
            # back to the list it came from (the search kept)
            page.wait_for_url(re.compile(r".*/admin/user/list\?search="), timeout=15_000)
            page.screenshot(path=str(ARTIFACTS / "admin-users.png"), full_page=True)
            assert "$argon2" not in page.content()
            browser.close()
        token = post(
            f"{base}/api/v1/auth/token", {"username": USER_EMAIL, "password": USER_PASSWORD}
        )
        assert token == 401
    assert outside == [], f"the admin loaded assets from outside the app: {outside}"
    assert errors == [], f"the admin's pages raised JavaScript errors: {errors}"
