"""Real processes of a rendered project for the tests that make claims about processes.

`serve()` starts `python -m <package> serve` (uvicorn, settings from the environment) on a free
127.0.0.1 port and waits until it answers; `celery_worker()` starts the documented worker
command. Both always terminate their process and keep its output for the failure message.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import Project, clean_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Server(Process):
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def _start(project: Project, cmd: list[str], log: Path, env: dict[str, str]) -> Process:
    handle = log.open("wb")
    popen = subprocess.Popen(
        cmd, cwd=project.path, env=env, stdout=handle, stderr=subprocess.STDOUT
    )
    handle.close()
    return Process(popen, log)


@contextlib.contextmanager
def serve(project: Project, log_dir: Path, **env: str) -> Iterator[Server]:
    port = free_port()
    environment = clean_env(
        PYTHONPATH="src", ENVIRONMENT="test", HOST="127.0.0.1", PORT=str(port), **env
    )
    log = log_dir / f"server-{port}.log"
    started = _start(project, [sys.executable, "-m", project.package, "serve"], log, environment)
    server = Server(started.popen, log, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.popen.poll() is not None:
                raise AssertionError(f"server exited early:\n{server.output()}")
            try:
                if httpx.get(f"{server.url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def celery_worker(project: Project, log_dir: Path, **env: str) -> Iterator[Process]:
    environment = clean_env(PYTHONPATH="src", ENVIRONMENT="test", **env)
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        f"{project.package}.worker:celery_app",
        "worker",
        "--loglevel=INFO",
        "--pool=solo",
        "--without-gossip",
        "--without-mingle",
    ]
    worker = _start(project, cmd, log_dir / "worker.log", environment)
    try:
        deadline = time.monotonic() + 30
        while "ready." not in worker.output():
            if worker.popen.poll() is not None:
                raise AssertionError(f"worker exited early:\n{worker.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{worker.output()}")
            time.sleep(0.1)
        yield worker
    finally:
        worker.stop()


@contextlib.contextmanager
def silent_websocket(port: int, path: str) -> Iterator[socket.socket]:
    """Completes a WebSocket handshake, then never reads: it answers no ping, drains nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(5)
    try:
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        assert sock.recv(4096).startswith(b"HTTP/1.1 101")
        yield sock
    finally:
        sock.close()
