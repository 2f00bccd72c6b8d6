"""Local syslog transport: one line of flattened JSON per event on a unix socket.

Syslog has no acknowledgement: an event counts as delivered once the socket
took it. Messages over ``max_message_bytes`` raise
:class:`EventTooLargeError`; they are never silently cut, since a cut JSON
line is useless to MozDef.

With ``when_unavailable="drop"`` (what the 1.1 classes use, since 1.1's
``syslog.syslog()`` never failed) a missing or refusing socket raises
:class:`DroppedError` instead: clients count the event as dropped and go on
with the other destinations, and the library's logger warns once per process
and socket. A line too large is still an error: that is the event's fault.

A daemon that stops reading fills its socket's queue, and a write then
blocks: each ``send()`` waits at most ``timeout`` seconds in all, then fails
with :class:`RetryableError` (with ``"drop"``: :class:`DroppedError`).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .._checks import is_number, is_whole
from ..errors import ConfigurationError, DroppedError, EventTooLargeError, RetryableError
from ..event import default_processname
from ..severity import Facility
from ._failures import CATCH_ALL, Rule, os_detail, translating
from ._syslog_format import clean_header_field, rfc3164_header, syslog_priority
from .base import EncodedEvent

__all__ = ["SYSLOG_FAILURES", "SyslogOptions", "SyslogTransport", "syslog_priority"]

#: Foreign exceptions of writing to the local socket (``EMSGSIZE`` is
#: recognised first: an :class:`EventTooLargeError`).
SYSLOG_FAILURES = (
    Rule((OSError,), RetryableError, "could not write to"),
    CATCH_ALL,
)

logger = logging.getLogger("mozdef_client.syslog")


@dataclass(frozen=True, kw_only=True)
class SyslogOptions:
    """Where and how to write to the local syslog daemon.

    Args:
        socket_path: the daemon's unix socket.
        ident: the program name shown in the log line (default: this program's).
        facility: a :class:`Facility`, its name (``"local0"``) or a stdlib
            ``syslog.LOG_*`` value.
        max_message_bytes: the largest line sent (rsyslog's default is 8 KiB).
        when_unavailable: ``"raise"`` a :class:`RetryableError` when the socket
            is missing or refuses, or ``"drop"`` the event
            (:class:`DroppedError`: counted, warned once, never raised to the
            caller); a daemon that does not take the lines in time counts
            as unavailable too.
        timeout: the most seconds one ``send()`` may wait for the daemon to
            take its lines (when its socket's queue is full).
    """

    socket_path: str = "/dev/log"
    ident: str | None = None
    facility: Facility = Facility.USER
    max_message_bytes: int = 8192
    when_unavailable: Literal["raise", "drop"] = "raise"
    timeout: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "facility", Facility.parse(self.facility))
        if not isinstance(self.socket_path, str) or not self.socket_path:
            raise ConfigurationError("syslog socket_path must be a non-empty path")
        if self.ident is not None and (not isinstance(self.ident, str) or " " in self.ident):
            raise ConfigurationError("syslog ident must be a string without spaces")
        if not is_whole(self.max_message_bytes, at_least=480):
            raise ConfigurationError("max_message_bytes must be an integer of at least 480")
        if self.when_unavailable not in ("raise", "drop"):
            raise ConfigurationError("when_unavailable must be 'raise' or 'drop'")
        if not is_number(self.timeout, above=0):
            raise ConfigurationError("syslog timeout must be a positive number of seconds")


class SyslogTransport:
    """Writes events to the local syslog socket (``/dev/log`` by default)."""

    def __init__(self, options: SyslogOptions | None = None) -> None:
        self._options = options or SyslogOptions()
        self.name = f"syslog:{self._options.socket_path}"
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"SyslogTransport({self._options.socket_path!r})"

    def format(self, event: EncodedEvent) -> bytes:
        """The line sent for ``event``: ``<PRI>Mmm dd hh:mm:ss ident[pid]: json``."""
        # A program name may hold spaces ("run job.py"); a space would end the tag
        # early and put the rest in front of the JSON.
        ident = self._options.ident or clean_header_field(default_processname(), 48)
        priority = syslog_priority(self._options.facility, event)
        return rfc3164_header(priority, ident, os.getpid()) + event.payload

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        lines = [self.format(event) for event in batch]
        # Check every size before sending anything, so a batch is never half-sent
        # for that reason.
        for index, line in enumerate(lines):
            if len(line) > self._options.max_message_bytes:
                raise EventTooLargeError(
                    f"event {index} is {len(line)} bytes as a syslog line; "
                    f"{self.name} takes at most {self._options.max_message_bytes}",
                    destination=self.name,
                )
        # One deadline for the whole batch, waiting for the lock included.
        until = time.monotonic() + self._options.timeout
        try:
            with translating(SYSLOG_FAILURES, self.name, detail=os_detail), self._lock:
                for line in lines:
                    self._send_line(line, until)
        except RetryableError as exc:
            if self._options.when_unavailable == "drop":
                raise self._dropped(exc) from exc
            raise

    def close(self) -> None:
        with self._lock:
            self._disconnect()

    def _dropped(self, exc: RetryableError) -> DroppedError:
        message = f"{exc}: events are not reaching syslog (counted as dropped 'unavailable')"
        key = (os.getpid(), self._options.socket_path)
        with _warned_lock:
            first = key not in _warned
            _warned.add(key)
        if first:
            logger.warning("mozdef_client: %s; other destinations, if any, still get them. "
                           "Said once per process.", message)  # fmt: skip
        return DroppedError(message, destination=self.name, reason="unavailable")

    def _send_line(self, line: bytes, until: float) -> None:
        for attempt in (1, 2):
            remaining = until - time.monotonic()
            if remaining <= 0:
                raise self._deadline_error()
            try:
                sock = self._connected()
                sock.settimeout(remaining)
                if sock.type == socket.SOCK_STREAM:
                    sock.sendall(line + b"\n")
                else:
                    sock.send(line)
                return
            except OSError as exc:
                self._disconnect()
                if exc.errno == errno.EMSGSIZE:
                    raise EventTooLargeError(
                        f"{self.name} refused a {len(line)}-byte message as too large",
                        destination=self.name,
                    ) from exc
                if isinstance(exc, TimeoutError):
                    raise self._deadline_error() from exc
                # The daemon may have restarted: reconnect once, then give up
                # (SYSLOG_FAILURES says what the error becomes).
                if attempt == 2:
                    raise

    def _deadline_error(self) -> RetryableError:
        return RetryableError(
            f"{self.name} did not take the events within {self._options.timeout:g} s "
            "(timeout): the syslog daemon is not reading its socket",
            destination=self.name,
        )

    def _connected(self) -> socket.socket:
        if self._socket is not None and self._pid == os.getpid():
            return self._socket
        self._pid = os.getpid()
        path = self._options.socket_path
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EPROTOTYPE:
                raise
            # Some systems run the daemon on a stream socket.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(path)
            except OSError:
                sock.close()
                raise
        self._socket = sock
        return sock

    def _disconnect(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


# (pid, socket path) already warned about: once per process, not per event.
_warned: set[tuple[int, str]] = set()
_warned_lock = threading.Lock()
