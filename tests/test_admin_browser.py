"""The back office in a real browser: headless Chromium (Debian's, no download) drives `/admin`
of a rendered `admin=true` project served by its `serve` command (uvicorn): the first admin
logs in, lists items, creates one and edits it, deactivates a user; a user without the admin
role is refused, and a form post without the CSRF token gets 403. Nothing loads from outside
the app (no CDN).

The screenshots are kept in `test-artifacts/admin-*.png`. `admin-items.png` is also the picture
of the rendered README (`docs/admin-items.png`, committed in the template): `make
admin-screenshot` (UPDATE_ADMIN_SCREENSHOT=1) runs this test and writes it there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.answers import answers
from tests.conftest import clean_env, render, run
from tests.paths import TEMPLATE
from tests.servers import servers
from tests.test_browser import ARTIFACTS, CHROMIUM

pytestmark = pytest.mark.xdist_group("browser")
ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "a-long-admin-password-for-tests"
USER_EMAIL, USER_PASSWORD = "user@example.com", "a-long-user-password-for-tests"
# The README's picture: the items list at this window size (a small PNG, test_render checks it).
README_SCREENSHOT = TEMPLATE / "{% if has_admin %}docs{% endif %}" / "admin-items.png"
SCREENSHOT_WIDTH, SCREENSHOT_HEIGHT = 1600, 470
SCREENSHOT_MAX_BYTES = 150_000


def call(
    url: str, data: dict[str, str], *, as_json: bool = False, token: str | None = None
) -> tuple[int, bytes]:
    body = json.dumps(data).encode() if as_json else urllib.parse.urlencode(data).encode()
    headers = {
        "Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded"
    }
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post(url: str, data: dict[str, str], *, as_json: bool = False) -> int:
    return call(url, data, as_json=as_json)[0]


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
        # An item of the user's, through the API: the owner filter has two owners to tell apart.
        status, body = call(
            f"{base}/api/v1/auth/token", {"username": USER_EMAIL, "password": USER_PASSWORD}
        )
        assert status == 200
        user_token = json.loads(body)["access_token"]
        status, _ = call(
            f"{base}/api/v1/items",
            {"name": "owned-by-the-user", "description": "made through the API"},
            as_json=True,
            token=user_token,
        )
        assert status == 201
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
            screenshot = ARTIFACTS / "admin-items.png"
            page.set_viewport_size({"width": SCREENSHOT_WIDTH, "height": SCREENSHOT_HEIGHT})
            page.screenshot(path=str(screenshot))
            assert screenshot.stat().st_size < SCREENSHOT_MAX_BYTES
            if os.environ.get("UPDATE_ADMIN_SCREENSHOT") == "1":
                shutil.copyfile(screenshot, README_SCREENSHOT)

            # Filters: the user's items by the owner's e-mail (the sidebar's form), then those
            # of the last day as well (the "Created" lookup; the owner filter is kept).
            owner = page.locator("form.filter-form", has=page.locator("input[name=owner]"))
            owner.locator("select[name=owner_op]").select_option("contains")
            owner.locator("input[name=owner]").fill("user@")
            owner.locator("button[type=submit]").click()
            page.wait_for_url(re.compile(r"[?&]owner=user"), timeout=15_000)
            assert page.locator("tr", has_text="owned-by-the-user").count() == 1
            assert page.locator("tr", has_text="made-in-chromium").count() == 0
            page.click("#filter-sidebar a[href*='created=1']")
            page.wait_for_url(re.compile(r".*created=1"), timeout=15_000)
            assert "owner=" in page.url  # the owner filter stays
            assert page.locator("tr", has_text="owned-by-the-user").count() == 1
            page.goto(f"{base}/admin/item/list")
            row = page.locator("tr", has_text="made-in-chromium")
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
            # The inactive users, by the "Active" filter's "No".
            page.goto(f"{base}/admin/user/list")
            page.click("#filter-sidebar a[href*='is_active=false']")
            page.wait_for_url(re.compile(r".*is_active=false"), timeout=15_000)
            assert page.locator("tr", has_text=USER_EMAIL).count() == 1
            assert page.locator("tr", has_text=ADMIN_EMAIL).count() == 0
            browser.close()
        token = post(
            f"{base}/api/v1/auth/token", {"username": USER_EMAIL, "password": USER_PASSWORD}
        )
        assert token == 401
    assert outside == [], f"the admin loaded assets from outside the app: {outside}"
    assert errors == [], f"the admin's pages raised JavaScript errors: {errors}"
