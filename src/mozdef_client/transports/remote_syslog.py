"""Remote syslog transport: RFC 5424 (or RFC 3164) messages over UDP, TCP or TLS.

- UDP (RFC 5426): one message per datagram.
- TCP (RFC 6587) and TLS (RFC 5425): octet-counting framing, ``LEN SP MSG``,
  so a message may hold any byte; TLS verifies the server's certificate
  unless told not to.

The message is the event's JSON after the syslog header, with the PRI taken
from the event's severity and the configured facility.

Syslog has no acknowledgement: an event counts as delivered once the socket
took it, so a receiver that goes away can lose what was in flight. Before
each batch a reused TCP or TLS connection is checked for a close from the
server, and replaced if it was closed. Each ``send()`` has a total deadline
(``total_timeout``): a server that takes a batch a byte at a time, or not at
all, cannot hold it longer, since ``timeout`` alone bounds each connect and
each write. Every transport has a size limit;
a message over it raises :class:`EventTooLargeError` and nothing of the
batch is sent: a cut JSON message is useless to MozDef.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._checks import is_number, is_port, is_whole
from ..errors import (
    ConfigurationError,
    DeliveryError,
    EventTooLargeError,
    RetryableError,
)
from ..event import default_hostname, default_processname
from ..severity import Facility
from ._deadline import Deadline, deadline, watch
from ._failures import CATCH_ALL, Rule, batch_error, os_detail, translate, translating
from ._syslog_format import clean_header_field, rfc3164_header, rfc5424_header, syslog_priority
from ._tls import TLSOptions, ssl_context, tls_options_of
from .base import EncodedEvent

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_PORTS",
    "REMOTE_SYSLOG_CONNECT_FAILURES",
    "REMOTE_SYSLOG_FAILURES",
    "UDP_MAX_MESSAGE_BYTES",
    "RemoteSyslogOptions",
    "RemoteSyslogTransport",
]

#: Foreign exceptions of writing to a syslog server (ssl.SSLError is an OSError).
REMOTE_SYSLOG_FAILURES = (
    Rule((OSError,), RetryableError, "could not write to"),
    CATCH_ALL,
)
#: ... and of connecting to it (a host name IDNA cannot encode raises
#: UnicodeError, which the catch-all takes).
REMOTE_SYSLOG_CONNECT_FAILURES = (
    Rule((OSError,), RetryableError, "could not connect to"),
    CATCH_ALL,
)

Protocol = Literal["udp", "tcp", "tls"]
Format = Literal["rfc5424", "rfc3164"]

DEFAULT_PORTS: dict[str, int] = {"udp": 514, "tcp": 514, "tls": 6514}
#: RFC 5426 asks receivers to take 2048-byte datagrams; RFC 5425 asks for 8192.
DEFAULT_MAX_MESSAGE_BYTES: dict[str, int] = {"udp": 2048, "tcp": 8192, "tls": 8192}
#: The largest UDP payload IPv4 can carry.
UDP_MAX_MESSAGE_BYTES = 65507
_STREAM_MAX_MESSAGE_BYTES = 1 << 30


@dataclass(frozen=True, kw_only=True)
class RemoteSyslogOptions:
    """Which syslog server, over what, in which format.

    Args:
        host, port: the server (port 514, or 6514 for TLS).
        protocol: ``"udp"``, ``"tcp"`` or ``"tls"``.
        format: ``"rfc5424"`` (default) or ``"rfc3164"`` (BSD syslog).
        facility: a :class:`Facility`, its name (``"local0"``) or number.
        app_name: APP-NAME / TAG in the header (default: this program's name).
        hostname: HOSTNAME in the header (default: this host's FQDN; its
            first label for RFC 3164, which allows no domain).
        max_message_bytes: the largest message, header included, framing not
            (default 2048 for UDP, at most 65507; 8192 for TCP and TLS).
        timeout: seconds for connecting, the TLS handshake and each write.
        total_timeout: the most seconds one ``send()`` may take in all,
            connecting and every message of the batch (default: twice
            ``timeout``); past it the rest of the batch is not sent and
            :class:`RetryableError` (or :class:`PartialDeliveryError`) says so.
        verify: check the TLS server's certificate and name (on by default).
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        client_cert, client_key: PEM files for mutual TLS.
        server_name: the name to verify the certificate against (default: host).
    """

    host: str
    port: int | None = None
    protocol: Protocol = "udp"
    format: Format = "rfc5424"
    facility: Facility = Facility.USER
    app_name: str | None = None
    hostname: str | None = None
    max_message_bytes: int | None = None
    timeout: float = 10.0
    total_timeout: float | None = None
    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    # Built and checked from the TLS fields above; one value the transports share.
    _tls: TLSOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "facility", Facility.parse(self.facility))
        if not isinstance(self.host, str) or not self.host:
            raise ConfigurationError("syslog host must be a non-empty string")
        if self.protocol not in DEFAULT_PORTS:
            raise ConfigurationError(
                f"syslog protocol must be 'udp', 'tcp' or 'tls', not {self.protocol!r}"
            )
        if self.format not in ("rfc5424", "rfc3164"):
            raise ConfigurationError(
                f"syslog format must be 'rfc5424' or 'rfc3164', not {self.format!r}"
            )
        if self.port is not None and not is_port(self.port):
            raise ConfigurationError("syslog port must be a whole number from 1 to 65535")
        for label in ("app_name", "hostname"):
            value = getattr(self, label)
            if value is not None and (
                not isinstance(value, str) or not value or clean_header_field(value, 255) != value
            ):
                raise ConfigurationError(f"syslog {label} must be printable ASCII without spaces")
        if self.app_name is not None and len(self.app_name) > 48:
            raise ConfigurationError("syslog app_name must be at most 48 characters (RFC 5424)")
        limit = self.max_message_bytes
        highest = UDP_MAX_MESSAGE_BYTES if self.protocol == "udp" else _STREAM_MAX_MESSAGE_BYTES
        if limit is not None and not is_whole(limit, at_least=480, at_most=highest):
            raise ConfigurationError(
                f"max_message_bytes for syslog over {self.protocol} must be a whole number "
                f"from 480 to {highest}"
            )
        if not is_number(self.timeout, above=0):
            raise ConfigurationError("syslog timeout must be a positive number of seconds")
        if self.total_timeout is not None and not is_number(self.total_timeout, above=0):
            raise ConfigurationError("syslog total_timeout must be a positive number of seconds")
        for label in ("ca_bundle", "client_cert", "client_key", "server_name"):
            if getattr(self, label) is not None and self.protocol != "tls":
                raise ConfigurationError(f"syslog {label} needs protocol 'tls'")
        object.__setattr__(self, "_tls", tls_options_of(self))

    @property
    def tls_options(self) -> TLSOptions:
        """The TLS settings (``verify``, ``ca_bundle``, ``client_cert``, ``client_key``)."""
        return self._tls

    @property
    def effective_port(self) -> int:
        """The port, or the protocol's usual one."""
        return self.port if self.port is not None else DEFAULT_PORTS[self.protocol]

    @property
    def effective_max_message_bytes(self) -> int:
        """The size limit, or the protocol's default."""
        if self.max_message_bytes is not None:
            return self.max_message_bytes
        return DEFAULT_MAX_MESSAGE_BYTES[self.protocol]

    @property
    def effective_total_timeout(self) -> float:
        """The total deadline of one ``send()`` in seconds."""
        if self.total_timeout is not None:
            return float(self.total_timeout)
        return 2.0 * float(self.timeout)


class RemoteSyslogTransport:
    """Sends events to a syslog server over UDP, TCP or TLS."""

    def __init__(self, options: RemoteSyslogOptions) -> None:
        self._options = options
        host = f"[{options.host}]" if ":" in options.host else options.host
        self.name = f"syslog+{options.protocol}://{host}:{options.effective_port}"
        self._limit = options.effective_max_message_bytes
        self._context = (
            ssl_context(options.tls_options, "syslog") if options.protocol == "tls" else None
        )
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._pid = os.getpid()

    @property
    def options(self) -> RemoteSyslogOptions:
        """The options this transport was built with."""
        return self._options

    def __repr__(self) -> str:
        return f"RemoteSyslogTransport({self.name!r}, format={self._options.format!r})"

    def format(self, event: EncodedEvent) -> bytes:
        """The syslog message for ``event``, without the transport's framing."""
        options = self._options
        priority = syslog_priority(options.facility, event)
        app_name = options.app_name or clean_header_field(default_processname(), 48)
        if options.format == "rfc3164":
            hostname = options.hostname or clean_header_field(_short(default_hostname()), 255)
            return rfc3164_header(priority, app_name, os.getpid(), hostname) + event.payload
        hostname = options.hostname or clean_header_field(default_hostname(), 255)
        header = rfc5424_header(priority, hostname, app_name, str(os.getpid()))
        return header + event.payload

    def frame(self, message: bytes) -> bytes:
        """``message`` as it goes on the wire: octet-counted on TCP and TLS."""
        if self._options.protocol == "udp":
            return message
        return b"%d %s" % (len(message), message)

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        messages = [self.format(event) for event in batch]
        # Every size is checked before anything is sent, so a batch is never
        # half-sent for that reason.
        for index, message in enumerate(messages):
            if len(message) > self._limit:
                raise EventTooLargeError(
                    f"event {index} is {len(message)} bytes as a syslog message; "
                    f"{self.name} takes at most {self._limit} (max_message_bytes)",
                    destination=self.name,
                )
        if not messages:
            return
        total = self._options.effective_total_timeout
        # The watchdog shuts the socket down at the deadline: a write blocked on
        # a server that does not read (or a TLS handshake it stalls) ends at once.
        with deadline(total) as limit, self._lock:
            with translating(REMOTE_SYSLOG_FAILURES, self.name, detail=os_detail):
                sock = self._connected(limit)
            for index, message in enumerate(messages):
                try:
                    if limit.fired:
                        raise TimeoutError("the total deadline passed")
                    sock.sendall(self.frame(message))
                except OSError as exc:
                    self._disconnect()
                    error = self._deadline_error(limit, index, len(messages)) or translate(
                        REMOTE_SYSLOG_FAILURES, exc, self.name, detail=os_detail(exc)
                    )
                    error.__cause__ = exc
                    # Earlier messages were handed over; this one and the rest were not.
                    failures: dict[int, DeliveryError] = dict.fromkeys(
                        range(index, len(messages)), error
                    )
                    raise batch_error(failures, len(messages), self.name) from exc

    def _deadline_error(
        self, limit: Deadline, sent: int = 0, size: int | None = None
    ) -> RetryableError | None:
        """The error of a batch cut short by its deadline, or None if it was not."""
        if not limit.fired:
            return None
        handed_over = "" if size is None else f"; {sent} of {size} messages were handed over"
        return RetryableError(
            f"{self.name} did not take the batch within the total deadline of "
            f"{self._options.effective_total_timeout:g} s (total_timeout){handed_over}",
            destination=self.name,
        )

    def close(self) -> None:
        with self._lock:
            self._disconnect(graceful=True)

    def _connected(self, limit: Deadline) -> socket.socket:
        if self._pid != os.getpid():
            # A forked child opens its own connection; closing our copy of the
            # parent's socket does not disturb the parent's.
            self._disconnect()
            self._pid = os.getpid()
        if self._socket is not None:
            if self._options.protocol == "udp" or not _peer_closed(self._socket):
                watch(_Watched(self._socket))
                return self._socket
            self._disconnect()
        with translating(
            REMOTE_SYSLOG_CONNECT_FAILURES,
            self.name,
            detail=os_detail,
            # A TLS handshake cut short by the deadline says so.
            decide=lambda _: self._deadline_error(limit),
        ):
            self._socket = self._connect(limit)
        return self._socket

    def _connect(self, limit: Deadline) -> socket.socket:
        options = self._options
        # Connecting waits at most what is left of the deadline.
        timeout = max(0.001, min(options.timeout, limit.at - time.monotonic()))
        address = (options.host, options.effective_port)
        if options.protocol == "udp":
            family, kind, proto, _, target = socket.getaddrinfo(*address, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(options.timeout)
            watch(_Watched(sock))
            try:
                sock.connect(target)
            except OSError:
                sock.close()
                raise
            return sock
        sock = socket.create_connection(address, timeout=timeout)
        sock.settimeout(options.timeout)
        if self._context is None:
            watch(_Watched(sock))  # the writes end at the deadline
            return sock
        try:
            # Wrapping detaches the plain socket: the deadline must watch the
            # TLS one, before its handshake.
            tls = self._context.wrap_socket(
                sock,
                server_hostname=options.server_name or options.host,
                do_handshake_on_connect=False,
            )
        except OSError:
            sock.close()
            raise
        try:
            watch(_Watched(tls))
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        return tls

    def _disconnect(self, graceful: bool = False) -> None:
        sock, self._socket = self._socket, None
        if sock is None:
            return
        if graceful and isinstance(sock, ssl.SSLSocket):
            # Say goodbye in TLS (close_notify), or the server logs the end of
            # the session as an error; never wait long for its answer.
            try:
                sock.settimeout(min(self._options.timeout, 1.0))
                sock = sock.unwrap()
            except (OSError, ValueError):
                pass
        sock.close()


class _Watched:
    """What :func:`watch` puts under the deadline: a holder of the socket."""

    __slots__ = ("sock",)

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the server closed a connection we only ever write to.

    A syslog server sends nothing, so a readable socket means a close (or
    a reset), except on TLS, where session tickets may arrive at any time.
    """
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return sock.recv(4096) == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False  # only TLS housekeeping arrived
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


def _short(hostname: str) -> str:
    """The first label of a domain name (RFC 3164 allows no domain), or an IP address."""
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return hostname.split(".")[0]
    return hostname
