"""TLS settings: one frozen value shared by the HTTP, AMQP and remote syslog
transports, and the client context built from it for the transports that open
their own sockets (AMQP, remote syslog)."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Protocol

from ..errors import ConfigurationError

__all__ = ["TLSOptions", "ssl_context", "tls_options_of"]


@dataclass(frozen=True, kw_only=True)
class TLSOptions:
    """How to check a server's certificate, and which one to show it.

    Args:
        verify: check the server's certificate and name (on by default).
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        client_cert, client_key: PEM files for mutual TLS (the key may be
            in ``client_cert``).

    Raises:
        ConfigurationError: a file is missing, or a key has no certificate;
            the message names the option at fault.
    """

    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    def __post_init__(self) -> None:
        for label in ("ca_bundle", "client_cert", "client_key"):
            path = getattr(self, label)
            if path is not None and not os.path.isfile(path):
                raise ConfigurationError(f"{label} {path!r} is not a readable file")
        if self.client_key is not None and self.client_cert is None:
            raise ConfigurationError("client_key needs client_cert")


class _TLSFields(Protocol):
    """An options class that takes the four TLS settings as its own fields."""

    @property
    def verify(self) -> bool: ...

    @property
    def ca_bundle(self) -> str | None: ...

    @property
    def client_cert(self) -> str | None: ...

    @property
    def client_key(self) -> str | None: ...


def tls_options_of(options: _TLSFields) -> TLSOptions:
    """The checked :class:`TLSOptions` of a transport's options.

    ``HTTPOptions``, ``AMQPOptions`` and ``RemoteSyslogOptions`` keep their
    flat ``verify=...`` keywords (the public API); each builds its value here.
    """
    return TLSOptions(
        verify=options.verify,
        ca_bundle=options.ca_bundle,
        client_cert=options.client_cert,
        client_key=options.client_key,
    )


def ssl_context(options: TLSOptions, what: str) -> ssl.SSLContext:
    """A client context: the system's CAs or ``ca_bundle``, verification on
    unless ``verify`` is false, and the client certificate if one is given.

    Raises:
        ConfigurationError: the certificate files cannot be loaded (``what``
            names the transport in the message).
    """
    try:
        context = ssl.create_default_context(cafile=options.ca_bundle)
        if options.client_cert:
            context.load_cert_chain(options.client_cert, options.client_key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(
            f"cannot load the {what} TLS certificates: {exc.strerror or exc}"
        ) from exc
    if not options.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
