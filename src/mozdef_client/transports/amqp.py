"""RabbitMQ (AMQP 0-9-1) transport, MozDef's ``eventtask`` intake (needs the ``amqp`` extra).

Built on pika's ``BlockingConnection``: pika is small, pure Python and well
kept, and a blocking channel in confirm mode returns from ``basic_publish``
only once the broker confirmed the message, raising when it was returned as
unroutable (``mandatory``) or nacked. That is this library's transport
contract as it stands, with no threads or callbacks of our own. (kombu is
larger and built around consumers.)

Each event is one persistent ``application/json`` message on the durable
direct exchange ``eventtask`` with routing key ``eventtask``, as MozDef's
workers consume them. A confirm is the acknowledgement; a message whose
confirm was lost with the connection may arrive twice after a retry.
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
        for label in ("connect_timeout", "blocked_timeout"):
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


class AMQPTransport:
    """Publishes events to a RabbitMQ exchange with publisher confirms.

    One connection, opened on first use and again after it drops; a send on a
    connection that died mid-publish raises :class:`RetryableError`.
    """

    def __init__(self, options: AMQPOptions | None = None) -> None:
        self._options = options = options or AMQPOptions()
        self._pika = _import_pika()
        scheme = "amqps" if options.tls else "amqp"
        host = f"[{options.host}]" if ":" in options.host else options.host
        self.name = (
            f"{scheme}://{host}:{options.effective_port}/{quote(options.virtual_host, safe='')}"
            f"?exchange={quote(options.exchange)}&routing_key={quote(options.routing_key)}"
        )
        self._parameters = self._connection_parameters()
        self._properties = self._pika.BasicProperties(
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=self._pika.DeliveryMode.Persistent,
        )
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
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
        exceptions = self._pika.exceptions
        options = self._options
        with self._lock:
            channel = self._connected()
            failures: dict[int, DeliveryError] = {}
            for index, event in enumerate(batch):
                try:
                    channel.basic_publish(
                        options.exchange,
                        options.routing_key,
                        event.payload,
                        self._properties,
                        mandatory=True,
                    )
                except exceptions.UnroutableError as exc:
                    # The channel stays usable: the rest of the batch still gets a try.
                    failures[index] = _chained(
                        PermanentError(
                            f"{self.name}: no queue is bound to exchange {options.exchange!r} "
                            f"with routing key {options.routing_key!r}; the event was returned",
                            destination=self.name,
                        ),
                        exc,
                    )
                except exceptions.NackError as exc:
                    # The broker could not take it (e.g. a full queue that rejects publishes).
                    failures[index] = _chained(
                        RetryableError(
                            f"{self.name} refused the event (nack)", destination=self.name
                        ),
                        exc,
                    )
                except Exception as exc:  # every foreign failure, by the table
                    error = self._translate(exc)
                    self._drop()
                    # Nothing after this one was sent.
                    failures.update(dict.fromkeys(range(index, len(batch)), error))
                    break
            if failures:
                raise batch_error(failures, len(batch), self.name)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connected(self) -> BlockingChannel:
        if self._pid != os.getpid():
            # A forked child must not speak on its parent's connection; leave it
            # to the parent rather than closing it.
            self._connection = self._channel = None
            self._pid = os.getpid()
        if self._connection is not None and self._channel is not None:
            try:
                # Read what arrived while idle: a close from the broker, a
                # dropped socket, heartbeats. A connection found dead here is
                # replaced before anything is published on it.
                self._connection.process_data_events(time_limit=0)
                if self._channel.is_open:
                    return self._channel
            except Exception:  # any failure here means: open a new connection
                pass
            self._drop()
        connection: pika.BlockingConnection | None = None
        try:
            connection = self._pika.BlockingConnection(self._parameters)
            channel: BlockingChannel = connection.channel()
            channel.confirm_delivery()
            if self._options.exchange:  # the default exchange "" cannot be declared
                channel.exchange_declare(
                    self._options.exchange,
                    exchange_type=self._pika.exchange_type.ExchangeType.direct,
                    durable=True,
                    passive=self._options.declare == "passive",
                )
        except Exception as exc:  # pika's connector errors are not AMQPErrors
            if connection is not None:
                _close_quietly(connection)
            raise self._translate(exc) from exc
        self._connection, self._channel = connection, channel
        return channel

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
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

    def _connection_parameters(self) -> pika.ConnectionParameters:
        options = self._options
        ssl_options = None
        if options.tls:
            ssl_options = self._pika.SSLOptions(
                ssl_context(options.tls_options, "AMQP"),
                server_hostname=options.server_name or options.host,
            )
        parameters: pika.ConnectionParameters = self._pika.ConnectionParameters(
            host=options.host,
            port=options.effective_port,
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


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except Exception:
        pass  # it is going away; nothing useful to report
