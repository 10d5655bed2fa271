"""error_tracking=sentry against a running uvicorn process: its DSN points at an HTTP endpoint on
127.0.0.1 that keeps every envelope the real sentry-sdk sends.

A forced 500 (an item row whose timestamp is not a date, written behind the service's back: its
read raises) is reported once, with its request id and without the request's Authorization
header; a 404 is not reported.

A real Celery worker (the prefork pool, on Redis and on RabbitMQ) reports a job that fails once,
with its task id and without its arguments; a job retried on transient errors until it succeeds
is not reported.
"""

from __future__ import annotations

import gzip
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.servers import celery_worker, serve
from tests.services import JOB_PROBE_CLIENT, delete_celery_queue

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_REDIS_URL = "redis://127.0.0.1:6379/3"


@contextmanager
def sentry_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    """A DSN on 127.0.0.1 and the (decompressed) envelopes posted to it."""
    envelopes: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            envelopes.append(body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://public@127.0.0.1:{server.server_address[1]}/1", envelopes
    finally:
        server.shutdown()
        server.server_close()


def events(envelopes: list[bytes]) -> list[dict[str, Any]]:
    """The error events among the envelopes' items (a header line, then header and payload
    lines per item)."""
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if header.strip() and json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


@pytest.mark.parametrize("project", answer_set_params(["sentry-sqlite"]), indirect=True)
def test_a_500_is_reported_once_and_a_404_never(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    url = f"sqlite+aiosqlite:///{path}"
    run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(DATABASE_URL=url))
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO items (id, name, created_at, updated_at) "
            "VALUES (1, 'broken', 'not a date', 'not a date')"
        )
    secret = f"secret-{secrets.token_hex(8)}"
    with sentry_endpoint() as (dsn, envelopes):
        env = {"SENTRY_DSN": dsn, "DATABASE_URL": url, "SENTRY_RELEASE": "traced@1.2.3"}
        with serve(project, tmp_path, **env) as server:
            missing = httpx.get(f"{server.url}/api/v1/does-not-exist", timeout=10)
            assert missing.status_code == 404
            failed = httpx.get(
                f"{server.url}/api/v1/items/1",
                headers={"Authorization": f"Bearer {secret}", "X-Request-ID": "forced-500"},
                timeout=10,
            )
            assert failed.status_code == 500, failed.text
            assert failed.json()["request_id"] == "forced-500"
            deadline = time.monotonic() + 10
            while not events(envelopes) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)  # a second report, if any, would have come by now
        reported = events(envelopes)
    assert len(reported) == 1, reported
    (event,) = reported
    assert event["tags"]["request_id"] == "forced-500"
    assert event["release"] == "traced@1.2.3"
    assert event["environment"] == "test"
    assert "ValueError" in json.dumps(event["exception"])
    headers = {name.lower() for name in event.get("request", {}).get("headers", {})}
    assert "authorization" not in headers
    assert all(secret.encode() not in envelope for envelope in envelopes)
    assert not any("does-not-exist" in json.dumps(e) for e in reported)


# Jobs on the project's own app, with its retry policy: one that fails (with an argument that
# must not be reported), one that fails twice with a transient error, then succeeds.
PROBE_TASKS = """
from {pkg}.settings import load_settings
from {pkg}.worker import celery_app
from {pkg}.worker.tasks import TransientError, retry_policy

policy = retry_policy(load_settings())


@celery_app.task(name="probe.broken", shared=False, **policy)
def broken(secret):
    raise ValueError("the job broke")


@celery_app.task(name="probe.flaky", bind=True, shared=False, **policy)
def flaky(task, secret):
    if task.request.retries < 2:
        raise TransientError("not yet")
    return task.request.retries
"""


@pytest.mark.parametrize(
    "project", answer_set_params(["sentry-celery-redis", "tracing-everything"]), indirect=True
)
def test_a_failed_job_is_reported_once_by_the_worker(project: Project, tmp_path: Path) -> None:
    import subprocess
    import sys

    queue = f"tplse-{secrets.token_hex(6)}"
    if project.facts.broker == "redis":
        env = {"CELERY_BROKER_URL": CELERY_REDIS_URL, "CELERY_RESULT_BACKEND": CELERY_REDIS_URL}
    else:
        env = {"CELERY_BROKER_URL": AMQP_URL, "CELERY_RESULT_BACKEND": "rpc://"}
    env |= {
        "CELERY_TASK_QUEUE": queue,
        "CELERY_TASK_RETRY_BACKOFF_MAX": "1",
        "CELERY_RESULT_EXPIRES": "60",  # the results of this run go by themselves
    }
    (tmp_path / "probe_tasks.py").write_text(PROBE_TASKS.format(pkg=project.package))
    (tmp_path / "probe_client.py").write_text(JOB_PROBE_CLIENT.format(pkg=project.package))
    pythonpath = f"src:{tmp_path}"
    secret = f"secret-{secrets.token_hex(8)}"
    try:
        with sentry_endpoint() as (dsn, envelopes):
            env |= {"SENTRY_DSN": dsn, "SENTRY_RELEASE": "worker@1.2.3"}
            with celery_worker(
                project,
                tmp_path,
                app="probe_tasks:celery_app",
                pool="prefork",
                pythonpath=pythonpath,
                **env,
            ) as worker:
                client = subprocess.run(
                    [
                        sys.executable,
                        str(tmp_path / "probe_client.py"),
                        json.dumps([secret]),
                        "probe.broken",
                        "probe.flaky",
                    ],
                    cwd=project.path,
                    env=clean_env(PYTHONPATH=pythonpath, ENVIRONMENT="test", **env),
                    capture_output=True,
                    text=True,
                    timeout=120,
                    check=False,
                )
                assert client.returncode == 0, client.stderr
                states = json.loads(client.stdout)
                output = worker.output()
                assert states["probe.broken"]["status"] == "failure", (states, output)
                assert states["probe.flaky"]["status"] == "success", (states, output)
                deadline = time.monotonic() + 10
                while not events(envelopes) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(1)  # a second report, if any, would have come by now
            reported = events(envelopes)
    finally:
        delete_celery_queue(project.facts.broker, CELERY_REDIS_URL, AMQP_URL, queue)
    assert len(reported) == 1, (reported, output)
    (event,) = reported
    assert event["tags"]["celery_task_id"] == states["probe.broken"]["id"]
    assert event["extra"]["celery-job"] == {"task_name": "probe.broken"}
    assert event["release"] == "worker@1.2.3"
    assert event["environment"] == "test"
    assert "the job broke" in json.dumps(event["exception"])
    # nowhere, not in a Sentry log either (Celery logs every job it receives with its arguments)
    assert all(secret.encode() not in envelope for envelope in envelopes)
