"""Several uvicorn processes of a rendered project, and a clean Redis key prefix per test."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis

from tests.conftest import clean_env

# The template's tests use their own Redis database, with a fresh key prefix per test.
TEST_REDIS_DB = 5
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{TEST_REDIS_DB}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix in the test database; its keys are deleted afterwards."""
    prefix = f"template-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@contextlib.contextmanager
def servers(
    project_path: Path, package: str, count: int, env: dict[str, str], log_dir: Path
) -> Iterator[list[str]]:
    """Start `count` uvicorn processes of the project; yield their base URLs."""
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    urls: list[str] = []
    try:
        for n in range(count):
            port = free_port()
            log = log_dir / f"server-{n}.log"
            cmd = [
                sys.executable, "-m", "uvicorn", f"{package}.main:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers",
            ]  # fmt: skip
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    cmd,
                    cwd=project_path,
                    env=clean_env(PYTHONPATH="src", ENVIRONMENT="test", **env),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append((proc, log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, (proc, log) in zip(urls, procs, strict=True):
            _wait_live(url, proc, log)
        yield urls
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_live(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} exited {proc.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up:\n{log.read_text()}")
