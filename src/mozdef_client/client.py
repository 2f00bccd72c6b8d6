"""The Client: where events are validated, encoded and handed to transports.

Every face of the library (the legacy classes, the logging handler, the CLI)
sends through a Client, so validation, encoding and delivery live here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .destinations import transport_from_url, url_from_environment
from .encoding import encode_document
from .errors import ConfigurationError, DeliveryError
from .event import DocumentEvent, Event
from .transports.base import EncodedEvent, Transport
from .transports.http import HTTPOptions
from .validation import validate_document

__all__ = ["Client", "prepare"]

Destination = str | Transport


def prepare(event: Event | DocumentEvent) -> EncodedEvent:
    """Validate and encode ``event``: after this, nothing about it can fail but delivery.

    Raises:
        ValidationError: the event breaks its kind's rules (names the field).
        EncodingError: a value cannot be encoded as JSON (names the field).
    """
    if not isinstance(event, (Event, DocumentEvent)):
        raise TypeError(f"send() takes an Event or DocumentEvent, not {type(event).__name__}")
    document = event.to_document()
    validate_document(document, event.kind)
    return EncodedEvent(encode_document(document), event.severity)


class Client:
    """Sends MozDef events to one or more destinations.

    Args:
        destinations: a destination URL (``https://host/events``,
            ``sqs://queue?region=..``, ``syslog:``, ``file:///path``), a
            :class:`Transport`, or a list of them. ``None`` reads ``MOZDEF_URL``.
        verify: check HTTPS certificates (on by default).
        ca_bundle: a PEM file of CAs to trust for HTTPS.
        client_cert, client_key: PEM files for mutual TLS.
        headers: extra HTTP headers, e.g. ``{"Authorization": "Bearer ..."}``;
            never shown in ``repr``, logs or errors.
        connect_timeout, read_timeout: HTTP timeouts in seconds.

    Raises:
        ConfigurationError: a destination or option is not valid.
    """

    def __init__(
        self,
        destinations: Destination | Sequence[Destination] | None = None,
        *,
        verify: bool = True,
        ca_bundle: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        http = HTTPOptions(
            verify=verify,
            ca_bundle=ca_bundle,
            client_cert=client_cert,
            client_key=client_key,
            headers=headers or {},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        if destinations is None:
            destinations = url_from_environment()
        if isinstance(destinations, (str, Transport)):
            destinations = [destinations]
        self._transports: list[Transport] = [_as_transport(d, http) for d in destinations]
        if not self._transports:
            raise ConfigurationError("a Client needs at least one destination")

    def __repr__(self) -> str:
        names = ", ".join(transport.name for transport in self._transports)
        return f"Client([{names}])"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def destinations(self) -> list[str]:
        """The destinations' names (never with credentials)."""
        return [transport.name for transport in self._transports]

    def send(self, event: Event | DocumentEvent) -> None:
        """Validate, encode and deliver ``event`` to every destination now.

        Every destination is tried even when one fails.

        Raises:
            ValidationError: the event is invalid; nothing was sent.
            DeliveryError: a destination did not acknowledge the event.
        """
        self.send_encoded(prepare(event))

    def send_encoded(self, event: EncodedEvent) -> None:
        """Deliver an event that :func:`prepare` already validated and encoded."""
        errors: list[DeliveryError] = []
        for transport in self._transports:
            try:
                transport.send([event])
            except DeliveryError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise DeliveryError(
                f"{len(errors)} destinations failed: " + "; ".join(str(e) for e in errors)
            ) from errors[0]

    def close(self) -> None:
        """Release the transports' connections."""
        for transport in self._transports:
            transport.close()


def _as_transport(destination: Destination, http: HTTPOptions) -> Transport:
    if isinstance(destination, str):
        return transport_from_url(destination, http)
    if isinstance(destination, Transport):
        return destination
    raise ConfigurationError(
        f"a destination is a URL or a Transport, not {type(destination).__name__}"
    )
