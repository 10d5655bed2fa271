"""WebSocket rooms on real server processes.

- websockets=redis: two server processes share a room through Redis pub/sub.
- both modes: a client that stops reading is dropped (1013) while the room keeps working; a
  client that stops answering pings is dropped by the heartbeat; SIGTERM closes every client
  and the server exits cleanly.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Project, answer_set_params
from tests.servers import serve, silent_websocket

REDIS_URL = "redis://127.0.0.1:6379/3"


def ws_env(project: Project, **extra: str) -> dict[str, str]:
    env = dict(extra)
    if project.facts.has_redis_websockets:
        env |= {
            "REDIS_URL": REDIS_URL,
            "WS_REDIS_CHANNEL_PREFIX": f"tplw-{secrets.token_hex(6)}:",
        }
    return env


async def receive(client: object, timeout: float = 5) -> str:
    message = await asyncio.wait_for(client.recv(), timeout)  # type: ignore[attr-defined]
    assert isinstance(message, str)
    return message


@pytest.mark.parametrize("project", answer_set_params(["ws-redis"]), indirect=True)
def test_a_room_spans_two_server_processes(project: Project, tmp_path: Path) -> None:
    env = ws_env(project)
    with serve(project, tmp_path, **env) as first, serve(project, tmp_path, **env) as second:

        async def scenario() -> None:
            async with (
                connect(f"{first.ws_url}/ws/lobby") as alice,
                connect(f"{second.ws_url}/ws/lobby") as bob,
                connect(f"{second.ws_url}/ws/elsewhere") as carol,
            ):
                await alice.send("from the first process")
                assert await receive(bob) == "from the first process"
                assert await receive(alice) == "from the first process"
                await bob.send("and back")
                assert await receive(alice) == "and back"
                assert await receive(bob) == "and back"
                await carol.send("only mine")
                assert await receive(carol) == "only mine"
                with pytest.raises(TimeoutError):
                    await receive(alice, timeout=0.5)

        asyncio.run(scenario())


@pytest.mark.parametrize("project", answer_set_params(["ws-memory", "ws-redis"]), indirect=True)
def test_a_slow_client_is_dropped_and_the_room_goes_on(project: Project, tmp_path: Path) -> None:
    env = ws_env(project, WS_SEND_QUEUE_SIZE="4", WS_SEND_TIMEOUT="1")
    with (
        serve(project, tmp_path, **env) as server,
        silent_websocket(server.port, "/ws/busy") as slow,
    ):

        async def scenario() -> None:
            payload = "x" * 60_000
            async with connect(f"{server.ws_url}/ws/busy", max_size=2**20) as fast:
                # the silent client reads nothing: its buffers fill, its queue overflows
                for _ in range(300):
                    await fast.send(payload)
                    assert await receive(fast) == payload
                await fast.send("still here")
                assert await receive(fast) == "still here"

        asyncio.run(scenario())
        output = server.output()
        dropped = "websocket_slow_client_dropped" in output or "websocket_send_timed_out" in output
        assert dropped, output
        # the server ends the slow connection: reading what it had buffered reaches the end
        slow.settimeout(20)
        while slow.recv(1 << 20):
            pass
        assert "Traceback" not in output, output


async def drain_until_closed(client: object) -> int | None:
    try:
        while True:
            await asyncio.wait_for(client.recv(), 10)  # type: ignore[attr-defined]
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("project", answer_set_params(["ws-memory"]), indirect=True)
def test_a_client_that_stops_answering_pings_is_dropped(project: Project, tmp_path: Path) -> None:
    env = ws_env(project, WS_PING_INTERVAL="0.5", WS_PING_TIMEOUT="0.5")
    with serve(project, tmp_path, **env) as server:
        with silent_websocket(server.port, "/ws/quiet"):
            deadline = time.monotonic() + 10
            while "websocket_left" not in server.output():
                assert time.monotonic() < deadline, server.output()
                time.sleep(0.1)
        assert "websocket_joined" in server.output()


@pytest.mark.parametrize("project", answer_set_params(["ws-memory", "ws-redis"]), indirect=True)
def test_shutdown_closes_clients_and_exits_cleanly(project: Project, tmp_path: Path) -> None:
    with serve(project, tmp_path, **ws_env(project)) as server:

        async def scenario() -> int | None:
            async with connect(f"{server.ws_url}/ws/lobby") as alice:
                await alice.send("hi")
                assert await receive(alice) == "hi"
                await asyncio.to_thread(server.stop)
                return await drain_until_closed(alice)

        code = asyncio.run(scenario())
        assert code in {1001, 1012}, server.output()
        # uvicorn re-raises the signal after a graceful shutdown
        assert server.popen.returncode in {0, -15}, server.output()
        assert "Application shutdown complete" in server.output()
        assert "Traceback" not in server.output()
