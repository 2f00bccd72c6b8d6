"""Hostile peers on raw loopback sockets, for tests/test_hostile_servers.py.

A :class:`RawServer` accepts connections and hands each socket to a
behaviour (a function) on a daemon thread. Behaviours stop when the server
closes or the client goes away, so no test leaves a peer behind.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

Behaviour = Callable[[socket.socket, threading.Event], None]


class RawServer:
    """A TCP listener on 127.0.0.1 that runs ``behaviour`` for each connection."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.stop = threading.Event()
        self._connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            self._behaviour(conn, self.stop)

    def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        for conn in self._connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self._thread.join(5)


@contextlib.contextmanager
def serving(behaviour: Behaviour) -> Iterator[RawServer]:
    server = RawServer(behaviour)
    try:
        yield server
    finally:
        server.close()


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers and a Content-Length body); returns the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


def trickle(
    conn: socket.socket, stop: threading.Event, data: Iterator[bytes], pause: float
) -> None:
    """Send ``data`` one piece every ``pause`` seconds, until stopped or the client leaves."""
    for piece in data:
        if stop.wait(pause):
            return
        conn.sendall(piece)


def endless(prefix: bytes, filler: bytes) -> Iterator[bytes]:
    """``prefix`` byte by byte, then ``filler`` for ever."""
    for byte in prefix:
        yield bytes([byte])
    while True:
        yield filler


def flood(conn: socket.socket, stop: threading.Event, head: bytes, block: bytes,
          limit: int) -> None:  # fmt: skip
    """Send ``head``, then ``block`` again and again, up to ``limit`` bytes."""
    conn.sendall(head)
    sent = 0
    while sent < limit and not stop.is_set():
        conn.sendall(block)
        sent += len(block)


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakRSS:
    """Samples this process's RSS every few milliseconds while in use."""

    def __init__(self) -> None:
        self.start = rss_bytes()
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def run_bounded(function: Callable[[], Any], limit: float) -> tuple[float, Any]:
    """Run ``function`` on a thread; (seconds it took, what it returned or raised).

    Fails the test if it takes longer than ``limit`` (the thread is left to
    end when the test's server closes).
    """
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(function())
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - start
    assert not thread.is_alive(), f"still blocked after {limit} s"
    return took, outcome[0]
