"""Swagger UI and ReDoc work offline: every asset comes from the app, none from a CDN."""

import re

import pytest
from httpx import AsyncClient


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_load_their_assets_from_the_app(client: AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the app"
        served = await client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 100, asset
    assert "cdn.jsdelivr.net" not in html
    assert "fonts.googleapis.com" not in html
