"""A development receiver compatible with MozDef's HTTP intake (loginput).

Accepts ``POST``/``PUT /events`` (one JSON event), ``POST /_bulk`` (a JSON
array or NDJSON; lines with an ``index`` key are skipped), ``/custom/<app>``
(any JSON document) and answers ``GET /status``. It answers 200 with an
empty body, and 500 on invalid JSON, as MozDef does. Where MozDef would
answer 200 but lose events, it says so instead: a ``/_bulk`` body of one
JSON object is answered 400 (MozDef would publish its key names as junk).
Every event is checked against MozDef's format; the findings travel with it
as :class:`ReceivedEvent` ``errors`` (e.g. "MozDef would strip this" for a
vulnerability document outside ``/custom/vulnerability``) and ``warnings``.

It binds loopback by default, caps body sizes (413), can demand a bearer
token (401), and answers malformed HTTP with a 4xx instead of crashing.
Each connection has its own thread and a deadline for each request (a
client that trickles its headers is cut off at ``connection_timeout``, however
often it sends a byte); at the connection cap, the connection that has waited
longest for its request makes room for a new one, so slow clients cannot lock
out the rest. For development and tests, not production.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .http_intake import POLL_SECONDS, IntakeServer, Pages
from .intake import ReceivedEvent, check_documents

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Receiver",
    "ReceiverStats",
]

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_CONNECTION_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 256
Sink = Callable[[Sequence[ReceivedEvent]], None]


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """Counters since the receiver started."""

    requests: int
    events: int
    invalid: int
    with_warnings: int
    rejected: int  # requests answered 4xx/5xx


class Receiver:
    """A MozDef-compatible HTTP intake running in a background thread.

    Args:
        host, port: where to listen (port 0 picks a free one).
        on_events: called with each request's events, from the request's
            thread; more can be added with :meth:`add_sink`.
        max_body_bytes: larger requests are answered 413.
        token: when set, requests to the intake must carry
            ``Authorization: Bearer <token>`` (401 otherwise); ``/status`` is open.
        keep: remember the events for :attr:`events` (turn off for long runs).
        connection_timeout: seconds a connection may stay silent.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_events: Sink | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        token: str | None = None,
        keep: bool = True,
        connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self._changed = threading.Condition()
        self._events: list[ReceivedEvent] = []
        self._keep = keep
        self._counts = [0, 0, 0, 0]  # requests, events, invalid, with warnings
        self._sinks: list[Sink] = [] if on_events is None else [on_events]
        self._server = IntakeServer(
            (host, port),
            accept=self._accept,
            max_body_bytes=max_body_bytes,
            connection_timeout=connection_timeout,
            max_connections=max_connections,
            token=token,
        )
        self.host = host
        self.port: int = self._server.server_address[1]
        bracketed = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{bracketed}:{self.port}"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"Receiver({self.base_url!r})"

    @property
    def url(self) -> str:
        """Where single events go: ``<base_url>/events``."""
        return f"{self.base_url}/events"

    @property
    def bulk_url(self) -> str:
        """Where batches go: ``<base_url>/_bulk``."""
        return f"{self.base_url}/_bulk"

    def add_sink(self, sink: Sink) -> None:
        """Also hand each request's events to ``sink`` (a store, a printer)."""
        self._sinks.append(sink)

    def serve_pages(self, pages: Pages) -> None:
        """Answer GET requests other than ``/status`` with ``pages`` (the web view)."""
        self._server.pages = pages

    def _accept(self, path: str, documents: list[Any]) -> None:
        now = time.time()
        events = check_documents(path, documents, now)
        for sink in self._sinks:
            sink(events)
        invalid = sum(1 for event in events if event.errors)
        warned = sum(1 for event in events if event.warnings)
        with self._changed:
            counts = self._counts
            counts[0] += 1
            counts[1] += len(events)
            counts[2] += invalid
            counts[3] += warned
            if self._keep:
                self._events.extend(events)
            self._changed.notify_all()

    @property
    def events(self) -> list[ReceivedEvent]:
        """The events received so far, in arrival order (when ``keep``)."""
        with self._changed:
            return list(self._events)

    def clear(self) -> None:
        """Forget the events received so far."""
        with self._changed:
            self._events.clear()

    def stats(self) -> ReceiverStats:
        with self._changed:
            requests, events, invalid, warned = self._counts
        return ReceiverStats(requests, events, invalid, warned, self._server.rejected)

    def wait_for_events(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``count`` events have arrived; false on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._counts[1] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def start(self) -> Receiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            args=(POLL_SECONDS,),
            name=f"mozdef-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`close` (from another thread)."""
        self._server.serve_forever(POLL_SECONDS)

    def close(self) -> None:
        """Stop listening and end every connection's thread."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
