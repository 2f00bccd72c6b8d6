"""The receiver's HTTP side: routes, limits, the token, and connection deadlines.

:class:`IntakeServer` accepts connections, one thread each, gives every
request a deadline (a client that trickles its headers is cut off at
``connection_timeout``, however often it sends a byte) and, at the
connection cap, closes the connection that has waited longest for its
request. :class:`_Handler` answers one request: the intake paths go to
:func:`~.intake.parse_body` and then to the server's ``accept``; other GETs
to the ``pages`` callable (the web view). :class:`~.server.Receiver` puts
them together.
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
from collections.abc import Callable
from typing import Any

from ..errors import BulkBodyError
from .intake import parse_body

__all__ = ["POLL_SECONDS", "SECURITY_HEADERS", "IntakeServer", "Pages"]

logger = logging.getLogger("mozdef_client.receiver")

# After a 413 or 401 the client may still be sending; reading (and
# dropping) a bounded amount first lets it see the answer instead of a reset.
_DRAIN_BYTES = 64 * 1024 * 1024
_DRAIN_SECONDS = 2.0
# How often the serving loop looks for a close() and for connections past
# their deadline: the most close() waits, and how late a deadline may bite.
POLL_SECONDS = 0.05
# Bursts of connections wait in the kernel's queue rather than being reset
# (socketserver's default is 5).
_LISTEN_BACKLOG = 1024
# A body may take the timeout plus this long per byte to arrive (256 KiB/s).
_BODY_SECONDS_PER_BYTE = 1 / (256 * 1024)
_DIGITS = re.compile(r"[0-9]{1,19}")

# Answers a GET the intake does not: (path, client address) -> (status, body,
# content type), or None for 404. The web view (web.py) is one.
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
    server: IntakeServer

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


class IntakeServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
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
