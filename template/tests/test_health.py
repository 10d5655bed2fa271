from fastapi import FastAPI
from httpx import AsyncClient


async def test_live_answers_without_io(client: AsyncClient) -> None:
    response = await client.get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_reports_every_check(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_ready_names_the_failed_dependency(app: FastAPI, client: AsyncClient) -> None:
    async def broken() -> str:
        raise ConnectionError("down")

    app.state.readiness.add("broken_dependency", broken)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broken_dependency"] == "unavailable"
    assert "broken_dependency" in body["detail"]


async def test_ready_reports_degraded_but_serves(app: FastAPI, client: AsyncClient) -> None:
    async def degraded() -> str:
        return "degraded"

    app.state.readiness.add("optional_dependency", degraded)
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
