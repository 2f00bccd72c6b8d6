"""Real peers for the tests: an HTTP receiver that can misbehave, a syslog sink.

The receiver speaks HTTP/1.1 with keep-alive, records every request, and
answers from a script of faults before falling back to 200:

    receiver.script(503, 503)                 # two 503s, then 200s
    receiver.script(Fault(429, retry_after="1"))
    receiver.script(Fault(hang=2.0))          # accept, then say nothing for 2 s
    receiver.script(Fault(reset=True))        # close the socket without answering
    receiver.script(Fault(delay=5.0))         # record the request, answer 5 s later

It can also run as its own process (``python tests/servers.py PORT``) for
tests that kill and restart the receiver.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from mozdef_client.ndjson import read_documents


@dataclass(frozen=True)
class Fault:
    status: int = 200
    retry_after: str | None = None
    hang: float = 0.0
    reset: bool = False
    body: bytes = b""
    delay: float = 0.0  # seconds between recording the request and answering it


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    client_port: int = 0  # the sender's TCP port: one per connection

    @property
    def documents(self) -> list[Any]:
        """The JSON events in the body (one object, an array, or NDJSON)."""
        text = self.body.decode("utf-8").strip()
        if not text:
            return []
        if self.path.rstrip("/").endswith("/_bulk"):
            return read_documents(text)
        return [json.loads(text)]


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)
    faults: collections.deque[Fault] = field(default_factory=collections.deque)
    requests: list[Request] = field(default_factory=list)
    # The subprocess receiver's log of accepted events; with it, a request is
    # logged and answered under ``answering``, so a kill never splits the two.
    log: Any = None
    answering: threading.Lock = field(default_factory=threading.Lock)
    # With chaos on (the subprocess receiver's third argument), some requests
    # are refused by turns: 503, 429 (Retry-After 0), and 413 for batches.
    chaos: bool = False
    served: int = 0

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state = self.server.state
        with state.lock:
            fault = state.faults.popleft() if state.faults else Fault()
            state.served += 1
            if state.chaos:
                fault = _chaos(state.served, body)
        if fault.reset:
            # RST rather than FIN: SO_LINGER with a zero timeout.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault.hang:
            time.sleep(fault.hang)
            self.close_connection = True
            return
        request = Request(
            self.command, self.path, dict(self.headers.items()), body, fault.status,
            self.client_address[1],
        )  # fmt: skip
        with state.answering if state.log is not None else contextlib.nullcontext():
            with state.changed:
                state.requests.append(request)
                if state.log is not None and 200 <= fault.status < 300:
                    state.log.write("".join(json.dumps(d) + "\n" for d in request.documents))
                    state.log.flush()
                state.changed.notify_all()
            if fault.delay:
                time.sleep(fault.delay)
                self.close_connection = True
            # After a delay the sender may be gone: that is not the receiver's error.
            with contextlib.suppress(OSError) if fault.delay else contextlib.nullcontext():
                self.send_response(fault.status)
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.send_header("Content-Length", str(len(fault.body)))
                self.end_headers()
                self.wfile.write(fault.body)

    do_POST = do_PUT = _handle

    def do_GET(self) -> None:
        body = b'{"status": "ok", "service": "loginput"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _chaos(number: int, body: bytes) -> Fault:
    if number % 7 == 3:
        return Fault(503)
    if number % 11 == 5:
        return Fault(429, retry_after="0")
    if number % 13 == 7 and body.count(b"\n") > 1:  # a batch: the sender splits it
        return Fault(413)
    return Fault()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State


class Receiver:
    """An HTTP receiver on a free loopback port, in a thread of the test process."""

    def __init__(self, port: int = 0, ssl_context: Any = None) -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = _State()
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        scheme = "https" if ssl_context is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self.url = f"{self.base_url}/events"
        self.bulk_url = f"{self.base_url}/_bulk"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def script(self, *faults: Fault | int) -> None:
        """Answer the next requests with these faults (or statuses), in order."""
        with self._server.state.lock:
            for fault in faults:
                self._server.state.faults.append(
                    Fault(status=fault) if isinstance(fault, int) else fault
                )

    @property
    def requests(self) -> list[Request]:
        with self._server.state.lock:
            return list(self._server.state.requests)

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if 200 <= r.status < 300]

    @property
    def events(self) -> list[Any]:
        """Every event the receiver answered 2xx for, in arrival order."""
        return [doc for request in self.accepted for doc in request.documents]

    def wait_for_events(self, count: int, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        state = self._server.state
        with state.changed:
            while True:
                events = [
                    doc for r in state.requests if 200 <= r.status < 300 for doc in r.documents
                ]
                remaining = deadline - time.monotonic()
                if len(events) >= count or remaining <= 0:
                    return events
                state.changed.wait(remaining)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class SyslogSink:
    """A unix datagram socket that records what a syslog client writes to it."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self._dir.name, "log.sock")
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(self.path)
        self._socket.settimeout(0.2)
        self._lines: list[bytes] = []
        self._lock = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data = self._socket.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._lines.append(data)
                self._lock.notify_all()

    def wait_for_lines(self, count: int, timeout: float = 5.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._lines) < count and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            return list(self._lines)

    @property
    def lines(self) -> list[bytes]:
        with self._lock:
            return list(self._lines)

    def close(self) -> None:
        self._running = False
        self._socket.close()
        self._thread.join(2)
        self._dir.cleanup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    # A receiver in its own process, for tests that kill and restart it.
    # Every accepted event is appended to the file given as the second argument
    # before it is answered. SIGTERM kills it at once (connections dropped,
    # nothing cleaned up), but never between logging a request and answering it.
    port, log_path = int(sys.argv[1]), sys.argv[2]
    receiver = Receiver(port)
    state = receiver._server.state
    state.log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115
    state.chaos = sys.argv[3:] == ["chaos"]

    def die(signum: int, frame: Any) -> None:
        state.answering.acquire()
        os._exit(0)

    signal.signal(signal.SIGTERM, die)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()
