"""Real processes of a rendered project for the tests that make claims about processes.

`servers()` starts a server command (each process on its own free 127.0.0.1 port, given as
HOST/PORT in the environment, the way the project's `serve` command and gunicorn.conf.py read
them) and waits until each answers; `serve()` and `serve_many()` start the project's own
`python -m <package> serve`; `celery_worker()` starts the documented worker command. Every
process is terminated afterwards and keeps its output for the failure message.
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
import uuid
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

    def wait_until_answering(self, path: str, timeout: float = 60) -> None:
        """Until GET `path` answers 200; fails with the server's output if it exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise AssertionError(f"server exited {self.popen.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}{path}", timeout=2).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.url}{path} did not answer 200:\n{self.output()}")
            time.sleep(0.1)


def _start(cwd: Path, cmd: list[str], log: Path, env: dict[str, str]) -> Process:
    handle = log.open("wb")
    popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    return Process(popen, log)


@contextlib.contextmanager
def servers(
    cwd: Path,
    cmd: list[str],
    log_dir: Path,
    env: dict[str, str],
    count: int = 1,
    ready: str = "/health/live",
) -> Iterator[list[Server]]:
    """`count` processes of `cmd`, started together; yields them once each answers `ready`.

    Each gets `env` over a clean environment (PYTHONPATH=src, ENVIRONMENT=test unless `env`
    says otherwise) with HOST=127.0.0.1 and a PORT of its own.
    """
    started: list[Server] = []
    try:
        for _ in range(count):
            port = free_port()
            environment = clean_env(
                **{"PYTHONPATH": "src", "ENVIRONMENT": "test", **env},
                HOST="127.0.0.1",
                PORT=str(port),
            )
            process = _start(cwd, cmd, log_dir / f"server-{port}.log", environment)
            started.append(Server(process.popen, process.log, port))
        for server in started:
            server.wait_until_answering(ready)
        yield started
    finally:
        for server in started:
            server.stop()


def serve_command(project: Project) -> list[str]:
    """The project's documented way to run: uvicorn with its settings from the environment."""
    return [sys.executable, "-m", project.package, "serve"]


@contextlib.contextmanager
def serve_many(
    project: Project, count: int, log_dir: Path, ready: str = "/health/live", **env: str
) -> Iterator[list[Server]]:
    with servers(project.path, serve_command(project), log_dir, env, count, ready) as started:
        yield started


@contextlib.contextmanager
def serve(
    project: Project, log_dir: Path, ready: str = "/health/live", **env: str
) -> Iterator[Server]:
    with serve_many(project, 1, log_dir, ready, **env) as (server,):
        yield server


@contextlib.contextmanager
def celery_worker(
    project: Project,
    log_dir: Path,
    *,
    app: str | None = None,
    pool: str = "solo",
    pythonpath: str = "src",
    **env: str,
) -> Iterator[Process]:
    """The documented worker command; `app` (another module's Celery app) adds test tasks,
    `pool="prefork"` (one process) enforces hard time limits, which the solo pool cannot."""
    environment = clean_env(PYTHONPATH=pythonpath, ENVIRONMENT="test", **env)
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "--app",
        app or f"{project.package}.worker:celery_app",
        "worker",
        "--loglevel=INFO",
        f"--pool={pool}",
        "--without-gossip",
        "--without-mingle",
        # A node name of its own: on RabbitMQ a node's control queue is exclusive, and a second
        # celery@<host> (another test, another run on the machine) would be refused at start.
        f"--hostname=tpl-{uuid.uuid4().hex[:8]}@%h",
    ]
    if pool == "prefork":
        cmd.append("--concurrency=1")
    worker = _start(project.path, cmd, log_dir / "worker.log", environment)
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
def celery_beat(project: Project, log: Path, **env: str) -> Iterator[Process]:
    """The documented beat command, `python -m <pkg> beat`, until it has started."""
    environment = clean_env(PYTHONPATH="src", ENVIRONMENT="test", **env)
    cmd = [sys.executable, "-m", project.package, "beat"]
    beat = _start(project.path, cmd, log, environment)
    try:
        deadline = time.monotonic() + 30
        while "Starting..." not in beat.output():
            if beat.popen.poll() is not None:
                raise AssertionError(f"beat exited early:\n{beat.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"beat did not start:\n{beat.output()}")
            time.sleep(0.1)
        yield beat
    finally:
        beat.stop()


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
