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

import contextlib
import hmac
import http.server
import logging
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .intake import BulkBodyError, ReceivedEvent, check_documents, parse_body

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "Receiver",
    "ReceiverStats",
]

logger = logging.getLogger("mozdef_client.receiver")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_CONNECTION_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 256
# After a 413 or 401 the client may still be sending; reading (and
# dropping) a bounded amount first lets it see the answer instead of a reset.
_DRAIN_BYTES = 64 * 1024 * 1024
_DRAIN_SECONDS = 2.0
# How often the serving loop looks for a close() and for connections past
# their deadline: the most close() waits, and how late a deadline may bite.
_POLL_SECONDS = 0.05
# Bursts of connections wait in the kernel's queue rather than being reset
# (socketserver's default is 5).
_LISTEN_BACKLOG = 1024
# A body may take the timeout plus this long per byte to arrive (256 KiB/s).
_BODY_SECONDS_PER_BYTE = 1 / (256 * 1024)
_DIGITS = re.compile(r"[0-9]{1,19}")

Sink = Callable[[Sequence[ReceivedEvent]], None]
# Answers a GET the intake does not: (path, client address) -> (status, body,
# content type), or None for 404. The web view (receiver_web.py) is one.
Pages = Callable[[str, str], "tuple[int, bytes, str] | None"]
# What every page answer carries: the web page runs only its own script and
# style and frames nothing. It shows event content as text; were anything ever
# to slip through, it could neither load nor send anything elsewhere.
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """Counters since the receiver started."""

    requests: int
    events: int
    invalid: int
    with_warnings: int
    rejected: int  # requests answered 4xx/5xx


def _route(raw_path: str) -> str | None:
    """The intake a request path names, normalised; ``None`` when unknown."""
    path = raw_path.split("?", 1)[0]
    if path in ("/events", "/events/"):
        return "/events"
    if path in ("/_bulk", "/_bulk/"):
        return "/_bulk"
    if path.startswith("/custom/") and len(path.strip("/")) > len("custom"):
        return path.rstrip("/")
    return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Answer even a garbage request line with a status line and headers
    # (the default, HTTP/0.9, would send a bare HTML page).
    default_request_version = "HTTP/1.0"
    server_version = "mozdef-client-receiver"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        # A per-connection socket timeout, and a deadline per request that the
        # serving loop enforces: a slow or silent client costs one thread for
        # a bounded time, never the whole receiver.
        self.connection.settimeout(self.server.connection_timeout)

    def handle_one_request(self) -> None:
        # Reading the request line and headers (or waiting idle for them on a
        # kept-alive connection) must end within the timeout, whatever the pace.
        self.server.start_reading(self.connection)
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _reply(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain",
        *,
        page_headers: bool = False,
    ) -> None:
        if status >= 400:
            self.server.count_rejected()
        self.send_response(status)
        if body:
            self.send_header("Content-Type", content_type)
        if page_headers:
            for name, value in SECURITY_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if status == 401:
            self.send_header("WWW-Authenticate", 'Bearer realm="mozdef"')
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The base class answers bad request lines and oversized headers here.
        self.server.count_rejected()
        super().send_error(code, message, explain)

    def do_GET(self) -> None:
        self.server.stop_reading(self.connection)
        if self.path.split("?", 1)[0].rstrip("/") == "/status":
            self._reply(200, b'{"status": "ok", "service": "loginput"}', "application/json")
            return
        page = self.server.pages(self.path, self.client_address[0]) if self.server.pages else None
        if page is None:
            self._reply(404, b"not found\n")
            return
        status, body, content_type = page
        self._reply(status, body, content_type, page_headers=True)

    def _intake(self) -> None:
        route = _route(self.path)
        length = self._content_length()
        if length is None:
            return
        if route is None:
            self._discard(length)
            self._reply(404, b"not found; MozDef takes /events, /_bulk and /custom/<app>\n")
            return
        if not self._authorised():
            self._discard(length)
            self._reply(401, b"unauthorised\n")
            return
        self.server.extend_deadline(self.connection, length * _BODY_SECONDS_PER_BYTE)
        body = self._read_body(length)
        self.server.stop_reading(self.connection)
        if body is None:
            return
        try:
            documents = parse_body(route, body)
        except BulkBodyError as exc:  # MozDef would answer 200 and lose the event
            self._reply(400, f"{exc}\n".encode())
            return
        except RecursionError:
            self._reply(400, b"invalid JSON: nested too deeply\n")
            return
        except ValueError as exc:
            self._reply(500, f"invalid JSON: {exc}\n".encode())
            return
        try:
            self.server.accept(route, documents)
        except Exception:
            logger.exception("the receiver could not store %d events", len(documents))
            self._reply(500, b"the receiver could not store the events\n")
            return
        self._reply(200)

    do_POST = do_PUT = _intake

    def _content_length(self) -> int | None:
        """The declared body length, or ``None`` after answering a bad one."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._reply(411, b"send a Content-Length; chunked bodies are not supported\n")
            return None
        headers = self.headers.get_all("Content-Length") or []
        if not headers:
            self.close_connection = True
            self._reply(411, b"Content-Length required\n")
            return None
        # Digits only, once: int() would also take "+10", "1_0" and " 10 ",
        # and two lengths leave it open where the body ends (request smuggling).
        if len(headers) > 1 or not _DIGITS.fullmatch(headers[0].strip(" \t")):
            self.close_connection = True
            self._reply(400, b"bad Content-Length\n")
            return None
        length = int(headers[0].strip(" \t"))
        if length > self.server.max_body_bytes:
            self._discard(length)
            self.close_connection = True
            self._reply(413, f"body over {self.server.max_body_bytes} bytes\n".encode())
            return None
        return length

    def _authorised(self) -> bool:
        expected = self.server.expected_authorization
        if expected is None:
            return True
        given = (self.headers.get("Authorization") or "").encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, expected)

    def _read_body(self, length: int) -> bytes | None:
        """The body, or ``None`` (connection closed) if the client sent less."""
        try:
            body = self.rfile.read(length)
        except OSError:  # the socket timeout: a slow or stalled client
            body = b""
        if len(body) == length:
            return body
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone
            self._reply(408, b"incomplete body\n")
        return None

    def _discard(self, length: int) -> None:
        """Read and drop up to ``length`` body bytes, boundedly."""
        if length <= self.server.max_body_bytes:
            try:
                self.rfile.read(length)
            except OSError:
                self.close_connection = True
            return
        self.close_connection = True
        deadline = time.monotonic() + _DRAIN_SECONDS
        left = min(length, _DRAIN_BYTES)
        try:
            self.connection.settimeout(0.2)
            while left > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        accept: Callable[[str, list[Any]], None],
        max_body_bytes: int,
        connection_timeout: float,
        max_connections: int,
        token: str | None,
    ) -> None:
        self.accept = accept
        self.max_body_bytes = max_body_bytes
        self.connection_timeout = connection_timeout
        self.max_connections = max_connections
        self.expected_authorization = (
            None if token is None else f"Bearer {token}".encode("utf-8", "surrogateescape")
        )
        self.rejected = 0
        self.pages: Pages | None = None
        # Each open connection, with (since, deadline) while it reads a request.
        self._connections: dict[socket.socket, tuple[float, float] | None] = {}
        self._connections_lock = threading.Lock()
        self.request_queue_size = _LISTEN_BACKLOG
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the FQDN of the address, which
        # can stall for seconds where reverse DNS is slow; nothing needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def count_rejected(self) -> None:
        with self._connections_lock:
            self.rejected += 1

    def start_reading(self, connection: socket.socket) -> None:
        now = time.monotonic()
        with self._connections_lock:
            if connection in self._connections:
                self._connections[connection] = (now, now + self.connection_timeout)

    def extend_deadline(self, connection: socket.socket, seconds: float) -> None:
        with self._connections_lock:
            reading = self._connections.get(connection)
            if reading is not None:
                self._connections[connection] = (reading[0], reading[1] + seconds)

    def stop_reading(self, connection: socket.socket) -> None:
        with self._connections_lock:
            if connection in self._connections:
                self._connections[connection] = None

    def service_actions(self) -> None:
        # Called by serve_forever between polls: cut connections past their deadline.
        now = time.monotonic()
        with self._connections_lock:
            late = [c for c, r in self._connections.items() if r is not None and r[1] < now]
            for connection in late:
                self._connections[connection] = None
        for connection in late:
            logger.debug("a connection took over %ss to send its request", self.connection_timeout)
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def process_request(self, request: Any, client_address: Any) -> None:
        evict = None
        with self._connections_lock:
            full = len(self._connections) >= self.max_connections
            if full:
                # Make room by ending the connection that has waited longest for
                # its request (slow, stalled or idle), not by refusing this one.
                reading = [(r[0], c) for c, r in self._connections.items() if r is not None]
                if reading:
                    evict = min(reading, key=lambda pair: pair[0])[1]
                    self._connections[evict] = None
                    full = False
            if not full:
                self._connections[request] = None
        if evict is not None:
            logger.warning("at %d connections: closing the slowest", self.max_connections)
            with contextlib.suppress(OSError):
                evict.shutdown(socket.SHUT_RDWR)
        if full:
            logger.warning("over %d connections: refusing one", self.max_connections)
            self.close_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every handler thread (idle keep-alive ones too) so it ends now."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-answer is normal; anything else is a bug
        # worth one log line, but never a crash or a traceback on the console.
        logger.debug("error serving %s", client_address, exc_info=True)


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
        self._server = _Server(
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
            args=(_POLL_SECONDS,),
            name=f"mozdef-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`close` (from another thread)."""
        self._server.serve_forever(_POLL_SECONDS)

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
