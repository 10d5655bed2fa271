"""An OTLP/HTTP trace receiver on 127.0.0.1 for the tracing tests: no exporter is mocked.

The rendered project exports with the real OpenTelemetry SDK (OTLP/HTTP, protobuf) to this
server, which decodes each `ExportTraceServiceRequest` with the official `opentelemetry-proto`
messages and keeps the spans.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

KIND_NAMES = {value: name for name, value in ProtoSpan.SpanKind.items()}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


@dataclass(frozen=True)
class Span:
    name: str
    kind: str  # SPAN_KIND_SERVER, SPAN_KIND_CLIENT, ...
    trace_id: str  # hex, as the log lines write it
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    start_ns: int


@dataclass
class Receiver:
    endpoint: str  # OTEL_EXPORTER_OTLP_ENDPOINT
    spans: list[Span] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, predicate: Callable[[list[Span]], bool], timeout: float = 20) -> list[Span]:
        """The spans received so far, once `predicate` holds for them."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                spans = list(self.spans)
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                shown = "\n".join(f"  {s.kind} {s.name} {s.trace_id} {s.attributes}" for s in spans)
                raise AssertionError(f"the spans received do not match:\n{shown}")
            time.sleep(0.1)


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    receiver = Receiver(endpoint="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path != "/v1/traces":
                self.send_response(404)
                self.end_headers()
                return
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received: list[Span] = []
            for resource_spans in request.resource_spans:
                resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        received.append(
                            Span(
                                name=span.name,
                                kind=KIND_NAMES[span.kind],
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_span_id=span.parent_span_id.hex(),
                                attributes={a.key: _value(a.value) for a in span.attributes},
                                resource=resource,
                                start_ns=span.start_time_unix_nano,
                            )
                        )
            with receiver.lock:
                receiver.spans.extend(received)
                receiver.requests += 1
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def is_database_span(span: Span) -> bool:
    """A SQL statement's span, by its semantic-convention attributes (not its name)."""
    system = span.attributes.get("db.system.name", span.attributes.get("db.system"))
    statement = span.attributes.get("db.query.text", span.attributes.get("db.statement"))
    return system in {"sqlite", "postgresql"} and bool(statement)


def is_redis_span(span: Span) -> bool:
    system = span.attributes.get("db.system.name", span.attributes.get("db.system"))
    return system == "redis"
