"""Structured logging: JSON lines in production, readable console output in development.

Every line goes to standard error through one renderer, so each carries the request id the
request middleware sets (a plain context variable: one set and one reset per request). The
service's own loggers are structlog's native ones: a line costs a few microseconds, where the
standard library's machinery (records, handlers, locks) costs several times that, on every
request's access log line. The libraries' records (uvicorn,
SQLAlchemy, Celery, ...) go through the standard library and the same renderer.

Loggers are not cached, so `configure_logging` applies at once everywhere and tests can capture
events with `structlog.testing.capture_logs()`.

No secret reaches a line: `redact_secrets`, the last step before rendering, blanks out tokens
and passwords in query strings (uvicorn logs each WebSocket's path with its `?token=`),
bearer credentials and anything shaped like a JWT, in every string value of every line, the
service's own and the libraries' (their messages and tracebacks) alike. Tracebacks are
rendered as plain text, without local variables, in both formats.
"""

import json
import logging
import logging.config
import re
import sys
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, WrappedLogger

Level = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# The id of the request being served: set by the request middleware, added to every line.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class StderrLogger:
    """Where structlog's rendered lines go: the current `sys.stderr`, one write per line."""

    def __init__(self, name: str = "") -> None:
        self.name = name  # read by `add_logger_name`

    def msg(self, line: str) -> None:
        stream = sys.stderr
        stream.write(line + "\n")
        stream.flush()

    debug = info = warning = error = critical = exception = msg


def add_request_id(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    request_id = REQUEST_ID.get()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


REDACTED = "[redacted]"
# `token=...`, `access_token=...`, `password=...` in a query string or a form body.
_SECRET_PARAMETER = re.compile(
    r"(?<![A-Za-z0-9_])((?:access_|refresh_|id_)?token|password|secret|client_secret|api_key)"
    r"=[^&\s\"']+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """`text` with every token, password and bearer credential in it replaced by [redacted]."""
    if "=" in text:
        text = _SECRET_PARAMETER.sub(rf"\1={REDACTED}", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    if "earer" in text:
        text = _BEARER.sub(rf"\1{REDACTED}", text)
    return text


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    # Most values hold none of the markers: three substring tests, no regular expression.
    for key, value in event_dict.items():
        if type(value) is str and ("=" in value or "eyJ" in value or "earer" in value):
            event_dict[key] = redact(value)
    return event_dict


def json_line(event_dict: EventDict, **kwargs: Any) -> str:
    """One JSON line with orjson, several times faster than the standard library's encoder (a
    third of an access log line's cost). What orjson refuses (an integer beyond 64 bits) is
    written by the standard library instead: logging never fails a request."""
    try:
        return orjson.dumps(event_dict, default=kwargs.get("default")).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(event_dict, **kwargs)


def configure_logging(
    level: Level, log_format: Literal["json", "console"], processors: Sequence[Any] = ()
) -> None:
    """`processors` add fields of their own to every line, after the request id."""
    shared: list[Any] = [
        add_request_id,
        *processors,
        structlog.contextvars.merge_contextvars,  # whatever else code binds with bind_contextvars
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks as text (no local variables, which may hold secrets), then redacted.
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer(serializer=json_line)
    else:
        renderer = structlog.dev.ConsoleRenderer()

    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=StderrLogger,
        cache_logger_on_first_use=False,
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structlog": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "structlog"}},
            "root": {"handlers": ["default"], "level": level},
            "loggers": {
                # The request middleware writes the access log, with the request id.
                "uvicorn.access": {"handlers": [], "propagate": False},
                # uvicorn's own lines (its WebSocket lines carry `?token=`) go through the
                # pipeline above: `uvicorn.run` gave their parent logger a handler of its own.
                "uvicorn": {"handlers": [], "propagate": True},
                "uvicorn.error": {"handlers": [], "propagate": True},
            },
        }
    )


def get_logger(name: str) -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger(name)
    return logger


def current_request_id() -> str | None:
    """The id of the request being served, set by the request middleware."""
    return REQUEST_ID.get()
