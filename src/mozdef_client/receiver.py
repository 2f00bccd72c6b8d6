"""A development receiver compatible with MozDef's HTTP intake (loginput).

Accepts ``POST``/``PUT /events`` (one JSON event), ``POST /_bulk`` (a JSON
array or NDJSON; lines with an ``index`` key are skipped), ``/custom/<app>``
and answers ``GET /status``. It answers 200 with an empty body, and 500 on
invalid JSON, as MozDef does. Binds loopback by default; for development and
tests, not production.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ReceivedEvent", "Receiver"]

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedEvent:
    """One event as it arrived: the path it came to and the decoded document."""

    path: str
    document: Any


def parse_body(path: str, body: bytes) -> list[Any]:
    """The events in a request body, the way MozDef's loginput reads them.

    Raises:
        ValueError: the body is not valid JSON (MozDef answers 500).
    """
    text = body.decode("utf-8")
    if path.rstrip("/").endswith("/_bulk"):
        stripped = text.strip()
        if stripped.startswith("["):
            return [doc for doc in json.loads(stripped)]
        documents = []
        for line in stripped.splitlines():
            if not line.strip():
                continue
            document = json.loads(line)
            if isinstance(document, dict) and "index" in document:
                continue
            documents.append(document)
        return documents
    return [json.loads(text)]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/status":
            self._reply(200, b'{"status": "ok", "service": "loginput"}')
        else:
            self._reply(404)

    def _intake(self) -> None:
        path = self.path.split("?", 1)[0]
        if not (path.rstrip("/") in ("/events", "/_bulk") or path.startswith("/custom/")):
            self._reply(404)
            return
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self.close_connection = True
            self._reply(411)
            return
        if length < 0 or length > self.server.max_body_bytes:
            self.close_connection = True
            self._reply(413)
            return
        body = self.rfile.read(length)
        try:
            documents = parse_body(path, body)
        except ValueError:
            self._reply(500)
            return
        self.server.on_events([ReceivedEvent(path, doc) for doc in documents])
        self._reply(200)

    do_POST = do_PUT = _intake


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    max_body_bytes: int
    on_events: Callable[[list[ReceivedEvent]], None]


class Receiver:
    """A MozDef-compatible HTTP intake running in a background thread.

    Args:
        host, port: where to listen (port 0 picks a free one).
        on_events: called with each request's events (from the server's thread).
        max_body_bytes: larger requests are answered 413.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_events: Callable[[list[ReceivedEvent]], None] | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._lock = threading.Lock()
        self._events: list[ReceivedEvent] = []
        self._callback = on_events
        self._server = _Server((host, port), _Handler)
        self._server.max_body_bytes = max_body_bytes
        self._server.on_events = self._record
        self.host, self.port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def _record(self, events: list[ReceivedEvent]) -> None:
        with self._lock:
            self._events.extend(events)
        if self._callback is not None:
            self._callback(events)

    @property
    def events(self) -> list[ReceivedEvent]:
        with self._lock:
            return list(self._events)

    def start(self) -> Receiver:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
