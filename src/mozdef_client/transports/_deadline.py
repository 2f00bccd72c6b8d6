"""A total deadline for one blocking exchange on a socket (an HTTP request).

Socket timeouts bound each read, not the whole: a server that trickles its
answer one byte at a time, or sends ``100 Continue`` without end, never trips
them. A watchdog thread shuts the socket down when the deadline passes; the
blocked read then returns or fails at once, in whatever layer (http.client,
urllib3, ssl) it is, and the transport reports the deadline.

Why a watchdog rather than a timeout recomputed before each read: the reads
happen deep inside http.client and ssl, which take the socket's timeout as
set; a shutdown from outside works for all of them, costs the request a dict
insert and removal, and one idle thread per process.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .. import _process

__all__ = ["Deadline", "WatchedConnection", "deadline", "watch"]


class Deadline:
    """One exchange's deadline: the connection it watches, and whether it fired."""

    __slots__ = ("at", "connection", "fired")

    def __init__(self, at: float) -> None:
        self.at = at
        self.connection: Any = None  # anything with a .sock attribute
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        sock = getattr(self.connection, "sock", None)
        if sock is not None:
            # Already closed: nothing is blocked on it.
            with contextlib.suppress(OSError, ValueError):
                sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread that fires deadlines; started on first use."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._active: dict[int, Deadline] = {}
        self._next_wake = float("inf")
        self._thread: threading.Thread | None = None

    def arm(self, item: Deadline) -> None:
        with self._condition:
            self._active[id(item)] = item
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="mozdef-deadline-watchdog", daemon=True
                )
                self._thread.start()
            if item.at < self._next_wake:
                self._condition.notify()

    def disarm(self, item: Deadline) -> None:
        with self._condition:
            self._active.pop(id(item), None)

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                for key, item in list(self._active.items()):
                    if item.at <= now:
                        del self._active[key]
                        item.fire()
                self._next_wake = min((item.at for item in self._active.values()),
                                      default=float("inf"))  # fmt: skip
                timeout = None if not self._active else max(0.0, self._next_wake - now)
                self._condition.wait(timeout)

    def reset_after_fork(self) -> None:
        # The thread did not survive the fork; deadlines of the parent's requests are not ours.
        self.__init__()  # type: ignore[misc]


_WATCHDOG = _Watchdog()
_process.at_fork("connections", _WATCHDOG.reset_after_fork)
_current = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound what this thread does on the connection :func:`watch` names to ``seconds``."""
    item = Deadline(time.monotonic() + seconds)
    outer: Deadline | None = getattr(_current, "deadline", None)
    _current.deadline = item
    _WATCHDOG.arm(item)
    try:
        yield item
    finally:
        _WATCHDOG.disarm(item)
        _current.deadline = outer  # e.g. a connection closed while a send's deadline runs


def watch(connection: Any) -> None:
    """Put ``connection`` under the calling thread's current deadline, if any."""
    item: Deadline | None = getattr(_current, "deadline", None)
    if item is not None:
        item.connection = connection
        if item.fired:
            item.fire()  # it passed while the socket was still being opened


class WatchedConnection:
    """Mixin for an http.client-style connection: it puts itself under the
    calling thread's deadline when it connects and when it sends a request.
    """

    def connect(self) -> None:
        watch(self)
        super().connect()  # type: ignore[misc]
        watch(self)  # the socket now exists: fire on it if the deadline already passed

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch(self)
        super().request(*args, **kwargs)  # type: ignore[misc]
