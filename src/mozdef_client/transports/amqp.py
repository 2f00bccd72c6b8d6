"""RabbitMQ (AMQP 0-9-1) transport, MozDef's ``eventtask`` intake (needs the ``amqp`` extra).

Built on pika's ``BlockingConnection`` (small, pure Python, well kept; kombu
is larger and built around consumers). A batch is published whole with the
channel in confirm mode and the ``mandatory`` flag, then its confirms are
awaited together (see :mod:`._amqp_confirms`): one broker round trip and disk
flush per batch, not per event. A return or nack fails only the event it
concerns; a lost connection fails the events not yet confirmed.

Each event is one persistent ``application/json`` message on the durable
direct exchange ``eventtask`` with routing key ``eventtask``, as MozDef's
workers consume them. A confirm is the acknowledgement; a message whose
confirm was lost with the connection may arrive twice after a retry.

Several brokers may serve one destination (``amqp://u@h1,h2:5673,h3/vhost``
or ``AMQPOptions(failover=...)``): when a connection cannot be opened or is
lost, the next broker in the list is tried.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from .._checks import is_number, is_port, is_whole
from ..errors import ConfigurationError, DeliveryError, PermanentError, RetryableError
from ._amqp_confirms import ConfirmedPublisher, Outcome
from ._deadline import deadline, watch
from ._failures import CATCH_ALL, Rule, batch_error, translate
from ._tls import TLSOptions, ssl_context, tls_options_of
from .base import EncodedEvent

if TYPE_CHECKING:
    import pika
    from pika.adapters.blocking_connection import BlockingChannel

__all__ = ["AMQPOptions", "AMQPTransport", "amqp_failures"]

# Channel or connection close codes that retrying cannot fix: access refused,
# not found (no such exchange or vhost), precondition failed (the exchange
# exists with another type), not allowed.
_PERMANENT_CODES = frozenset({403, 404, 406, 530})


@dataclass(frozen=True, kw_only=True)
class AMQPOptions:
    """Where MozDef's RabbitMQ is and how to publish to it.

    Args:
        host, port: the broker (port 5672, or 5671 with ``tls``).
        virtual_host: the vhost MozDef's workers use.
        username, password: credentials; never shown in ``repr``, logs or errors.
        exchange, routing_key: where events go (MozDef: ``eventtask`` both).
        declare: ``"passive"`` checks the exchange exists (no configure
            permission needed); ``"active"`` creates it, durable and direct,
            if it is missing.
        tls: speak AMQPS; the certificate is verified unless ``verify`` is false.
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        client_cert, client_key: PEM files for mutual TLS.
        server_name: the name to verify the certificate against (default: host).
        heartbeat: seconds between AMQP heartbeats (0 turns them off).
        connect_timeout: seconds for the TCP, TLS and AMQP handshakes.
        blocked_timeout: seconds to wait while the broker blocks publishers
            (memory or disk alarm) before giving up with a retryable error.
        confirm_timeout: seconds to wait for a published batch's confirms
            before counting the unconfirmed events as failed (retryable).
        failover: further brokers of the same cluster, ``"host"`` or
            ``"host:port"`` (``"[v6addr]:port"``), tried in turn when one
            cannot be reached or its connection is lost.
    """

    host: str = "localhost"
    port: int | None = None
    virtual_host: str = "/"
    username: str = field(default="guest", repr=False)
    password: str = field(default="guest", repr=False)
    exchange: str = "eventtask"
    routing_key: str = "eventtask"
    declare: Literal["passive", "active"] = "passive"
    tls: bool = False
    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    server_name: str | None = None
    heartbeat: int = 60
    connect_timeout: float = 10.0
    blocked_timeout: float = 30.0
    confirm_timeout: float = 30.0
    failover: tuple[str, ...] = ()
    # Built and checked from the TLS fields above; one value the transports share.
    _tls: TLSOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for label in ("host", "virtual_host", "username", "password", "exchange", "routing_key"):
            if not isinstance(getattr(self, label), str):
                raise ConfigurationError(f"AMQP {label} must be a string")
        if not self.host:
            raise ConfigurationError("AMQP host must not be empty")
        for label in ("exchange", "routing_key"):
            if len(getattr(self, label).encode("utf-8")) > 255:
                raise ConfigurationError(f"AMQP {label} is longer than 255 bytes")
        if self.port is not None and not is_port(self.port):
            raise ConfigurationError("AMQP port must be a whole number from 1 to 65535")
        if self.declare not in ("passive", "active"):
            raise ConfigurationError("AMQP declare must be 'passive' or 'active'")
        if not is_whole(self.heartbeat):
            raise ConfigurationError("AMQP heartbeat must be a whole number of seconds")
        if self.heartbeat < 0:
            raise ConfigurationError("AMQP heartbeat must not be negative")
        if isinstance(self.failover, str) or not isinstance(self.failover, (tuple, list)):
            raise ConfigurationError("AMQP failover must be a list of 'host' or 'host:port'")
        object.__setattr__(self, "failover", tuple(self.failover))
        for entry in self.failover:
            _split_host_port(entry)
        for label in ("connect_timeout", "blocked_timeout", "confirm_timeout"):
            value = getattr(self, label)
            if not is_number(value, above=0):
                raise ConfigurationError(f"AMQP {label} must be a positive number of seconds")
        for label in ("ca_bundle", "client_cert", "client_key", "server_name"):
            value = getattr(self, label)
            if value is not None and not self.tls:
                raise ConfigurationError(f"AMQP {label} needs tls (an amqps:// destination)")
        object.__setattr__(self, "_tls", tls_options_of(self))

    @property
    def tls_options(self) -> TLSOptions:
        """The TLS settings (``verify``, ``ca_bundle``, ``client_cert``, ``client_key``)."""
        return self._tls

    @property
    def effective_port(self) -> int:
        """The port, or the AMQP default for plain or TLS connections."""
        return self.port if self.port is not None else (5671 if self.tls else 5672)

    @property
    def brokers(self) -> tuple[tuple[str, int], ...]:
        """Every broker of the destination as (host, port): ``host`` first, then ``failover``."""
        default = 5671 if self.tls else 5672
        more = [_split_host_port(entry) for entry in self.failover]
        return (
            (self.host, self.effective_port),
            *((host, port if port is not None else default) for host, port in more),
        )


def _split_host_port(entry: object) -> tuple[str, int | None]:
    """``"host"``, ``"host:port"`` or ``"[v6]:port"`` as (host, port or None)."""
    if not isinstance(entry, str) or not entry or entry.startswith(":"):
        raise ConfigurationError("each AMQP failover broker is 'host' or 'host:port'")
    host, port_text = entry, ""
    if entry.startswith("["):
        host, bracket, rest = entry[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigurationError("an IPv6 AMQP failover broker is written '[addr]:port'")
        port_text = rest[1:]
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not is_port(int(port_text)):
        raise ConfigurationError("AMQP failover port must be a whole number from 1 to 65535")
    return host, int(port_text)


class AMQPTransport:
    """Publishes events to a RabbitMQ exchange with publisher confirms.

    One connection at a time, opened on first use and again after it drops,
    to the first broker (of ``host`` and ``failover``) that answers, starting
    after the one that last failed. A send on a connection that died raises
    :class:`RetryableError` for the events not yet confirmed.
    """

    def __init__(self, options: AMQPOptions | None = None) -> None:
        self._options = options = options or AMQPOptions()
        self._pika = _import_pika()
        scheme = "amqps" if options.tls else "amqp"
        hosts = ",".join(
            f"{f'[{host}]' if ':' in host else host}:{port}" for host, port in options.brokers
        )
        self.name = (
            f"{scheme}://{hosts}/{quote(options.virtual_host, safe='')}"
            f"?exchange={quote(options.exchange)}&routing_key={quote(options.routing_key)}"
        )
        self._parameters = [
            self._connection_parameters(host, port) for host, port in options.brokers
        ]
        self._next_broker = 0  # where the next connection attempt starts
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._publisher: ConfirmedPublisher | None = None
        self._pid = os.getpid()

    @property
    def options(self) -> AMQPOptions:
        """The options this transport was built with."""
        return self._options

    def __repr__(self) -> str:
        return f"AMQPTransport({self.name!r})"

    def send(self, batch: Sequence[EncodedEvent]) -> None:
        if not batch:
            return
        with self._lock:
            publisher = self._connected()
            try:
                outcomes = publisher.publish([event.payload for event in batch])
            except Exception as exc:  # every foreign failure, by the table
                # Events confirmed before the failure are delivered; the rest are not.
                error = self._translate(exc)
                outcomes = publisher.outcomes_so_far(len(batch))
                self._drop(failed=True)
                failures = {i: error for i, outcome in enumerate(outcomes) if outcome is not _ACK}
                if failures:
                    raise batch_error(failures, len(batch), self.name)  # noqa: B904 - chained
            failures = {
                index: self._failure(outcome)
                for index, outcome in enumerate(outcomes)
                if outcome is not _ACK
            }
            if failures:
                raise batch_error(failures, len(batch), self.name)

    def close(self) -> None:
        with self._lock:
            self._drop(failed=False)

    def _failure(self, outcome: Outcome) -> DeliveryError:
        options = self._options
        if outcome is Outcome.RETURNED:
            return PermanentError(
                f"{self.name}: no queue is bound to exchange {options.exchange!r} "
                f"with routing key {options.routing_key!r}; the event was returned",
                destination=self.name,
            )
        if outcome is Outcome.NACKED:
            # The broker could not take it (e.g. a full queue that rejects publishes).
            return RetryableError(f"{self.name} refused the event (nack)", destination=self.name)
        return RetryableError(
            f"{self.name} did not confirm the event within {options.confirm_timeout} s; "
            "it may or may not have arrived",
            destination=self.name,
        )

    def _connected(self) -> ConfirmedPublisher:
        exceptions = self._pika.exceptions
        if self._pid != os.getpid():
            # A forked child must not speak on its parent's connection; leave it
            # to the parent rather than closing it.
            self._connection = self._publisher = None
            self._pid = os.getpid()
        if self._connection is not None and self._publisher is not None:
            if self._publisher.is_open and self._publisher.heard_within(_JUST_NOW):
                # Back-to-back batches: the broker confirmed the last one moments
                # ago. Polling first would cost the delivery thread a GIL handoff
                # while the broker idles (up to 5 ms each when the sending thread
                # is busy); a drop in between still fails the batch, retryable.
                return self._publisher
            try:
                # Read what arrived while idle: a close from the broker, a
                # dropped socket, heartbeats. A connection found dead here is
                # replaced before anything is published on it.
                self._connection.process_data_events(time_limit=0)
                if self._publisher.is_open:
                    return self._publisher
            except Exception:  # any failure here means: open a new connection
                pass
            self._drop(failed=True)
        errors: list[BaseException] = []
        count = len(self._parameters)
        for attempt in range(count):
            index = (self._next_broker + attempt) % count
            try:
                publisher = self._open(self._parameters[index])
            except Exception as exc:  # pika's connector errors are not AMQPErrors
                if _is_permanent(exc, exceptions):
                    raise self._translate(exc) from exc
                errors.append(exc)
                continue
            self._next_broker = index
            return publisher
        raise self._translate(errors[0]) from errors[0]

    def _open(self, parameters: pika.ConnectionParameters) -> ConfirmedPublisher:
        connection = self._pika.BlockingConnection(parameters)
        try:
            channel: BlockingChannel = connection.channel()
            if self._options.exchange:  # the default exchange "" cannot be declared
                channel.exchange_declare(
                    self._options.exchange,
                    exchange_type=self._pika.exchange_type.ExchangeType.direct,
                    durable=True,
                    passive=self._options.declare == "passive",
                )
            publisher = ConfirmedPublisher(
                self._pika,
                connection,
                channel,
                exchange=self._options.exchange,
                routing_key=self._options.routing_key,
                confirm_timeout=self._options.confirm_timeout,
            )
        except BaseException:
            _close_quietly(connection)
            raise
        self._connection, self._publisher = connection, publisher
        return publisher

    def _drop(self, *, failed: bool) -> None:
        connection, self._connection, self._publisher = self._connection, None, None
        if failed and len(self._parameters) > 1:
            # Fail over: the next connection starts with the next broker.
            self._next_broker = (self._next_broker + 1) % len(self._parameters)
        if connection is not None:
            _close_quietly(connection)

    def _translate(self, exc: BaseException) -> DeliveryError:
        """Our error for a pika or socket failure (never with credentials)."""
        exceptions = self._pika.exceptions
        error: DeliveryError
        if isinstance(exc, exceptions.ChannelClosedByBroker | exceptions.ConnectionClosedByBroker):
            code, text = exc.reply_code, exc.reply_text
            message = f"{self.name} closed the connection: ({code}) {text}"
            if isinstance(exc, exceptions.ChannelClosedByBroker) and code == 404:
                message = f"{self.name}: {text} (does the exchange exist? see the declare option)"
            error_class = PermanentError if code in _PERMANENT_CODES else RetryableError
            error = error_class(message, destination=self.name)
        elif isinstance(
            exc, exceptions.AuthenticationError | exceptions.ProbableAuthenticationError
        ):
            error = PermanentError(
                f"{self.name} refused the login: check the user name and password",
                destination=self.name,
            )
        elif isinstance(exc, exceptions.ProbableAccessDeniedError):
            error = PermanentError(
                f"{self.name} denied access to the virtual host", destination=self.name
            )
        elif isinstance(exc, exceptions.ConnectionBlockedTimeout):
            error = RetryableError(
                f"{self.name} blocked publishing for over {self._options.blocked_timeout} s "
                "(a memory or disk alarm on the broker)",
                destination=self.name,
            )
        elif isinstance(exc, exceptions.StreamLostError | exceptions.AMQPHeartbeatTimeout):
            error = RetryableError(
                f"connection to {self.name} was lost; the event may or may not have arrived",
                destination=self.name,
            )
        else:
            error = translate(amqp_failures(self._pika), exc, self.name, detail=_describe(exc))
        return _chained(error, exc)

    def _connection_parameters(self, host: str, port: int) -> pika.ConnectionParameters:
        options = self._options
        ssl_options = None
        if options.tls:
            ssl_options = self._pika.SSLOptions(
                ssl_context(options.tls_options, "AMQP"),
                server_hostname=options.server_name or host,
            )
        parameters: pika.ConnectionParameters = self._pika.ConnectionParameters(
            host=host,
            port=port,
            virtual_host=options.virtual_host,
            credentials=self._pika.PlainCredentials(
                options.username, options.password, erase_on_connect=False
            ),
            heartbeat=options.heartbeat,
            blocked_connection_timeout=options.blocked_timeout,
            socket_timeout=options.connect_timeout,
            stack_timeout=options.connect_timeout * 2,
            connection_attempts=1,
            ssl_options=ssl_options,
            client_properties={"connection_name": "mozdef-client"},
        )
        return parameters


def amqp_failures(pika: Any) -> tuple[Rule, ...]:
    """pika's and the socket's exceptions, and what they become (first match).

    ``AMQPTransport._translate`` words some of them better, and decides a
    close by the broker (an AMQPError here) by its reply code instead.
    """
    from pika.adapters.utils import connection_workflow as workflow

    exceptions = pika.exceptions
    return (
        Rule((exceptions.UnroutableError,), PermanentError, "no queue takes the events at"),
        Rule((exceptions.NackError,), RetryableError, "the event was refused (nack) by"),
        Rule(
            (
                exceptions.AuthenticationError,
                exceptions.ProbableAuthenticationError,
                exceptions.ProbableAccessDeniedError,
            ),
            PermanentError,
            "the login or virtual host was refused by",
        ),
        Rule((exceptions.ConnectionBlockedTimeout,), RetryableError, "publishing blocked by"),
        Rule(
            (exceptions.StreamLostError, exceptions.AMQPHeartbeatTimeout),
            RetryableError,
            "lost the connection to",
        ),
        # The connection workflow's own errors (a handshake past stack_timeout
        # raises AMQPConnectorStackTimeout) are not AMQPErrors.
        Rule((workflow.AMQPConnectorException,), RetryableError, "could not connect to"),
        Rule((exceptions.AMQPError,), RetryableError, "could not talk to"),
        Rule((OSError,), RetryableError, "could not talk to"),
        CATCH_ALL,
    )


_ACK = Outcome.ACKED

#: Seconds after a fully confirmed batch during which the next one skips the
#: idle-connection check (see ``AMQPTransport._connected``).
_JUST_NOW = 0.05


def _is_permanent(exc: BaseException, exceptions: Any) -> bool:
    """A failure another broker of the same cluster would answer alike (login, vhost, exchange)."""
    if isinstance(exc, exceptions.ChannelClosedByBroker | exceptions.ConnectionClosedByBroker):
        return exc.reply_code in _PERMANENT_CODES
    return isinstance(
        exc,
        exceptions.AuthenticationError
        | exceptions.ProbableAuthenticationError
        | exceptions.ProbableAccessDeniedError,
    )


def _import_pika() -> Any:
    try:
        import pika
    except ImportError as exc:
        raise ConfigurationError(
            "AMQP delivery needs pika: pip install 'mozdef-client[amqp]'"
        ) from exc
    return pika


def _chained(error: DeliveryError, cause: BaseException) -> DeliveryError:
    # Errors are raised later, from outside the except block: chain them as
    # `raise ... from cause` would.
    error.__cause__ = cause
    return error


def _describe(exc: BaseException) -> str:
    # pika's connection errors wrap the socket or TLS error that caused them,
    # in args or in an ``exception`` attribute, sometimes twice.
    for _ in range(4):
        inner = getattr(exc, "exception", None)
        if not isinstance(inner, BaseException):
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        if inner is None:
            break
        exc = inner
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


#: pika waits for the broker's Close-Ok without end; a broker that stopped
#: answering (one that never confirms) would hold close() for good.
_CLOSE_TIMEOUT = 2.0


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            # Past the deadline the watchdog shuts the socket down: pika sees
            # the end of the stream and the close is over.
            with deadline(_CLOSE_TIMEOUT):
                watch(_PikaSocket(connection))
                connection.close()
    except Exception:
        pass  # it is going away; nothing useful to report


class _PikaSocket:
    """The socket under a pika connection, for the deadline watchdog."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection

    @property
    def sock(self) -> object:
        transport = getattr(getattr(self._connection, "_impl", None), "_transport", None)
        return getattr(transport, "_sock", None)
