"""tracing=otlp against real components: a running uvicorn process exports real OTLP/HTTP
(protobuf) to a receiver on 127.0.0.1 (tests/otlp.py), and a real Celery worker joins the trace.

- The spans of one authenticated item read (the SERVER span, its SQL statements, its cache's
  Redis commands) share one trace id; the server span carries the request's X-Request-ID.
- A job queued by a request runs in the worker under that request's trace id (both brokers;
  the solo pool and a prefork pool process).
- The log lines of the request carry its trace id and span id.
- With the receiver down, requests still succeed, quickly, and the server stops in time; the
  spans it never got are counted (a `spans_dropped` warning, `otel_spans_dropped_total`).
- Under gunicorn with two workers, each exports its own spans (set up after the fork).
- The probes and /metrics make no span.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth import auth_env, auth_headers
from tests.conftest import BIN, Project, answer_set_params, clean_env, run
from tests.otlp import Span, is_database_span, is_redis_span, otlp_receiver
from tests.servers import celery_worker, free_port, serve, servers
from tests.services import TEST_REDIS_URL, delete_celery_queue, postgres_database, redis_prefix

pytestmark = pytest.mark.parametrize(
    "project",
    answer_set_params(["tracing-sqlite-celery-redis", "tracing-everything"]),
    indirect=True,
)

ITEM_ROUTE = "GET /api/v1/items/{item_id}"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_REDIS_URL = "redis://127.0.0.1:6379/3"


@pytest.fixture
def env(project: Project, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A migrated database, Redis under a prefix of its own, a queue of its own, the admin."""
    queue = f"tpltr-{secrets.token_hex(6)}"
    with contextlib.ExitStack() as stack:
        if project.facts.is_postgresql:
            url = stack.enter_context(postgres_database("tpltr"))
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}"
        run([str(BIN / "alembic"), "upgrade", "head"], project.path, clean_env(DATABASE_URL=url))
        prefix = stack.enter_context(redis_prefix())
        values = {
            "DATABASE_URL": url,
            "REDIS_URL": TEST_REDIS_URL,
            "CACHE_KEY_PREFIX": f"{prefix}:cache:",
            "RATE_LIMIT_KEY_PREFIX": f"{prefix}:ratelimit",
            "RATE_LIMIT_DEFAULT": "100000/minute",
            "RATE_LIMIT_LOGIN": "1000/minute",
            "LOG_FORMAT": "json",
            "CELERY_TASK_QUEUE": queue,
            "CELERY_RESULT_EXPIRES": "60",  # the results of this run go by themselves
            # Export within a tenth of a second, not the SDK's five.
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **auth_env(project),
        }
        if project.facts.broker == "redis":
            values |= {
                "CELERY_BROKER_URL": CELERY_REDIS_URL,
                "CELERY_RESULT_BACKEND": CELERY_REDIS_URL,
            }
        else:
            values |= {"CELERY_BROKER_URL": AMQP_URL, "CELERY_RESULT_BACKEND": "rpc://"}
        yield values
        delete_celery_queue(project.facts.broker, CELERY_REDIS_URL, AMQP_URL, queue)


def _log_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
    return lines


def _events(output: str, event: str) -> list[dict[str, Any]]:
    return [line for line in _log_lines(output) if line.get("event") == event]


def _sample(metrics: str, series: str) -> float:
    """The value of one series in a Prometheus text exposition (0 when absent)."""
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def _server_span(spans: list[Span], request_id: str) -> Span | None:
    for span in spans:
        if span.kind == "SPAN_KIND_SERVER" and span.attributes.get(
            "http.response.header.x-request-id"
        ) == [request_id]:
            return span
    return None


def test_one_item_read_is_one_trace(project: Project, env: dict[str, str], tmp_path: Path) -> None:
    with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with serve(project, tmp_path, **env, **otel) as server:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                headers = auth_headers(project, client)
                created = client.post("/api/v1/items", json={"name": "traced"}, headers=headers)
                assert created.status_code == 201, created.text
                item = created.json()["id"]
                request_id = f"trace-{secrets.token_hex(8)}"
                read = client.get(
                    f"/api/v1/items/{item}", headers={**headers, "X-Request-ID": request_id}
                )
                assert read.status_code == 200, read.text
                assert client.get("/health/live").status_code == 200
                assert client.get("/health/ready").status_code == 200

            def complete(spans: list[Span]) -> bool:
                server_span = _server_span(spans, request_id)
                if server_span is None:
                    return False
                same = [s for s in spans if s.trace_id == server_span.trace_id]
                return any(map(is_database_span, same)) and any(map(is_redis_span, same))

            spans = receiver.wait_for(complete)
            output = server.output()

    server_span = _server_span(spans, request_id)
    assert server_span is not None
    assert server_span.name == ITEM_ROUTE
    assert server_span.resource["service.name"] == project.answers["project_slug"]
    assert server_span.resource["deployment.environment.name"] == "test"
    trace = [s for s in spans if s.trace_id == server_span.trace_id]
    # every span of the trace descends from the server span (none is a root of its own)
    ids = {s.span_id for s in trace}
    assert [s.name for s in trace if s.parent_span_id not in ids] == [ITEM_ROUTE]
    statements = [s for s in trace if is_database_span(s)]
    assert all(s.kind == "SPAN_KIND_CLIENT" for s in statements)
    assert any(
        "items" in str(s.attributes.get("db.query.text", s.attributes.get("db.statement")))
        for s in statements
    )
    assert any(is_redis_span(s) for s in trace)
    # the probes make no span, nor do their checks (a check's span would be a root of its own)
    assert not [s for s in spans if s.kind == "SPAN_KIND_SERVER" and "health" in s.name]
    # (start-up's own work, the first admin, is traced before the read: not counted)
    assert not [
        s
        for s in spans
        if not s.parent_span_id
        and s.kind != "SPAN_KIND_SERVER"
        and s.start_ns > server_span.start_ns
    ]

    # the request's log lines carry its trace id and the server span's id
    lines = [line for line in _log_lines(output) if line.get("request_id") == request_id]
    assert lines, output
    assert {line.get("trace_id") for line in lines} == {server_span.trace_id}
    access = [line for line in lines if line.get("event") == "request"]
    assert access, lines
    assert access[0]["span_id"] == server_span.span_id


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_a_job_runs_in_the_trace_of_its_request(
    project: Project, env: dict[str, str], tmp_path: Path, pool: str
) -> None:
    """solo: the job runs in the worker process; prefork (one process): in a pool process forked
    from it, which sets up its own exporter after the fork (a thread does not survive one)."""
    with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
        with (
            serve(project, tmp_path, **env, **otel) as server,
            celery_worker(project, tmp_path, pool=pool, **env, **otel) as worker,
        ):
            with httpx.Client(base_url=server.url, timeout=10) as client:
                headers = auth_headers(project, client)
                request_id = f"job-{secrets.token_hex(8)}"
                queued = client.post(
                    "/api/v1/jobs",
                    json={"numbers": [1, 2]},
                    headers={**headers, "X-Request-ID": request_id},
                )
                assert queued.status_code == 202, queued.text
                job = queued.json()["id"]
                deadline = time.monotonic() + 30
                while client.get(f"/api/v1/jobs/{job}", headers=headers).json()["status"] != (
                    "success"
                ):
                    assert time.monotonic() < deadline, worker.output()
                    time.sleep(0.1)

            def joined(spans: list[Span]) -> bool:
                server_span = _server_span(spans, request_id)
                return server_span is not None and any(
                    s.kind == "SPAN_KIND_CONSUMER" and s.trace_id == server_span.trace_id
                    for s in spans
                )

            # while the worker runs: exported by its exporter thread, not by its shutdown's flush
            spans = receiver.wait_for(joined)
    server_span = _server_span(spans, request_id)
    assert server_span is not None
    assert server_span.name == "POST /api/v1/jobs"
    trace = [s for s in spans if s.trace_id == server_span.trace_id]
    kinds = {s.kind for s in trace}
    assert {"SPAN_KIND_SERVER", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"} <= kinds, trace
    (run_span,) = [s for s in trace if s.kind == "SPAN_KIND_CONSUMER"]
    assert run_span.attributes.get("celery.task_name", run_span.name).endswith("sum_numbers")


def test_an_unreachable_collector_never_slows_a_request(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    nobody = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    with serve(project, tmp_path, **env, **nobody) as server:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            headers = auth_headers(project, client)
            created = client.post("/api/v1/items", json={"name": "untraced"}, headers=headers)
            assert created.status_code == 201, created.text
            path = f"/api/v1/items/{created.json()['id']}"
            durations = []
            # over a second: several export attempts fail while requests are served
            for _ in range(60):
                start = time.perf_counter()
                assert client.get(path, headers=headers).status_code == 200
                durations.append(time.perf_counter() - start)
                time.sleep(0.02)
        assert statistics.median(durations) < 0.1, durations
        assert max(durations) < 1.0, durations
        # the spans the collector never got are counted: a warning at once (then one a
        # minute), and on /metrics
        deadline = time.monotonic() + 20
        while not (dropped := _events(server.output(), "spans_dropped")):
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.1)
        assert dropped[0]["level"] == "warning"
        failed = dropped[0]["dropped"]["export_failed"]
        assert failed > 0
        if project.facts.has_metrics:
            metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
            counted = _sample(metrics, 'otel_spans_dropped_total{reason="export_failed"}')
            assert counted >= failed, metrics
        start = time.monotonic()
        server.stop()
        # the shutdown's flush is bounded (SHUTDOWN_FLUSH_SECONDS), not the export's retries
        assert time.monotonic() - start < 10
        assert "Application shutdown complete" in server.output()


def test_every_gunicorn_worker_exports_its_own_spans(
    project: Project, env: dict[str, str], tmp_path: Path
) -> None:
    """Two workers, each set up after the fork: the server span of every request arrives (an
    exporter thread set up in the master would not survive the fork)."""
    if not project.facts.has_docker:
        pytest.skip("gunicorn.conf.py comes with docker")
    gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py"]
    with otlp_receiver() as receiver:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "WORKERS": "2"}
        with servers(project.path, gunicorn, tmp_path, {**env, **otel}) as (server,):
            ids = [f"gunicorn-{n}-{secrets.token_hex(4)}" for n in range(20)]
            for request_id in ids:
                # a new connection each time: the kernel spreads them over the workers
                response = httpx.get(
                    f"{server.url}/api/v1/info", headers={"X-Request-ID": request_id}, timeout=10
                )
                assert response.status_code == 200, response.text
            spans = receiver.wait_for(lambda got: all(_server_span(got, i) for i in ids))
    assert {span.resource["service.name"] for span in spans} == {project.answers["project_slug"]}
