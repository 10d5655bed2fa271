"""Every 4xx and 5xx answer has the same JSON shape, and no stack trace reaches a client."""

from fastapi import FastAPI
from httpx import AsyncClient

SHAPE = {"detail", "code", "request_id", "errors"}


async def test_unknown_route_is_json_404(client: AsyncClient) -> None:
    response = await client.get("/no/such/route")
    assert response.status_code == 404
    body = response.json()
    assert set(body) == SHAPE
    assert body["code"] == "not_found"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_wrong_method_is_json_405(client: AsyncClient) -> None:
    response = await client.delete("/health/live")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_validation_error_lists_the_fields(client: AsyncClient) -> None:
    response = await client.post("/api/v1/notifications", json={"recipient": "not-an-email"})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == SHAPE
    assert body["code"] == "validation_error"
    locations = {tuple(error["loc"]) for error in body["errors"]}
    assert ("body", "recipient") in locations
    assert ("body", "message") in locations


async def test_malformed_json_is_a_422_of_the_same_shape(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/notifications",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert set(response.json()) == SHAPE


async def test_unhandled_error_is_a_json_500_without_trace(
    app: FastAPI, client: AsyncClient
) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    response = await client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert set(body) == SHAPE
    assert body["code"] == "internal_error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"] == response.headers["X-Request-ID"]
