"""How uvicorn serves the app, under `serve` and under gunicorn's workers: a graceful drain.

When uvicorn stops (SIGTERM, or a gunicorn worker recycled after MAX_REQUESTS) it finishes the
requests in progress, answering them with `Connection: close`, and closes every idle
keep-alive connection at once. A client that sent its next request on such a connection in
that instant gets no answer ("Server disconnected without sending a response", or a reset):
sent, and lost. `DrainingHttpToolsProtocol` does not close an idle connection when the server
stops: its next request is answered, with `Connection: close`, and the client opens a new
connection (to another worker or replica). A connection that stays idle is closed when its
keep-alive timeout (KEEPALIVE_TIMEOUT) ends, as it would be while the server runs; the stop
waits for that at most.

With several workers (`WORKERS`), `serve` runs uvicorn's supervisor, whose process holds the
listening socket too. On SIGTERM it stopped its workers but kept listening until it exited:
connections made in that second were accepted by the kernel, their requests sent, and then
reset. `DrainingMultiprocess` closes the supervisor's socket first, as gunicorn's master does:
once the workers have stopped accepting, a new connection is refused, which a client or a load
balancer can retry anywhere without doubt.
"""

import importlib
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, whose idle keep-alive connections drain on shutdown."""

    draining = False

    def shutdown(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.draining = True  # idle: its next request is answered, then it is closed
        else:
            self.cycle.keep_alive = False  # in progress: answered with `Connection: close`

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.draining and self.cycle is not None:
            self.cycle.keep_alive = False


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor of several workers, which stops listening as soon as it stops."""

    def handle_term(self) -> None:
        self._stop_listening()
        super().handle_term()

    def handle_int(self) -> None:
        self._stop_listening()
        super().handle_int()

    def _stop_listening(self) -> None:
        for sock in self.sockets:  # the workers keep their own copies until they stop
            sock.close()


def run(app: str, **options: Any) -> None:
    """`uvicorn.run(app, **options)`, its workers supervised by `DrainingMultiprocess`."""
    # uvicorn.run starts its supervisor by this module-level name; should a future uvicorn
    # start it otherwise, this changes nothing and its own supervisor runs. (`uvicorn.main` the
    # attribute is the command-line function: the module is imported by name.)
    runner = importlib.import_module("uvicorn.main")
    if getattr(runner, "Multiprocess", None) is Multiprocess:
        setattr(runner, "Multiprocess", DrainingMultiprocess)  # noqa: B010
    uvicorn.run(app, http=DrainingHttpToolsProtocol, **options)
