"""The Client: where events are validated, encoded and handed to transports.

Every face of the library (the legacy classes, the logging handler, the CLI)
sends through a Client, so validation, encoding and delivery live here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard, cast

from .config_env import resolve
from .delivery import DeadLetter, Delivery, DeliveryOptions, Mode, Stats, open_delivery
from .destinations import transport_from_url, vulnerability_refusal
from .encoding import encode_document
from .errors import ConfigurationError
from .event import DocumentEvent, Event, Kind
from .routing import is_custom_vulnerability, mark_custom_vulnerability
from .transports.base import EncodedEvent, Transport
from .transports.http import HTTPOptions
from .validation import validate_document, validate_event

__all__ = ["Client", "prepare"]

Destination = str | Transport


def prepare(event: Event | DocumentEvent) -> EncodedEvent:
    """Validate and encode ``event``: after this, nothing about it can fail but delivery.

    Raises:
        ValidationError: the event breaks its kind's rules (names the field).
        EncodingError: a value cannot be encoded as JSON (names the field).
    """
    if type(event) is Event or isinstance(event, Event):
        validate_event(event)
        return EncodedEvent(encode_document(event.document_for_encoding()), event.severity)
    if isinstance(event, DocumentEvent):
        document = event.to_document()
        validate_document(document, event.kind)
        if event.kind is Kind.VULNERABILITY:
            # Marked as MozDef's /custom/vulnerability marks it, so that it is
            # indexed whole whichever wire carries it (see mozdef_client.routing).
            document = mark_custom_vulnerability(document)
        return EncodedEvent(encode_document(document), event.severity)
    raise TypeError(f"send() takes an Event or DocumentEvent, not {type(event).__name__}")


class Client:
    """Sends MozDef events to one or more destinations.

    Args:
        destinations: a destination URL (``https://host/events``,
            ``sqs://queue?region=..``, ``amqps://user@host/vhost``, ``syslog:``,
            ``syslog+tls://host:6514``, ``file:///path``; see
            :mod:`mozdef_client.destinations`), a :class:`Transport`, or a list
            of them. ``None`` reads ``MOZDEF_URL`` (several URLs: comma-separated).
        verify: check TLS certificates (on by default) for HTTPS, AMQPS and
            syslog over TLS.
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        client_cert, client_key: PEM files for mutual TLS.
        headers: extra HTTP headers, e.g. ``{"Authorization": "Bearer ..."}``;
            never shown in ``repr``, logs or errors.
        connect_timeout, read_timeout: HTTP timeouts in seconds.
        total_timeout: the most seconds one HTTP request may take in all
            (default: connect_timeout + read_timeout); past it the request
            fails with a :class:`RetryableError`, however steadily the
            server trickles its answer.
        mode: ``"sync"`` delivers in ``send()`` and raises on failure;
            ``"background"`` queues in memory and returns (a worker thread
            batches, retries and delivers); ``"durable"`` returns once the
            event is committed to the on-disk spool in ``spool_dir``.
        spool_dir: directory of the on-disk spool (durable mode, or the
            ``spill`` overflow policy). Dead letters are kept there too.
        delivery: tuning of the background and durable modes.

    An argument left out (``None``) is read from its ``MOZDEF_*`` variable
    (``MOZDEF_TOKEN``, ``MOZDEF_MODE``, ``MOZDEF_SPOOL_DIR``, ...; the table is
    in :mod:`mozdef_client.config_env`), else takes its default; an argument
    given always wins. ``spool_dir`` expands ``~``.

    Raises:
        ConfigurationError: a destination, option or variable is not valid
            (a variable is named), or ``spool_dir`` is given in sync mode.
    """

    def __init__(
        self,
        destinations: Destination | Sequence[Destination] | None = None,
        *,
        verify: bool | None = None,
        ca_bundle: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        total_timeout: float | None = None,
        mode: Mode | None = None,
        spool_dir: str | None = None,
        delivery: DeliveryOptions | None = None,
    ) -> None:
        if mode is not None and mode not in ("sync", "background", "durable"):
            raise ConfigurationError(
                f"mode must be 'sync', 'background' or 'durable', not {mode!r}"
            )
        settings = resolve(
            destinations_given=destinations is not None,
            headers=headers,
            mode=mode,
            spool_dir=spool_dir,
            ca_bundle=ca_bundle,
            verify=verify,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        http = HTTPOptions(
            verify=settings.verify,
            ca_bundle=settings.ca_bundle,
            client_cert=client_cert,
            client_key=client_key,
            headers=settings.headers,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            total_timeout=total_timeout,
        )
        if destinations is None:
            destinations = settings.destinations or []
        if isinstance(destinations, str) or _is_transport(destinations):
            listed: Sequence[Destination] = [destinations]
        else:
            listed = cast("Sequence[Destination]", destinations)
        self._transports: list[Transport] = [_as_transport(d, http) for d in listed]
        if not self._transports:
            raise ConfigurationError("a Client needs at least one destination")
        # Destinations where MozDef could not index a vulnerability document whole.
        self._refuse_vulnerabilities = [
            reason for t in self._transports if (reason := vulnerability_refusal(t))
        ]
        self.mode: Mode = settings.mode
        self._delivery: Delivery = open_delivery(
            self.mode, self._transports, options=delivery, spool_dir=settings.spool_dir
        )

    def __repr__(self) -> str:
        names = ", ".join(transport.name for transport in self._transports)
        return f"Client([{names}], mode={self.mode!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def destinations(self) -> list[str]:
        """The destinations' names (never with credentials)."""
        return [transport.name for transport in self._transports]

    def send(self, event: Event | DocumentEvent) -> bool:
        """Validate and encode ``event``, then deliver it according to the mode.

        sync: delivers to every destination now (each is tried even when one
        fails) and returns True. background: queues it and returns False only
        when a full queue dropped it (counted in :meth:`stats`). durable:
        returns True once the event is committed to the spool.

        Raises:
            ValidationError: the event is invalid; nothing was sent or queued.
            ConfigurationError: a vulnerability event and a destination that
                cannot carry one so MozDef indexes it (syslog); nothing was sent.
            DeliveryError: sync mode only: a destination did not acknowledge it.
            SpoolError: durable mode only: the spool could not commit it.
        """
        return self.send_encoded(prepare(event))

    def send_encoded(self, event: EncodedEvent) -> bool:
        """Deliver an event that :func:`prepare` already validated and encoded.

        Raises:
            ConfigurationError: a vulnerability event for a destination where
                MozDef cannot index it; nothing was sent.
        """
        if self._refuse_vulnerabilities and is_custom_vulnerability(event.payload):
            raise ConfigurationError(self._refuse_vulnerabilities[0])
        return self._delivery.submit(event)

    def flush(self, timeout: float | None = None) -> int:
        """Wait until queued events are delivered (or settled); returns how many remain.

        ``timeout`` bounds the wait in seconds (``None``: until done).
        """
        return self._delivery.flush(timeout)

    def close(self, timeout: float | None = 5.0) -> int:
        """Deliver what can be delivered within ``timeout``, then stop.

        Returns how many events were left undelivered: lost in background
        mode (and counted as dropped), kept in the spool in durable mode.
        """
        return self._delivery.close(timeout)

    def stats(self) -> Stats:
        """Counters and queue depths, as a snapshot: summed, and per destination.

        ``stats().destinations[name]`` has one destination's counts; the names
        are those of :attr:`destinations`.
        """
        return self._delivery.stats()

    def dead_letters(self) -> list[DeadLetter]:
        """Events a destination refused for good (background and durable modes)."""
        return self._delivery.dead_letters()

    def replay_dead_letters(self) -> int:
        """Queue every dead letter again for its destination; returns how many."""
        return self._delivery.replay_dead_letters()


def _as_transport(destination: Destination, http: HTTPOptions) -> Transport:
    if isinstance(destination, str):
        return transport_from_url(destination, http)
    if _is_transport(destination):
        return destination
    raise ConfigurationError(
        f"a destination is a URL or a Transport, not {type(destination).__name__}"
    )


def _is_transport(value: object) -> TypeGuard[Transport]:
    # Duck typing, not isinstance(value, Transport): a runtime-checkable
    # Protocol check costs more than an HTTP request's worth of parsing.
    return callable(getattr(value, "send", None)) and isinstance(getattr(value, "name", None), str)
