"""Load for the fault tier: concurrent HTTP clients that record what became of every request.

`Load(url, clients, next_request)` runs `clients` clients in a thread of its own (one asyncio
loop, one httpx client per simulated client, so each keeps its own keep-alive connection) while
the test injects a fault; `stop()` returns an `Outcome` per request. A client that meets an
error sends its next request at once: a real client would retry, and the tier counts the
error.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import httpx


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: Any = None
    tag: str | None = None  # what the test wants to find again (an item's name)


@dataclass
class Outcome:
    request: Request
    client: int
    started: float  # time.monotonic() when the request was handed to the client
    ended: float
    status: int | None = None  # None when no response arrived
    error: str | None = None  # the httpx exception's class name
    retry_after: str | None = None
    body: Any = None
    # Sent on a connection that had answered before (kept alive), or on a new one (the first
    # request, or the one after an error or a `Connection: close` answer).
    reused: bool = False
    closed_by_server: bool = False  # the answer said `Connection: close`

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


# next_request(client, n): the n-th request of a client
NextRequest = Callable[[int, int], Request]


@dataclass
class Load:
    base_url: str
    clients: int
    next_request: NextRequest
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    keep_bodies: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._running = threading.Event()

    def __enter__(self) -> Self:
        self._thread.start()
        self._running.wait(10)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        self._thread.join(self.timeout + 10)
        return self.outcomes

    def wait_for(self, count: int, timeout: float = 60) -> None:
        """Until at least `count` requests have been answered (or failed)."""
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(self.outcomes)} of {count} requests answered")
            time.sleep(0.01)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._running.set()
        await asyncio.gather(*(self._client(number) for number in range(self.clients)))

    async def _client(self, number: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers, timeout=self.timeout, limits=limits
        ) as client:
            n = 0
            alive = False  # whether the client's connection is open and answered before
            while not self._stop.is_set():
                request = self.next_request(number, n)
                n += 1
                started = time.monotonic()
                outcome = Outcome(request, number, started, started, reused=alive)
                try:
                    response = await client.request(request.method, request.path, json=request.json)
                except httpx.HTTPError as exc:
                    outcome.error = type(exc).__name__
                    alive = False
                    await asyncio.sleep(0.01)
                else:
                    outcome.status = response.status_code
                    outcome.retry_after = response.headers.get("retry-after")
                    outcome.closed_by_server = response.headers.get("connection") == "close"
                    alive = not outcome.closed_by_server
                    if self.keep_bodies or response.status_code >= 400:
                        try:
                            outcome.body = response.json()
                        except ValueError:
                            outcome.body = response.text
                outcome.ended = time.monotonic()
                self.outcomes.append(outcome)


def tally(outcomes: Iterable[Outcome]) -> str:
    """`1,234 requests: 1,200×200, 34×503 (34 with Retry-After), 0 transport errors`"""
    outcomes = list(outcomes)
    statuses = Counter(o.status for o in outcomes if o.status is not None)
    errors = Counter(o.error for o in outcomes if o.error is not None)
    parts = []
    for status, count in sorted(statuses.items()):
        text = f"{count:,}×{status}"
        if status == 503:
            with_header = sum(1 for o in outcomes if o.status == 503 and o.retry_after)
            text += f" ({with_header:,} with Retry-After)"
        parts.append(text)
    parts += [f"{count:,}×{name}" for name, count in sorted(errors.items())]
    return f"{len(outcomes):,} requests: " + (", ".join(parts) or "none")


# The figures measured by this run's fault cases, printed at its end (tests/conftest.py).
FIGURES: list[str] = []
